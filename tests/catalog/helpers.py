"""Build the ImageFiles a layer reader would hand the catalogers, from fixture trees on disk."""

from __future__ import annotations

from pathlib import Path

from crscan.model import ImageFile, LayerRef

TESTDATA_LAYER = LayerRef("sha256:" + "a" * 64, "sha256:" + "b" * 64)


def image_files(root: Path, layer: LayerRef | None = TESTDATA_LAYER, prefix: str = "") -> dict[str, ImageFile]:
    """Every regular file under `root`, keyed by its absolute path inside the image."""
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            image_path = prefix + "/" + path.relative_to(root).as_posix()
            files[image_path] = ImageFile(image_path, path.read_bytes(), layer, path.stat().st_mode & 0o7777)
    return files


def file(path: str, data: bytes | str, layer: LayerRef | None = TESTDATA_LAYER, mode: int = 0o644) -> ImageFile:
    return ImageFile(path, data.encode() if isinstance(data, str) else data, layer, mode)
