"""Operator commands: check the wiring, inspect one contact, backfill existing contacts."""

from connector.ops.backfill import run_backfill
from connector.ops.bulk_backfill import run_import_backfill
from connector.ops.check import run_check
from connector.ops.status import run_status

__all__ = ["run_backfill", "run_check", "run_import_backfill", "run_status"]
