"""Scan policies: which images of a registry are scanned on push and rescanned on a schedule."""

from __future__ import annotations


class PolicyError(ValueError):
    """A scan policy or one of its rules is malformed; the message names the field and what is allowed."""
