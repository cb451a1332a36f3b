"""rpm's own EVR comparison, for test oracles: `rpm.vercmp` in rpm's embedded Lua (Debian's rpm package)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable


def rpm_vercmp(pairs: Iterable[tuple[str, str]]) -> list[int]:
    """-1, 0 or 1 for each (a, b), as `rpm.vercmp(a, b)` orders the two [epoch:]version[-release] strings."""
    pairs = list(pairs)
    if not pairs:
        return []
    rpm = shutil.which("rpm")
    assert rpm, "Debian's rpm is required (scripts/install.sh installs it)"
    calls = " ".join(f"print(rpm.vercmp({json.dumps(a)}, {json.dumps(b)})..'\\n')" for a, b in pairs)
    done = subprocess.run([rpm, "--eval", f"%{{lua: {calls}}}"], capture_output=True, text=True, check=True)
    return [int(line) for line in done.stdout.split()]
