"""`crscan scan` / `crscan sbom` targets through the real entry point: bare paths read by their content, `dir:` and
`rootfs:` filesystems, the table's per-file targets and paths, OS warnings, registry retries and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from tests.registry.test_local_sources import docker_archive, tar_of
from tests.support.images import OciLayout, write_synthetic_image
from tests.vulndb.support import shared_feed_db

CRSCAN = Path(sys.executable).with_name("crscan")
SITE = "usr/lib/python3/dist-packages"
VENV_SITE = "opt/venv/lib/python3.11/site-packages"
DEBIAN_12 = b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'


def metadata(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()


@pytest.fixture(scope="module")
def feeds(tmp_path_factory, shared_data) -> Path:
    return shared_feed_db(tmp_path_factory, shared_data)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    return {**os.environ, "CRSCAN_DATA_DIR": str(tmp_path_factory.mktemp("data")), "NO_COLOR": "1"}


def crscan(env: dict, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(CRSCAN), *args], capture_output=True, text=True, env=env, timeout=300, cwd=cwd)


def scan_json(env: dict, feeds: Path, target: str, cwd: Path | None = None) -> tuple[dict, str]:
    done = crscan(env, "scan", target, "--db", str(feeds), "--format", "json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def packages(report: dict) -> set[tuple[str, str, str, str]]:
    return {(p["ecosystem"], p["name"], p["version"], p["path"]) for p in report["packages"]}


# --- bare paths --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app_files() -> dict[str, bytes]:
    return {f"{SITE}/urllib3-1.24.1.dist-info/METADATA": metadata("urllib3", "1.24.1"), "etc/hostname": b"app\n"}


@pytest.fixture(scope="module")
def local_images(tmp_path_factory, app_files) -> Path:
    """One image three ways in one directory: a docker save tar, an OCI layout directory and that layout as a tar."""
    work = tmp_path_factory.mktemp("bare")
    docker_archive(work / "app.tar", {"app:1": app_files})
    layout = OciLayout(work / "layout")
    (layout.path / "blobs/sha256").mkdir(parents=True)
    (layout.path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout.path / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    write_synthetic_image(layout, "1", app_files)
    with tarfile.open(work / "layout-archive", "w") as tar:  # no .tar suffix: the content alone says OCI
        for child in sorted(layout.path.iterdir()):
            tar.add(child, arcname=child.name)
    return work


@pytest.mark.parametrize(("argument", "kind"), [
    ("app.tar", "docker-archive:"),            # ends in .tar: a path, whatever the cwd holds
    ("./layout", "oci:"),                      # ./: a path; its oci-layout file makes it a layout
    ("layout", "oci:"),                        # exists and has no ':': the local path wins
    ("layout-archive", "oci:"),                # a tar with oci-layout/index.json members
])
def test_a_bare_path_is_scanned_as_what_its_content_is(env, feeds, local_images, argument, kind):
    report, stderr = scan_json(env, feeds, argument, cwd=local_images)
    assert report["image"] == kind + argument.removeprefix("./")
    assert stderr.splitlines()[0] == f"note: scanning {argument} as {report['image']}"
    assert ("pip", "urllib3", "1.24.1", f"/{SITE}/urllib3-1.24.1.dist-info/METADATA") in packages(report)
    assert {f["package"] for f in report["findings"]} == {"urllib3"}


def test_the_real_docker_save_archive_as_a_bare_absolute_path(env, feeds, built_images):
    archive = built_images["bookworm"].docker_archive
    assert archive is not None
    report, _ = scan_json(env, feeds, str(archive))
    assert report["image"] == f"docker-archive:{archive}"
    assert {"django", "urllib3", "lodash"} <= {f["package"] for f in report["findings"]}


@pytest.mark.parametrize(("argument", "files", "message"), [
    ("./missing.tar", {}, "./missing.tar: no such file or directory"),
    ("app.tar.gz", {"app.tar.gz": b"\x1f\x8b\x08\x00" + bytes(60)}, "app.tar.gz is compressed: decompress it first"),
    ("notes.tar", {"notes.tar": tar_of({"README": b"hi\n"})}, "notes.tar: a tar with neither manifest.json"),
    ("./junk.tar", {"junk.tar": b"not a tar at all" * 64}, "./junk.tar: not an image archive"),
])
def test_a_bare_path_that_holds_no_image_is_one_error_line(env, tmp_path, argument, files, message):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    done = crscan(env, "scan", argument, "--db", str(tmp_path / "unused.db"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(f"crscan scan: error: {message}") and done.stderr.count("\n") == 1, done.stderr


# --- dir: and rootfs: ----------------------------------------------------------------------------------------------

def test_rootfs_of_a_real_image_finds_what_the_image_scan_finds(env, feeds, built_images):
    image = built_images["bookworm"]
    rootfs = image.rootfs()
    from_image, _ = scan_json(env, feeds, image.oci_ref)
    from_disk, stderr = scan_json(env, feeds, f"rootfs:{rootfs}")
    assert from_disk["image"] == f"rootfs:{rootfs}" and from_disk["digest"] == "" and from_disk["layers"] == []
    assert from_disk["distro"] == from_image["distro"]
    assert packages(from_disk) == packages(from_image)
    assert any(p[0] == "dpkg" for p in packages(from_disk))  # the OS package DB was read from the tree
    finding_ids = {(f["package"], f["version"], f["advisory_id"], f["path"]) for f in from_disk["findings"]}
    assert finding_ids == {(f["package"], f["version"], f["advisory_id"], f["path"]) for f in from_image["findings"]}
    assert all(f["layer"] is None for f in from_disk["findings"])

    bare, stderr = scan_json(env, feeds, str(rootfs))  # a bare directory with an os-release: a root filesystem
    assert bare["image"] == f"rootfs:{rootfs}" and stderr.startswith(f"note: scanning {rootfs} as rootfs:")

    sbom = crscan(env, "sbom", f"rootfs:{rootfs}", "--quiet")
    assert sbom.returncode == 0, sbom.stderr
    purls = {c.get("purl") for c in json.loads(sbom.stdout)["components"]}
    assert {p["purl"] for p in from_image["packages"] if p["purl"]} <= purls


def test_dir_never_follows_links_out_of_the_tree(env, feeds, tmp_path):
    project = tmp_path / "project"
    (project / "etc").mkdir(parents=True)
    # Absolute: the tree's own /usr/lib (which has no os-release), never the host's.
    assert Path("/usr/lib/os-release").is_file()
    (project / "etc/os-release").symlink_to("/usr/lib/os-release")
    (project / VENV_SITE / "urllib3-1.24.1.dist-info").mkdir(parents=True)
    (project / VENV_SITE / "urllib3-1.24.1.dist-info/METADATA").write_bytes(metadata("urllib3", "1.24.1"))
    report, stderr = scan_json(env, feeds, f"dir:{project}")
    assert report["distro"] is None  # the host's os-release was not read through the link
    assert {(p["name"], p["version"]) for p in report["packages"]} == {("urllib3", "1.24.1")}
    assert "no OS release file" not in stderr  # a project directory is not expected to have one

    escape = project / VENV_SITE / "requests-2.19.0.dist-info"
    escape.mkdir()
    (escape / "METADATA").symlink_to("../" * 12 + "etc/passwd")
    done = crscan(env, "scan", f"dir:{project}", "--db", str(feeds))
    assert done.returncode == 2
    assert done.stderr.startswith("crscan scan: error: ") and "link points outside the image root" in done.stderr
    assert done.stderr.count("\n") == 1


def test_rootfs_without_an_os_release_warns(env, feeds, tmp_path):
    (tmp_path / "root" / SITE / "urllib3-1.24.1.dist-info").mkdir(parents=True)
    (tmp_path / "root" / SITE / "urllib3-1.24.1.dist-info/METADATA").write_bytes(metadata("urllib3", "1.24.1"))
    done = crscan(env, "scan", f"rootfs:{tmp_path / 'root'}", "--db", str(feeds))
    assert done.returncode == 0, done.stderr
    assert "warning: no OS release file (/etc/os-release" in done.stderr
    for missing in ("dir:", "rootfs:"):
        failed = crscan(env, "scan", f"{missing}{tmp_path / 'nope'}", "--db", str(feeds))
        assert failed.returncode == 2 and f"{missing}{tmp_path / 'nope'}: no such directory" in failed.stderr


# --- the table: targets and paths ----------------------------------------------------------------------------------

def test_two_copies_of_one_package_are_told_apart(env, feeds, tmp_path):
    archive = tmp_path / "two.tar"
    docker_archive(archive, {"two:1": {
        "etc/os-release": DEBIAN_12,
        f"{SITE}/urllib3-1.24.1.dist-info/METADATA": metadata("urllib3", "1.24.1"),
        f"{VENV_SITE}/urllib3-1.24.1.dist-info/METADATA": metadata("urllib3", "1.24.1"),
    }})
    narrow = crscan(env, "scan", f"docker-archive:{archive}", "--db", str(feeds), "--quiet")
    wide = crscan(env, "scan", f"docker-archive:{archive}", "--db", str(feeds), "--quiet", "--wide")
    assert narrow.returncode == wide.returncode == 0, narrow.stderr + wide.stderr
    assert "Python (python-pkg) ─" in narrow.stdout
    # The narrow table names the copy in the Library cell (folded over two lines at 160 columns).
    copies = [line.split("│")[1].strip() for line in narrow.stdout.splitlines() if "│ urllib3 (" in line]
    in_system = sum(copy.startswith(f"urllib3 (/{SITE}/") for copy in copies)
    in_venv = sum(copy.startswith("urllib3 (/opt/venv/") for copy in copies)
    assert in_system == in_venv == len(copies) // 2 > 0  # every advisory once per copy, each named
    wide_rows = [[cell.strip() for cell in line.split("│")[1:3]] for line in wide.stdout.splitlines()
                 if line.startswith("│ urllib3 ")]
    assert {library for library, _ in wide_rows} == {"urllib3"}  # wide: the path has its own column
    assert sum(path.startswith("/usr/lib/") for _, path in wide_rows) == in_system  # cut at the column width
    assert sum(path.startswith("/opt/venv/") for _, path in wide_rows) == in_venv
    header = next(line for line in wide.stdout.splitlines() if "Library" in line)
    assert [c.strip() for c in header.strip("│").split("│")][:3] == ["Library", "Path", "Vulnerability"]


def test_an_os_without_package_database_is_a_warning_not_an_empty_section(env, feeds, tmp_path):
    archive = tmp_path / "distroless.tar"
    docker_archive(archive, {"distroless:1": {"etc/os-release": DEBIAN_12, "etc/hostname": b"x\n"}})
    done = crscan(env, "scan", f"docker-archive:{archive}", "--db", str(feeds))
    assert done.returncode == 0, done.stderr
    warning = "OS Debian 12: no dpkg package database was found or could be read, so no OS package was checked"
    assert [line for line in done.stderr.splitlines() if "warning" in line.lower()] == [f"warning: {warning}"]
    assert f"WARNING: {warning}" in done.stdout  # above the table too: a report file carries it
    assert "warning" not in crscan(env, "scan", f"docker-archive:{archive}", "--db", str(feeds), "--quiet").stderr
    section = done.stdout[done.stdout.index("debian 12 (bookworm) ─"):]
    assert "No OS packages found" in section and "Total: 0" not in section


def test_an_os_release_the_feeds_do_not_cover_is_a_warning(env, feeds, tmp_path):
    status = b"Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n\n"
    archive = tmp_path / "future.tar"
    docker_archive(archive, {"future:1": {"etc/os-release": b'ID=debian\nVERSION_ID="99"\n',
                                          "var/lib/dpkg/status": status}})
    done = crscan(env, "scan", f"docker-archive:{archive}", "--db", str(feeds))
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("warning:")] == [
        "warning: OS Debian 99: the feed DB has no advisories for this release, so its 1 dpkg packages were not "
        "checked"]


# --- registry retries -----------------------------------------------------------------------------------------------

def test_retries_against_an_unreachable_registry_are_reported_as_they_happen(env, tmp_path):
    # The reference also exists as a local path here: with a ':' in it, it stays a registry reference.
    (tmp_path / "127.0.0.1:1/app:1").mkdir(parents=True)
    loud = subprocess.Popen([str(CRSCAN), "sbom", "127.0.0.1:1/app:1"], stderr=subprocess.PIPE, text=True, env=env,
                            cwd=tmp_path)
    quiet = subprocess.Popen([str(CRSCAN), "sbom", "127.0.0.1:1/app:1", "--quiet"], stderr=subprocess.PIPE,
                             text=True, env=env, cwd=tmp_path)
    assert loud.stderr is not None
    first = loud.stderr.readline()
    first_seen = time.monotonic()
    rest = loud.stderr.read()
    assert loud.wait(timeout=120) == 2
    # The backoffs after the first retry add up to 1 + 2 + 4 s (+ up to 25 % jitter): the first line came that
    # much before the end, as it happened, not with the error.
    assert time.monotonic() - first_seen > 6
    assert quiet.wait(timeout=120) == 2
    lines = [first, *rest.splitlines()]
    retries = lines[:-1]
    assert len(retries) == 4, lines
    for attempt, line in enumerate(retries, 2):
        assert line.startswith("retrying in ") and line.rstrip().endswith(
            f"s: connection refused to 127.0.0.1:1 (attempt {attempt}/5)"), line
    assert lines[-1].startswith("crscan sbom: error: ")
    assert quiet.stderr is not None
    quiet_lines = quiet.stderr.read().splitlines()
    assert len(quiet_lines) == 1 and quiet_lines[0].startswith("crscan sbom: error: ")
    loud.stderr.close()
    quiet.stderr.close()


# --- exit codes -----------------------------------------------------------------------------------------------------

def test_exit_codes_are_documented_in_help_and_followed(env, feeds, local_images):
    for verb in ("scan", "sbom"):
        shown = crscan(env, verb, "--help")
        assert shown.returncode == 0
        assert "Exit codes: 0" in " ".join(shown.stdout.split()), shown.stdout
    clean = crscan(env, "scan", "app.tar", "--db", str(feeds), "--quiet", "--severity", "NEGLIGIBLE",
                   "--exit-code", "5", cwd=local_images)
    found = crscan(env, "scan", "app.tar", "--db", str(feeds), "--quiet", "--exit-code", "5", cwd=local_images)
    broken = crscan(env, "scan", "./nope", "--db", str(feeds), "--exit-code", "5", cwd=local_images)
    assert (clean.returncode, found.returncode, broken.returncode) == (0, 5, 2)
