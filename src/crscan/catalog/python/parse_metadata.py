"""Core metadata of installed Python distributions (*.dist-info/METADATA, *.egg-info/PKG-INFO)."""

from __future__ import annotations

import re
from email.message import Message
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
    return [Package(Ecosystem.PYPI, normalized, version, purl=purl("pypi", normalized, version), path=path,
                    licenses=_licenses(headers))]


def _licenses(headers: Message) -> tuple[str, ...]:
    """PEP 639's License-Expression; else a one-line License header (many hold the whole license text, which is
    no name); else the names of the `License ::` classifiers."""
    expression = (headers.get("License-Expression") or "").strip()
    if expression:
        return (expression,)
    declared = (headers.get("License") or "").strip()
    if declared and "\n" not in declared and declared.upper() != "UNKNOWN":
        return (declared,)
    classifiers = [c.rsplit("::", 1)[-1].strip() for c in headers.get_all("Classifier") or []
                   if c.startswith("License ::") and c.count("::") >= 2]
    return tuple(dict.fromkeys(c for c in classifiers if c))
