"""The hash-pinned locks (scripts/lock.sh) cover pyproject.toml: a dependency added without a lock refresh fails here."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
RUNTIME_LOCK = REPO / "requirements/runtime.lock"
TEST_LOCK = REPO / "requirements/test.lock"
# The one target the locks are resolved for (scripts/lock.sh): CPython 3.11 on Linux x86_64.
TARGET = {"python_version": "3.11", "python_full_version": "3.11.2", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
          "implementation_name": "cpython", "platform_python_implementation": "CPython"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def read_lock(path: Path) -> dict[str, tuple[Version, int]]:
    """Canonical name → (pinned version, number of --hash options) for each entry of a pip requirements lock."""
    entries: dict[str, tuple[Version, int]] = {}
    name = ""
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match[1])
            entries[name] = (Version(match[2].rstrip("\\").strip()), 0)
        elif line.strip().startswith("--hash=sha256:") and name:
            version, hashes = entries[name]
            entries[name] = (version, hashes + 1)
    return entries


def unmet(requirements: list[str], lock: dict[str, tuple[Version, int]], extra: str = "") -> list[str]:
    """The requirements (for the target) that the lock does not satisfy, each with the reason."""
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({**TARGET, "extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        if name not in lock:
            problems.append(f"{text}: not in the lock")
        elif not requirement.specifier.contains(lock[name][0], prereleases=True):
            problems.append(f"{text}: lock pins {lock[name][0]}")
        else:
            problems.extend(unmet_extras(requirement, lock))
    return problems


def unmet_extras(requirement: Requirement, lock: dict[str, tuple[Version, int]]) -> list[str]:
    """What `pkg[extra]` adds, read from the installed package's metadata (the locked venv has it; no network)."""
    requires = (metadata.requires(requirement.name) or []) if requirement.extras else []
    conditional = [text for text in requires if Requirement(text).marker]
    return [f"{requirement}: {problem}" for extra in sorted(requirement.extras)
            for problem in unmet(conditional, lock, extra)]


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_runtime_lock_satisfies_the_dependencies():
    assert unmet(project()["dependencies"], read_lock(RUNTIME_LOCK)) == []


def test_test_lock_satisfies_the_dependencies_and_every_extra():
    lock = read_lock(TEST_LOCK)
    assert unmet(project()["dependencies"], lock) == []
    for extra, requirements in project().get("optional-dependencies", {}).items():
        assert unmet(requirements, lock, extra) == [], extra


def test_runtime_lock_pins_what_the_tests_run_on():
    runtime, test = read_lock(RUNTIME_LOCK), read_lock(TEST_LOCK)
    assert runtime and set(runtime) <= set(test)
    assert {name: pin[0] for name, pin in runtime.items() if pin[0] != test[name][0]} == {}


def test_every_pin_carries_hashes():
    for lock in (RUNTIME_LOCK, TEST_LOCK):
        assert [name for name, (_, hashes) in read_lock(lock).items() if hashes == 0] == [], lock.name


def test_a_dependency_added_without_a_refresh_is_caught():
    lock = read_lock(TEST_LOCK)
    pinned_name, (pinned, _) = next(iter(lock.items()))
    assert unmet(["crscan-not-a-real-dependency>=1"], lock) == ["crscan-not-a-real-dependency>=1: not in the lock"]
    assert unmet([f"{pinned_name}>{pinned}"], lock) == [f"{pinned_name}>{pinned}: lock pins {pinned}"]
    assert unmet([f"{pinned_name}=={pinned}"], lock) == []
    assert unmet(["crscan-not-a-real-dependency>=1; sys_platform == 'win32'"], lock) == []
    # An extra's own dependencies count: psycopg[binary] needs psycopg-binary in the lock too.
    without_binary = {name: pin for name, pin in lock.items() if name != "psycopg-binary"}
    assert unmet(["psycopg[binary]>=3.1"], lock) == []
    assert unmet(["psycopg[binary]>=3.1"], without_binary)[0].startswith("psycopg[binary]>=3.1: psycopg-binary")
