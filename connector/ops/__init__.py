"""Operator commands: check the wiring, inspect contacts, backfill existing contacts, end a pause."""

from connector.ops.backfill import run_backfill
from connector.ops.bulk_backfill import run_import_backfill
from connector.ops.check import run_check
from connector.ops.resume import run_resume
from connector.ops.status import StatusQuery, run_status

__all__ = ["StatusQuery", "run_backfill", "run_check", "run_import_backfill", "run_resume", "run_status"]
