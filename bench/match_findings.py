"""A/B guard for matching changes: bench/match.py's 10,000 packages matched against each feed DB given, every
Finding written as its repr, sorted, one a line. Run it before and after a change and compare the files.

    .venv/bin/python bench/match_findings.py OUT_DIR DB [DB ...]       # OUT_DIR/<n>.txt for the n-th DB
    .venv/bin/python bench/match_findings.py --compare BEFORE_DIR AFTER_DIR

Findings must be identical: a speed-up that changes one finding is a bug.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from crscan.match import match
from crscan.vulndb import FeedDB
from match import BOOKWORM, draw_packages


def dump(out: Path, databases: list[Path]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for number, path in enumerate(databases):
        with FeedDB.open(path) as db:
            found = match(draw_packages(db, 10_000), BOOKWORM, db)
        lines = sorted(repr(finding) for finding in found)
        (out / f"{number}.txt").write_text("".join(line + "\n" for line in lines))
        print(f"{path}: {len(lines)} findings -> {out / f'{number}.txt'}")


def compare(before: Path, after: Path) -> int:
    names = sorted(p.name for p in before.glob("*.txt"))
    differing = [name for name in names if (before / name).read_text() != (after / name).read_text()]
    for name in names:
        print(f"{name}: {'DIFFERENT' if name in differing else 'identical'}")
    return 1 if differing or not names else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", action="store_true", help="compare two output directories")
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args()
    if args.compare:
        if len(args.paths) != 2:
            parser.error("--compare takes BEFORE_DIR AFTER_DIR")
        return compare(*args.paths)
    if len(args.paths) < 2:
        parser.error("give OUT_DIR and at least one feed DB")
    dump(args.paths[0], args.paths[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
