"""Scan policies: push rules (`scan_on_push`) and scheduled rescans (`Scheduler`)."""

from crscan.policies.interface import PolicyError
from crscan.policies.rules import due_for_rescan, scan_on_push, selects
from crscan.policies.scheduler import Scheduler, rescan_due

__all__ = ["PolicyError", "Scheduler", "due_for_rescan", "rescan_due", "scan_on_push", "selects"]
