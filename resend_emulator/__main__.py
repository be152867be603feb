"""``python -m connector.emulator``: see connector.emulator.standalone."""

import sys

from connector.emulator.standalone import main

sys.exit(main())
