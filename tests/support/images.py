"""Real Debian test images, built once and cached between runs (see /work/shared/design/test-images.md).

Each Debian image is built layer by layer in one umoci bundle, so every layer is what umoci computes from a
real filesystem change:

    base     mmdebstrap --variant=minbase rootfs
    python   pip install --no-deps --target /usr/local/lib/python3.X/site-packages <old, vulnerable packages>
    npm      npm install --prefix /app <old, vulnerable packages>
    deleted  one of the python packages removed (umoci writes the whiteouts)
    purged   one dpkg package purged with `dpkg --root`

Besides them: a small synthetic linux/arm64 image and a multi-arch index (bookworm as linux/amd64 + the arm64
one), and a `docker save` style archive of bookworm. The unpacked rootfs after every stage is kept, and what
pip/npm installed is read back from the tools' own metadata as the "expected" inventory.

Everything lives under ${CRSCAN_TEST_CACHE:-~/.cache/crscan-tests}/<hash of RECIPE>; a file lock keeps
parallel pytest processes from building twice. Bump RECIPE["revision"] when the build steps change.
"""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crscan.model import LayerRef

CACHE_ROOT = Path(os.environ.get("CRSCAN_TEST_CACHE", "~/.cache/crscan-tests")).expanduser()

PYTHON_REQUIREMENTS = ("django==3.2.0", "requests==2.19.0", "urllib3==1.24.1", "jinja2==2.10", "pyyaml==5.3")
NPM_REQUIREMENTS = ("lodash@4.17.4", "minimist@0.0.8", "express@4.15.0")
DELETED_PYTHON_PACKAGE = "PyYAML"
# Nothing in minbase depends on apt, and purging it is a realistic "slim the final image" step.
PURGED_DPKG_PACKAGE = "apt"

RELEASES = {"bookworm": "3.11", "bullseye": "3.9"}  # Debian release → its python3 minor version
ARM64_IMAGE = "arm64"
INDEX_IMAGE = "multi"
DOCKER_ARCHIVE_IMAGE = "bookworm"

RECIPE = {
    "revision": 1,
    "releases": RELEASES,
    "python": PYTHON_REQUIREMENTS,
    "npm": NPM_REQUIREMENTS,
    "deleted": DELETED_PYTHON_PACKAGE,
    "purged": PURGED_DPKG_PACKAGE,
}


@dataclass(frozen=True)
class Stage:
    """One layer of a test image: what it did, the layer it produced, and the full rootfs after it."""

    name: str
    layer: LayerRef
    rootfs: Path


@dataclass(frozen=True)
class TestImage:
    """A built test image; the registry fields are filled in once it has been pushed in this session."""

    __test__ = False  # not a pytest test class despite the name

    name: str
    layout: Path  # OCI layout directory (shared by all test images)
    layout_tag: str
    manifest_digest: str  # digest of the manifest (or index) in the OCI layout
    platform: str  # "linux/amd64"; "" for the index
    stages: tuple[Stage, ...] = ()
    python_packages: dict[str, str] = field(default_factory=dict)  # installed by the python stage: name → version
    npm_packages: frozenset[tuple[str, str]] = frozenset()  # every (name, version) npm put under /app/node_modules
    deleted_python_package: str = ""
    purged_dpkg_package: str = ""
    docker_archive: Path | None = None
    repository: str = ""  # set after push: "test/bookworm"
    tag_ref: str = ""  # "127.0.0.1:PORT/test/bookworm:1"
    digest_ref: str = ""  # "127.0.0.1:PORT/test/bookworm@sha256:…"
    pushed_digest: str = ""  # the manifest digest as pushed (differs from manifest_digest for v2s2 pushes)
    pushed_media_type: str = ""

    @property
    def oci_ref(self) -> str:
        return f"oci:{self.layout}:{self.layout_tag}"

    @property
    def layers(self) -> tuple[LayerRef, ...]:
        return tuple(stage.layer for stage in self.stages)

    def rootfs(self, stage: str | None = None) -> Path:
        """The unpacked filesystem after `stage` (default: the final one)."""
        if stage is None:
            return self.stages[-1].rootfs
        return next(s.rootfs for s in self.stages if s.name == stage)

    @property
    def final_python_packages(self) -> dict[str, str]:
        return {n: v for n, v in self.python_packages.items() if n != self.deleted_python_package}


def recipe_key() -> str:
    return hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:16]


def build_test_images(cache_root: Path = CACHE_ROOT) -> dict[str, TestImage]:
    """Build every test image unless the cache holds them; safe to call from parallel processes."""
    cache_root.mkdir(parents=True, exist_ok=True)
    key = recipe_key()
    done = cache_root / key
    with open(cache_root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (done / "images.json").exists():
            work = cache_root / f"{key}.building"
            _remove_tree(work)
            work.mkdir()
            _ImageBuilder(work).build_all()
            _remove_tree(done)
            work.rename(done)
    return _load(done)


def _remove_tree(path: Path) -> None:
    if path.exists():
        # the rootfs copies contain read-only directories owned by root
        subprocess.run(["rm", "-rf", str(path)], check=True)


def _run(*cmd: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"test image build step failed: {' '.join(map(str, cmd))}\n{proc.stderr[-4000:]}")
    return proc.stdout


def debian_mirrors() -> tuple[str, str]:
    """(main archive, security archive) URIs this machine's apt is configured with."""
    uris: list[str] = []
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        uris += re.findall(r"^URIs:\s*(\S+)", sources.read_text(), flags=re.M)
    main = next((u for u in uris if u.rstrip("/").endswith("/debian")), "http://deb.debian.org/debian")
    security = next((u for u in uris if u.rstrip("/").endswith("/debian-security")), main + "-security")
    return main.rstrip("/"), security.rstrip("/")


class OciLayout:
    """Just enough reading and writing of an OCI image layout for the synthetic images and the index."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def blob_path(self, digest: str) -> Path:
        algorithm, hex_ = digest.split(":", 1)
        return self.path / "blobs" / algorithm / hex_

    def read_json(self, digest: str) -> dict:
        return json.loads(self.blob_path(digest).read_bytes())

    def write_blob(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blob_path(digest).write_bytes(data)
        return digest

    def index(self) -> dict:
        return json.loads((self.path / "index.json").read_text())

    def descriptor(self, tag: str) -> dict:
        for desc in self.index()["manifests"]:
            if desc.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
                return desc
        raise KeyError(tag)

    def tag(self, tag: str, descriptor: dict) -> None:
        index = self.index()
        index["manifests"] = [
            d for d in index["manifests"]
            if d.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag
        ] + [{**descriptor, "annotations": {"org.opencontainers.image.ref.name": tag}}]
        (self.path / "index.json").write_text(json.dumps(index))

    def manifest_and_config(self, tag: str) -> tuple[str, dict, dict]:
        digest = self.descriptor(tag)["digest"]
        manifest = self.read_json(digest)
        return digest, manifest, self.read_json(manifest["config"]["digest"])


class _ImageBuilder:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.layout = OciLayout(work / "layout")
        self.images: dict[str, dict] = {}

    def build_all(self) -> None:
        _run("umoci", "init", "--layout", self.layout.path)
        downloads = self.work / "pip-downloads"
        _run(sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", downloads, *PYTHON_REQUIREMENTS)
        for release, python in RELEASES.items():
            self.build_debian(release, python, downloads)
        self.build_arm64()
        self.build_index()
        archive = self.work / f"{DOCKER_ARCHIVE_IMAGE}.docker.tar"
        _run("skopeo", "copy", "-q", f"oci:{self.layout.path}:{DOCKER_ARCHIVE_IMAGE}",
             f"docker-archive:{archive}:test/{DOCKER_ARCHIVE_IMAGE}:1")
        self.images[DOCKER_ARCHIVE_IMAGE]["docker_archive"] = archive.name
        shutil.rmtree(downloads)
        (self.work / "images.json").write_text(json.dumps(self.images, indent=1))

    def build_debian(self, release: str, python: str, downloads: Path) -> None:
        bundle = self.work / f"bundle-{release}"
        layout = self.layout.path
        _run("umoci", "new", "--image", f"{layout}:{release}-empty")
        _run("umoci", "unpack", "--image", f"{layout}:{release}-empty", bundle)
        rootfs = bundle / "rootfs"
        stages: list[dict] = []

        def commit(stage: str) -> None:
            tag = f"{release}-{stage}"
            # the bundle remembers the manifest it came from; --refresh-bundle moves it onto the new one
            _run("umoci", "repack", "--refresh-bundle", "--history.created_by", f"crscan test image: {stage}",
                 "--image", f"{layout}:{tag}", bundle)
            _, manifest, config = self.layout.manifest_and_config(tag)
            snapshot = self.work / "rootfs" / release / stage
            snapshot.parent.mkdir(parents=True, exist_ok=True)
            _run("cp", "-a", rootfs, snapshot)
            stages.append({
                "name": stage,
                "digest": manifest["layers"][-1]["digest"],
                "diff_id": config["rootfs"]["diff_ids"][-1],
                "rootfs": str(snapshot.relative_to(self.work)),
            })

        main, security = debian_mirrors()
        _run("mmdebstrap", "--quiet", "--variant=minbase", "--mode=root", release, rootfs,
             f"deb {main} {release} main", f"deb {security} {release}-security main")
        commit("base")

        site_packages = rootfs / f"usr/local/lib/python{python}/site-packages"
        _run(sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-compile", "--find-links", downloads,
             "--target", site_packages, *PYTHON_REQUIREMENTS)
        python_packages = _installed_python_packages(site_packages)
        commit("python")

        env = {**os.environ, "NPM_CONFIG_UPDATE_NOTIFIER": "false"}
        _run("npm", "install", "--prefix", rootfs / "app", "--no-audit", "--no-fund", *NPM_REQUIREMENTS, env=env)
        npm_packages = _installed_npm_packages(rootfs / "app" / "package-lock.json")
        commit("npm")

        _remove_python_distribution(site_packages, DELETED_PYTHON_PACKAGE)
        commit("deleted")

        _run("dpkg", f"--root={rootfs}", "--purge", PURGED_DPKG_PACKAGE)
        commit("purged")

        _run("umoci", "tag", "--image", f"{layout}:{release}-purged", release)
        digest, _, _ = self.layout.manifest_and_config(release)
        self.images[release] = {
            "layout_tag": release,
            "manifest_digest": digest,
            "platform": "linux/amd64",
            "stages": stages,
            "python_packages": python_packages,
            "npm_packages": sorted(npm_packages),
            "deleted_python_package": DELETED_PYTHON_PACKAGE,
            "purged_dpkg_package": PURGED_DPKG_PACKAGE,
        }
        shutil.rmtree(bundle)

    def build_arm64(self) -> None:
        """A one-layer linux/arm64 image: mmdebstrap cannot build foreign-arch roots without qemu here."""
        files = {
            "etc/os-release": b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
                              b'VERSION_CODENAME=bookworm\n',
            "etc/crscan-test-arch": b"arm64\n",
        }
        digest, layer = write_synthetic_image(self.layout, ARM64_IMAGE, files, architecture="arm64", variant="v8")
        self.images[ARM64_IMAGE] = {
            "layout_tag": ARM64_IMAGE,
            "manifest_digest": digest,
            "platform": "linux/arm64/v8",
            "stages": [{"name": "files", "digest": layer.digest, "diff_id": layer.diff_id, "rootfs": ""}],
        }

    def build_index(self) -> None:
        members = []
        for name in ("bookworm", ARM64_IMAGE):
            desc = self.layout.descriptor(name)
            _, _, config = self.layout.manifest_and_config(name)
            platform = {"architecture": config["architecture"], "os": config["os"]}
            if config.get("variant"):
                platform["variant"] = config["variant"]
            members.append({k: desc[k] for k in ("mediaType", "digest", "size")} | {"platform": platform})
        index = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": members,
        }).encode()
        digest = self.layout.write_blob(index)
        self.layout.tag(INDEX_IMAGE, {
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": len(index),
        })
        self.images[INDEX_IMAGE] = {"layout_tag": INDEX_IMAGE, "manifest_digest": digest, "platform": ""}


def write_synthetic_image(
    layout: OciLayout, tag: str, files: dict[str, bytes], *, architecture: str = "amd64", variant: str = "",
) -> tuple[str, LayerRef]:
    """Write a one-layer OCI image of `files` into `layout` under `tag`; returns (manifest digest, layer)."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(data))
    diff_id = "sha256:" + hashlib.sha256(tar_bytes.getvalue()).hexdigest()
    compressed = gzip.compress(tar_bytes.getvalue(), mtime=0)
    layer_digest = layout.write_blob(compressed)
    config: dict = {
        "architecture": architecture, "os": "linux",
        "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    if variant:
        config["variant"] = variant
    config_bytes = json.dumps(config).encode()
    config_digest = layout.write_blob(config_bytes)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest,
                    "size": len(compressed)}],
    }).encode()
    digest = layout.write_blob(manifest)
    layout.tag(tag, {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
                     "size": len(manifest)})
    return digest, LayerRef(layer_digest, diff_id)


@dataclass(frozen=True)
class SyntheticImage:
    """One image of a cached layout that build_synthetic_images wrote."""

    name: str
    layout: Path
    tag: str
    manifest_digest: str

    @property
    def oci_ref(self) -> str:
        return f"oci:{self.layout}:{self.tag}"


def build_synthetic_images(
    prefix: str, recipe: dict[str, Any], names: Iterable[str], files: Callable[[str, Path], dict[str, bytes]],
    cache_root: Path = CACHE_ROOT,
) -> dict[str, SyntheticImage]:
    """One-layer images of `files(name, scratch)` for each name, in one OCI layout cached under
    `<prefix>-<hash of recipe>` unless the cache holds it; safe to call from parallel processes. `scratch` is an
    empty folder of the build's for whatever making the files needs."""
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    cache_root.mkdir(parents=True, exist_ok=True)
    done = cache_root / f"{prefix}-{key}"
    with open(cache_root / f"{prefix}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (done / "images.json").exists():
            work = cache_root / f"{prefix}-{key}.building"
            shutil.rmtree(work, ignore_errors=True)
            (work / "layout" / "blobs" / "sha256").mkdir(parents=True)
            (work / "layout" / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
            (work / "layout" / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
            layout = OciLayout(work / "layout")
            built = {}
            for name in names:
                scratch = work / "scratch" / name
                scratch.mkdir(parents=True)
                built[name] = write_synthetic_image(layout, name, files(name, scratch))[0]
            shutil.rmtree(work / "scratch", ignore_errors=True)
            (work / "images.json").write_text(json.dumps(built))
            shutil.rmtree(done, ignore_errors=True)
            work.rename(done)
    return {name: SyntheticImage(name, done / "layout", name, digest)
            for name, digest in json.loads((done / "images.json").read_text()).items()}


def _installed_python_packages(site_packages: Path) -> dict[str, str]:
    """name → version from every *.dist-info/METADATA pip wrote."""
    installed = {}
    for metadata in sorted(site_packages.glob("*.dist-info/METADATA")):
        headers = dict(re.findall(r"^(Name|Version): (.+)$", metadata.read_text(errors="replace"), flags=re.M))
        installed[headers["Name"].strip()] = headers["Version"].strip()
    return installed


def _installed_npm_packages(lockfile: Path) -> set[tuple[str, str]]:
    """(name, version) of every package npm placed under node_modules, from its own package-lock.json."""
    lock = json.loads(lockfile.read_text())
    installed = set()
    for path, entry in lock["packages"].items():
        if path and "version" in entry:
            installed.add((entry.get("name") or path.rsplit("node_modules/", 1)[-1], entry["version"]))
    return installed


def _remove_python_distribution(site_packages: Path, name: str) -> None:
    """Delete a distribution the way `pip uninstall` would: every path its RECORD lists, then its dist-info."""
    dist_info = next(
        p for p in site_packages.glob("*.dist-info")
        if re.search(rf"^Name: {re.escape(name)}$", (p / "METADATA").read_text(), flags=re.M)
    )
    recorded = [line.split(",", 1)[0] for line in (dist_info / "RECORD").read_text().splitlines()]
    top_levels = {path.split("/", 1)[0] for path in recorded if path and not path.startswith("..")}
    for top in top_levels:
        target = site_packages / top
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def _load(done: Path) -> dict[str, TestImage]:
    images = {}
    for name, meta in json.loads((done / "images.json").read_text()).items():
        images[name] = TestImage(
            name=name,
            layout=done / "layout",
            layout_tag=meta["layout_tag"],
            manifest_digest=meta["manifest_digest"],
            platform=meta["platform"],
            stages=tuple(
                Stage(s["name"], LayerRef(s["digest"], s["diff_id"]), done / s["rootfs"] if s["rootfs"] else Path())
                for s in meta.get("stages", ())
            ),
            python_packages=meta.get("python_packages", {}),
            npm_packages=frozenset(tuple(p) for p in meta.get("npm_packages", ())),
            deleted_python_package=meta.get("deleted_python_package", ""),
            purged_dpkg_package=meta.get("purged_dpkg_package", ""),
            docker_archive=done / meta["docker_archive"] if meta.get("docker_archive") else None,
        )
    return images


if __name__ == "__main__":
    for image in build_test_images().values():
        print(image.name, image.manifest_digest, [s.name for s in image.stages])
