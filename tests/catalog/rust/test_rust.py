"""Rust: a real Cargo.lock, and ELF binaries carrying cargo-auditable's `.dep-v0` section."""

from __future__ import annotations

import json
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from crscan.catalog.catalogers import RUST
from crscan.model import Ecosystem
from tests.catalog.helpers import file, image_files

TESTDATA = Path(__file__).parent / "testdata"
LOCK = "/usr/src/wav_reader/Cargo.lock"
# cargo-auditable's format: the root crate is "local", build-time dependencies are kind "build".
AUDIT = {"packages": [
    {"name": "ripgrep", "version": "14.1.0", "source": "local", "dependencies": [1, 2], "root": True},
    {"name": "regex", "version": "1.10.2", "source": "crates.io", "dependencies": [2]},
    {"name": "memchr", "version": "2.7.1", "source": "crates.io"},
    {"name": "cc", "version": "1.0.83", "source": "crates.io", "kind": "build"},
]}


def test_cargo_lock_registry_crates():
    result = RUST.catalog(image_files(TESTDATA))
    assert result.warnings == ()
    got = {(p.name, p.version) for p in result.packages}
    assert len(got) == 17 and ("wav_reader", "0.1.0") not in got  # the project itself has no source
    assert {("textplots", "0.8.7"), ("rgb", "0.8.53"), ("windows-sys", "0.59.0")} <= got
    textplots = next(p for p in result.packages if p.name == "textplots")
    assert (textplots.purl, textplots.path, textplots.ecosystem) == ("pkg:cargo/textplots@0.8.7", LOCK, Ecosystem.CARGO)


@pytest.fixture(scope="module")
def auditable_binary(tmp_path_factory) -> bytes:
    if shutil.which("objcopy") is None:
        pytest.skip("needs binutils' objcopy")
    work = tmp_path_factory.mktemp("rust")
    (work / "dep-v0").write_bytes(zlib.compress(json.dumps(AUDIT).encode()))
    subprocess.run(["objcopy", "--add-section", f".dep-v0={work / 'dep-v0'}", "/bin/true", str(work / "rg")],
                   check=True)
    return (work / "rg").read_bytes()


def test_auditable_binary_runtime_dependencies(auditable_binary):
    cataloger = RUST
    assert cataloger.wants("/usr/bin/rg", 0o755, len(auditable_binary))
    result = cataloger.catalog({"/usr/bin/rg": file("/usr/bin/rg", auditable_binary, mode=0o755),
                                "/bin/true": file("/bin/true", Path("/bin/true").read_bytes(), mode=0o755)})
    assert result.warnings == ()
    assert [(p.name, p.version, p.path) for p in result.packages] == [
        ("regex", "1.10.2", "/usr/bin/rg"), ("memchr", "2.7.1", "/usr/bin/rg")]
    assert {p.package_type for p in result.packages} == {"rustbinary"}  # Trivy's name; Cargo.lock is "cargo"


def test_bad_audit_section_and_bad_lockfile_are_warnings(auditable_binary, tmp_path):
    at = auditable_binary.index(zlib.compress(json.dumps(AUDIT).encode())[:8])
    broken = auditable_binary[:at] + b"\0" * 8 + auditable_binary[at + 8:]
    files = {"/usr/bin/rg": file("/usr/bin/rg", broken, mode=0o755),
             "/src/Cargo.lock": file("/src/Cargo.lock", "[[package]\nname = 'x'\n")}
    result = RUST.catalog(files)
    assert result.packages == ()
    assert sorted(w.split(":")[0] for w in result.warnings) == ["/src/Cargo.lock", "/usr/bin/rg"]
    assert "not a valid Cargo.lock" in result.warnings[0] and ".dep-v0 is not zlib data" in result.warnings[1]


def test_audit_zip_bomb_is_bounded(tmp_path):
    bomb = zlib.compress(b"[" + b" " * (10 * 1024 * 1024), 9)  # 10 MiB of JSON from ~10 KiB
    (tmp_path / "bomb").write_bytes(bomb)
    if shutil.which("objcopy") is None:
        pytest.skip("needs binutils' objcopy")
    subprocess.run(["objcopy", "--add-section", f".dep-v0={tmp_path / 'bomb'}", "/bin/true", str(tmp_path / "b")],
                   check=True)
    result = RUST.catalog({"/b": file("/b", (tmp_path / "b").read_bytes(), mode=0o755)})
    assert result.packages == () and "inflates beyond" in result.warnings[0]


@pytest.mark.parametrize("lock", [b"x = " + b"[" * 100_000 + b"]" * 100_000, b"x = " + b"{a=" * 3000 + b"1" + b"}" * 3000])
def test_deeply_nested_cargo_lock_is_a_warning(lock):
    result = RUST.catalog({"/src/Cargo.lock": file("/src/Cargo.lock", lock)})
    assert result.packages == () and result.warnings == ("/src/Cargo.lock: not a valid Cargo.lock: nested too deeply",)
