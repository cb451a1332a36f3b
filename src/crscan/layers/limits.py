"""Bounds on what reading one layer (or one image) may cost; every default is generous for real images."""

from __future__ import annotations

from dataclasses import dataclass, fields

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    # Uncompressed tar bytes; the largest real layers (CUDA, ML stacks) are a few GiB.
    max_layer_bytes: int = 16 * GiB
    max_image_bytes: int = 64 * GiB
    # Tar entries (files, dirs, links, whiteouts) in one layer; big node_modules layers reach ~200k.
    max_entries: int = 1_000_000
    # One picked file held in memory; larger picked files are skipped and listed in `LayerContents.skipped`.
    max_file_bytes: int = 256 * MiB
    # All picked files of one layer (read_layer) or one image (read_image) held in memory together.
    max_picked_bytes: int = 1 * GiB
    # Linux PATH_MAX.
    max_path_length: int = 4096
    # Linux follows at most 40 symlinks per lookup (MAXSYMLINKS).
    max_link_depth: int = 40
    # Uncompressed:compressed. Real layers stay under ~20:1; gzip of zeros reaches ~1030:1, zstd far more.
    max_ratio: int = 250
    # The ratio is judged only past this many uncompressed bytes, so tiny, very compressible layers pass.
    ratio_grace_bytes: int = 16 * MiB
    # A PAX extended header or GNU long-name record (tarfile reads these whole into memory).
    max_header_bytes: int = 1 * MiB

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{f.name} must be a positive integer, got {value!r}")
