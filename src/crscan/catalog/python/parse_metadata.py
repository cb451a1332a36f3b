"""Core metadata of installed Python distributions (*.dist-info/METADATA, *.egg-info/PKG-INFO)."""

from __future__ import annotations

import re
from email.parser import HeaderParser

from crscan.catalog.interface import CatalogError
from crscan.catalog.purl import purl
from crscan.model import Ecosystem, Package

_NON_ALNUM_RUN = re.compile(r"[-_.]+")


def normalize_name(name: str) -> str:
    """PEP 503: runs of '-', '_', '.' become one '-', lower case — the name advisories use."""
    return _NON_ALNUM_RUN.sub("-", name).lower()


def parse_metadata(data: bytes, path: str) -> list[Package]:
    """One distribution from its RFC 822-style metadata headers (the body, the description, is ignored)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path}: metadata is not UTF-8 (invalid byte at offset {exc.start})") from None
    headers = HeaderParser().parsestr(text, headersonly=True)
    name, version = (headers.get("Name") or "").strip(), (headers.get("Version") or "").strip()
    if not name or not version:
        raise CatalogError(f"{path}: metadata has no {'Name' if not name else 'Version'} header")
    normalized = normalize_name(name)
    return [Package(Ecosystem.PYPI, normalized, version, purl=purl("pypi", normalized, version), path=path)]
