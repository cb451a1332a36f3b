"""The tables in fixtures/, each naming on its first line the upstream repository, path and commit (or the
tool) its facts come from; the scheme is the file name's first word. `*-normalized.tsv`: INPUT<TAB>NORMALIZED;
every other `*.tsv`: A<TAB>B<TAB>expected (-1, 0, 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crscan import versions

FIXTURES = Path(__file__).parent / "fixtures"
PAIR_FILES = sorted(path for path in FIXTURES.glob("*.tsv") if not path.stem.endswith("-normalized"))


def _rows(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines and lines[0].startswith("# "), f"{path.name} must name its source on the first line"
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    assert rows, f"{path.name} has no cases"
    return rows


def pair_cases(path: Path) -> list[tuple[str, str, int]]:
    return [(a, b, int(expected)) for a, b, expected in _rows(path)]


def normalized_cases(path: Path) -> list[tuple[str, str]]:
    return [(text, normalized) for text, normalized in _rows(path)]


@pytest.mark.parametrize("path", PAIR_FILES, ids=[path.stem for path in PAIR_FILES])
def test_compare_agrees_with_every_fixture_pair(path):
    scheme = path.stem.split("-")[0]
    failures = []
    for a, b, expected in pair_cases(path):
        got, reverse = versions.compare(scheme, a, b), versions.compare(scheme, b, a)
        if (got, reverse) != (expected, -expected):
            failures.append(f"{a!r} vs {b!r}: expected {expected}, got {got} (reversed {reverse})")
    assert not failures, f"{len(failures)} disagreements:\n" + "\n".join(failures[:50])


def test_composer_normalizes_like_version_parser():
    failures = [
        f"{text!r}: expected {normalized!r}, got {versions.parse('composer', text).normalized!r}"
        for text, normalized in normalized_cases(FIXTURES / "composer-normalized.tsv")
        if versions.parse("composer", text).normalized != normalized
    ]
    assert not failures, "\n".join(failures)
