"""A local Resend: a real HTTP server on loopback that answers like Resend's API.

See server.py for the inspection API, state.py for the rules, faults.py for what can be injected.
Standalone: ``resend-connector emulator --port 8025 --api-key re_demo`` (or ``python -m connector.emulator``).
"""

from connector.emulator.__main__ import main
from connector.emulator.faults import Faults
from connector.emulator.inspector import EmulatorInspector
from connector.emulator.server import EmulatorServer

__all__ = ["EmulatorInspector", "EmulatorServer", "Faults", "main"]
