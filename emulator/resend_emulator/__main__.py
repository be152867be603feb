"""``python -m resend_emulator``: see resend_emulator.standalone."""

import sys

from resend_emulator.standalone import main

sys.exit(main())
