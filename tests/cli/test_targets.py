"""How a scan target argument is read (crscan.cli.targets): the ambiguous cases docs/cli.md decides."""

from __future__ import annotations

import tarfile

import pytest

from crscan.cli.interface import CliError
from crscan.cli.targets import Kind, resolve


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "alpine").mkdir()                      # a plain directory named like a Docker Hub image
    (tmp_path / "alpine:3.19").mkdir()                 # even one spelled with its tag
    (tmp_path / "layout").mkdir()
    (tmp_path / "layout/oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (tmp_path / "root/etc").mkdir(parents=True)
    (tmp_path / "root/etc/os-release").write_text("ID=debian\n")
    with tarfile.open(tmp_path / "both", "w") as tar:   # Docker >= 25 `docker save`: both manifests
        for name in ("manifest.json", "index.json", "oci-layout"):
            (tmp_path / name).write_text("{}")
            tar.add(tmp_path / name, arcname=name)
    (tmp_path / "bom").write_text('  {"bomFormat": "CycloneDX"}')
    return tmp_path


@pytest.mark.parametrize(("argument", "kind", "value"), [
    ("alpine:3.19", Kind.REGISTRY, "alpine:3.19"),       # a ':' keeps it a reference, beside a path of that name
    ("alpine", Kind.DIRECTORY, "alpine"),                # exists, no ':': the local path wins (with a note)
    ("ubuntu", Kind.REGISTRY, "ubuntu"),                 # does not exist: a reference
    ("library/ubuntu", Kind.REGISTRY, "library/ubuntu"),
    ("127.0.0.1:5000/app:1", Kind.REGISTRY, "127.0.0.1:5000/app:1"),
    ("./alpine", Kind.DIRECTORY, "alpine"),              # ./ is always a path
    ("layout", Kind.OCI, "layout"),
    ("root", Kind.ROOTFS, "root"),                       # a directory with an os-release is a root filesystem
    ("both", Kind.OCI, "both"),                          # OCI wins when the tar is both
    ("bom", Kind.SBOM, "bom"),
    ("dir:alpine:3.19", Kind.DIRECTORY, "alpine:3.19"),  # an explicit prefix takes the rest as the path
    ("oci:layout:1", Kind.OCI, "layout:1"),              # `oci:PATH:tag` stays for open_source to split
    ("docker-archive:x.tar", Kind.DOCKER_ARCHIVE, "x.tar"),  # checked when opened
    ("sbom:bom", Kind.SBOM, "bom"),
])
def test_resolve(cwd, argument, kind, value):
    target = resolve(argument)
    assert (target.kind, target.value) == (kind, value)
    prefixed = argument.startswith(tuple(k.value for k in Kind if k.value))
    assert target.detected == (kind is not Kind.REGISTRY and not prefixed)


@pytest.mark.parametrize(("argument", "message"), [
    ("app.tar", "app.tar: no such file or directory"),   # a tar suffix is a path even when missing
    ("../gone", "../gone: no such file or directory"),
    ("dir:missing", "dir:missing: no such directory"),
    ("rootfs:bom", "rootfs:bom: not a directory"),
    ("dir:", "dir: names no path"),
    ("", "empty scan target"),
])
def test_resolve_errors(cwd, argument, message):
    with pytest.raises(CliError, match="^" + message.replace(".", r"\.")):
        resolve(argument)
