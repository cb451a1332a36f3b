"""The pair tables in fixtures/: `A<TAB>B<TAB>expected` (-1, 0, 1), each file naming at its top the upstream
repository, path and commit (or the tool) the facts come from. The scheme is the file name's first word."""

from __future__ import annotations

from pathlib import Path

import pytest

from crscan import versions

FIXTURES = Path(__file__).parent / "fixtures"
PAIR_FILES = sorted(FIXTURES.glob("*.tsv"))


def pair_cases(path: Path) -> list[tuple[str, str, int]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines and lines[0].startswith("# "), f"{path.name} must name its source on the first line"
    cases = []
    for line in lines:
        if line.startswith("#") or not line:
            continue
        a, b, expected = line.split("\t")
        cases.append((a, b, int(expected)))
    assert cases, f"{path.name} has no cases"
    return cases


@pytest.mark.parametrize("path", PAIR_FILES, ids=[path.stem for path in PAIR_FILES])
def test_compare_agrees_with_every_fixture_pair(path):
    scheme = path.stem.split("-")[0]
    failures = []
    for a, b, expected in pair_cases(path):
        got, reverse = versions.compare(scheme, a, b), versions.compare(scheme, b, a)
        if (got, reverse) != (expected, -expected):
            failures.append(f"{a!r} vs {b!r}: expected {expected}, got {got} (reversed {reverse})")
    assert not failures, f"{len(failures)} disagreements:\n" + "\n".join(failures[:50])
