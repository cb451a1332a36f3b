"""Every cataloger crscan ships, OS ones first.

Per-file catalogers of one shape (a parse function over the files some globs pick) are rows of a table;
those with logic across files (dpkg, apk, rpm, node) stay classes. Name and version key the per-layer
index cache: bump a row's version whenever its output for the same input changes.
"""

from __future__ import annotations

from collections.abc import Callable

from crscan.catalog.apk.cataloger import ApkCataloger
from crscan.catalog.dotnet.parse_deps_json import parse_deps_json
from crscan.catalog.dpkg.cataloger import DpkgCataloger
from crscan.catalog.elf import is_elf
from crscan.catalog.golang.parse_buildinfo import parse_buildinfo
from crscan.catalog.interface import Cataloger, FileCataloger, Parse, globs_regex
from crscan.catalog.java.parse_archive import ARCHIVE_SUFFIXES, parse_archive
from crscan.catalog.node.cataloger import NodeCataloger
from crscan.catalog.php.parse_installed_json import parse_installed_json
from crscan.catalog.python.parse_metadata import parse_metadata
from crscan.catalog.rpm.cataloger import RpmCataloger
from crscan.catalog.ruby.parse_gemspec import parse_gemspec
from crscan.catalog.rust.parse_cargo import parse_audit_data, parse_cargo_lock
from crscan.model import Package

MIN_GO_BINARY = 64 * 1024  # the smallest Go executable is ~1 MiB; skip scripts and tiny tools early
MIN_RUST_BINARY = 4096
_CARGO_LOCK = globs_regex(("/**/Cargo.lock",)).fullmatch


def _no_warnings(parse: Callable[[bytes, str], list[Package]]) -> Parse:
    return lambda data, path, warnings: parse(data, path)


def _parse_go_binary(data: bytes, path: str, warnings: list[str]) -> list[Package]:
    return parse_buildinfo(data, path) if is_elf(data) else []


def _parse_rust(data: bytes, path: str, warnings: list[str]) -> list[Package]:
    if path.endswith("/Cargo.lock"):
        return parse_cargo_lock(data, path)
    return parse_audit_data(data, path) if is_elf(data) else []  # cargo-auditable binaries


def _go_binary_wanted(path: str, mode: int, size: int) -> bool:
    return bool(mode & 0o111) and size >= MIN_GO_BINARY


def _rust_wanted(path: str, mode: int, size: int) -> bool:
    return _CARGO_LOCK(path) is not None or (bool(mode & 0o111) and size >= MIN_RUST_BINARY)


PYTHON = FileCataloger(
    "python", 1, ("/**/*.dist-info/METADATA", "/**/*.egg-info/PKG-INFO", "/**/*.egg-info"),
    _no_warnings(parse_metadata),
)
GO_BINARY = FileCataloger("go-binary", 1, (), _parse_go_binary, select=_go_binary_wanted)
JAVA_ARCHIVE = FileCataloger(
    "java-archive", 1, tuple("/**/*" + suffix for suffix in ARCHIVE_SUFFIXES), parse_archive,
    select=lambda path, mode, size: path.endswith(ARCHIVE_SUFFIXES),  # the globs, without a regex per tar entry
)
RUBY_GEMS = FileCataloger(
    "ruby-gems", 1, ("/**/specifications/*.gemspec", "/**/specifications/default/*.gemspec"),
    _no_warnings(parse_gemspec),
)
RUST = FileCataloger("rust", 1, ("/**/Cargo.lock",), _parse_rust, select=_rust_wanted)
PHP_COMPOSER = FileCataloger(
    "php-composer", 1, ("/**/vendor/composer/installed.json",), _no_warnings(parse_installed_json),
)
DOTNET_DEPS = FileCataloger("dotnet-deps", 1, ("/**/*.deps.json",), _no_warnings(parse_deps_json))


def default_catalogers() -> tuple[Cataloger, ...]:
    """One instance of every cataloger crscan ships, OS ones first."""
    return (DpkgCataloger(), ApkCataloger(), RpmCataloger(), PYTHON, NodeCataloger(), GO_BINARY, JAVA_ARCHIVE,
            RUBY_GEMS, RUST, PHP_COMPOSER, DOTNET_DEPS)
