"""The type checker and the linter pass on the tree, with the settings in pyproject.toml ([tool.mypy], [tool.ruff]).

Both are test dependencies, so a missing one is a failure, not a skip.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(tool: str, *args: str) -> None:
    if importlib.util.find_spec(tool) is None:
        pytest.fail(f"{tool} is not installed; it is a test dependency: pip install -e '.[test]'")
    result = subprocess.run([sys.executable, "-m", tool, *args], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"{tool} {' '.join(args)} failed:\n{result.stdout}{result.stderr}"


def test_mypy_passes_on_src():
    _run("mypy")  # files, strictness and per-module exceptions: [tool.mypy]


def test_ruff_passes_on_src_and_tests():
    _run("ruff", "check", "src", "tests")
