"""The CLI's one error type: raised by any verb, printed by `crscan.cli.main` as one line, exit status 2."""

from __future__ import annotations


class CliError(Exception):
    """A failure the user can act on; the message is the line printed after `crscan <verb>: error: `."""
