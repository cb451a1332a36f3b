"""Red Hat's CSAF VEX: one JSON document per CVE (`security.access.redhat.com/data/csaf/v2/vex/<year>/cve-….json`),
stating for every product and component whether it is fixed (by which RHSA, at which build), affected, or
not going to be fixed. Red Hat's OSV export has its fixed errata only; VEX is where "will not fix" is said, and
it is what Red Hat publishes today in place of the OVAL v2 files (kept only for older products).

Read per vulnerability:
- `remediations`: `vendor_fix` (status fixed; the RHSA is the last part of its `url`), `no_fix_planned` with
  details "Will not fix" (will_not_fix) or "Out of support scope" (end_of_life), `none_available` with details
  "Affected" (affected) or "Deferred" (fix_deferred), each naming product ids;
- `product_status.under_investigation` (under_investigation) and any `known_affected` id no remediation names
  (affected);
- `threats` of category impact: Red Hat's severity word per product id (else the document's aggregate).
A product id is "<product>:<component>" through `product_tree.relationships`; the product's CPE
(`cpe:/o:redhat:enterprise_linux:9::baseos`, `cpe:/a:redhat:enterprise_linux:9::appstream`) gives the RHEL
release, other products (OpenShift, EUS streams, …) are left out. The component's purl names the rpm: a binary
(`pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1`), or, in older statements, only the source rpm
(`?arch=src`), kept as `by_source`; a fix's source rpm is left out (its binaries are listed). An `rpmmod`
qualifier (`nodejs:20:9060020…`) makes the row its module stream's.

A mirror holds the documents as `redhat/csaf-vex/<year>/cve-….json`; upstream is Red Hat's archive of them all,
named by `archive_latest.txt`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, unquote

from crscan.vulndb import namespaces, severity
from crscan.vulndb.interface import Advisory, FeedError, Tally, Updater
from crscan.vulndb.records import VendorStatus
from crscan.vulndb.rpm_vendor import evr
from crscan.vulndb.tree import archive_files, tree_files

BASE = "https://security.access.redhat.com/data/csaf/v2/vex/"
FEED = "redhat"
_ARCHIVE_NAME = re.compile(r"^csaf_vex_[\d-]+\.tar\.zst$")
_RHEL_CPE = re.compile(r"^cpe:/[ao]:redhat:enterprise_linux:(\d+)(?:[:.]|$)")
_RHSA = re.compile(r"RH[SBE]A-\d{4}:\d+")
# (remediation category, details) -> status; other pairs (a workaround, …) state nothing about a fix.
REMEDIATIONS = {
    ("vendor_fix", None): "fixed",
    ("no_fix_planned", "Will not fix"): "will_not_fix",
    ("no_fix_planned", "Out of support scope"): "end_of_life",
    ("none_available", "Affected"): "affected",
    ("none_available", "Deferred"): "fix_deferred",
}


class RedHatVexUpdater(Updater):
    feed = FEED
    name = "redhat/csaf-vex"
    upstream_url = BASE + "archive_latest.txt"

    @property
    def file_name(self) -> str:
        return "redhat/csaf-vex.tar.zst"

    def resolve_upstream(self, get: Callable[[str], bytes]) -> str:
        latest = get(self.upstream_url).decode("ascii", "replace").strip()
        if not _ARCHIVE_NAME.match(latest):
            raise FeedError(f"{self.name}: {self.upstream_url} names no VEX archive ({latest[:80]!r})")
        return self.upstream_url.rsplit("/", 1)[0] + "/" + latest  # the archive sits beside its index

    def parse(self, reader: IO[bytes], tally: Tally) -> Iterator[Advisory]:
        for name, data in archive_files(reader, is_vex_file, self.name):
            yield from parse_vex(data, tally, source=f"{self.name}: {name}")

    def read(self, path: Path, tally: Tally) -> Iterator[Advisory]:
        for name, data in tree_files(path, is_vex_file, self.name):
            yield from parse_vex(data, tally, source=f"{self.name}: {name}")


def is_vex_file(path: str) -> bool:
    return path.endswith(".json") and path.rsplit("/", 1)[-1].startswith("cve-")


def parse_vex(data: bytes, tally: Tally, *, source: str = "vex") -> Iterator[Advisory]:
    """One row per (RHEL release, rpm, module, status); a record is one document."""
    tally.records += 1
    try:
        document = json.loads(data)
        rows = list(_rows(document))
    except (ValueError, TypeError, KeyError, AttributeError):
        rows = None
    if rows is None:
        tally.skipped += 1
        return
    yield from rows


def _rows(document: dict[str, Any]) -> Iterator[Advisory]:
    helpers = _helpers(document["product_tree"])
    relationships = {
        rel["full_product_name"]["product_id"]: (rel["product_reference"], rel["relates_to_product_reference"])
        for rel in document["product_tree"].get("relationships", ())
    }
    aggregate = (document.get("document", {}).get("aggregate_severity") or {}).get("text", "")
    (vulnerability,) = document["vulnerabilities"]
    cve = vulnerability["cve"]
    impact: dict[str, str] = {}
    for threat in vulnerability.get("threats", ()):
        if threat.get("category") == "impact":
            for product_id in threat.get("product_ids", ()):
                impact[product_id] = threat.get("details", "")
    stated: dict[str, tuple[str, str]] = {}  # product id -> (status, advisory id)
    for remediation in vulnerability.get("remediations", ()):
        category = remediation.get("category")
        status = REMEDIATIONS.get((category, None if category == "vendor_fix" else remediation.get("details")))
        if status is None:
            continue
        advisory = ""
        if status == "fixed":
            found = _RHSA.search(remediation.get("url", ""))
            if found is None:
                continue  # a fix with no erratum named cannot be linked or told apart
            advisory = found.group(0)
        for product_id in remediation.get("product_ids", ()):
            stated.setdefault(product_id, (status, advisory))
    product_status = vulnerability.get("product_status", {})
    for product_id in product_status.get("under_investigation", ()):
        stated.setdefault(product_id, ("under_investigation", ""))
    for product_id in product_status.get("known_affected", ()):
        stated.setdefault(product_id, ("affected", ""))
    seen: set[tuple[str, str, str, str, bool]] = set()
    for product_id, (status, advisory) in stated.items():
        if product_id not in relationships:
            continue
        component, product = relationships[product_id]
        release = _rhel_release(helpers.get(product, {}).get("cpe", ""))
        purl = helpers.get(component, {}).get("purl", "")
        package = _rpm(purl) if purl else None
        if not release or package is None:
            continue
        name, version, arch, module = package
        by_source = arch == "src"
        fixed = ""
        if status == "fixed":
            if by_source or not version:
                continue  # the fix's binaries are listed with their builds
            fixed = version
        key = (release, name, module, status if status != "fixed" else fixed, by_source)
        if key in seen:
            continue  # the same rpm in several repositories (BaseOS, AppStream, …) of one release
        seen.add(key)
        level = severity.from_vendor("redhat", impact.get(product_id, aggregate))
        yield Advisory(FEED, namespaces.vendor_status(FEED, release), name, advisory or cve,
                       VendorStatus(cve, status, fixed, level, "redhat" if level.name != "UNDEFINED" else "none",
                                    module=module, by_source=by_source))


def _helpers(tree: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Product id -> its identification helper (`cpe`, `purl`), from every branch of the product tree."""
    found: dict[str, dict[str, str]] = {}

    def walk(branches: list[dict[str, Any]]) -> None:
        for branch in branches:
            product = branch.get("product")
            if product and product.get("product_id"):
                found[product["product_id"]] = product.get("product_identification_helper") or {}
            walk(branch.get("branches", ()))

    walk(tree.get("branches", ()))
    return found


def _rhel_release(cpe: str) -> str:
    found = _RHEL_CPE.match(cpe)
    return found.group(1) if found else ""


def _rpm(purl: str) -> tuple[str, str, str, str] | None:
    """(name, [epoch:]version-release or "", arch, module "name:stream" or "") of an rpm purl; None for others."""
    if not purl.startswith("pkg:rpm/"):
        return None
    path, _, query = purl.removeprefix("pkg:rpm/").partition("?")
    path, _, version = path.partition("@")
    name = unquote(path.rsplit("/", 1)[-1])
    qualifiers = dict(parse_qsl(query))
    module = ":".join(qualifiers.get("rpmmod", "").split(":")[:2]) if qualifiers.get("rpmmod") else ""
    built = ""
    if version:
        release_version, _, release = unquote(version).rpartition("-")
        built = evr(qualifiers.get("epoch", ""), release_version, release) if release_version else ""
    return name, built, qualifiers.get("arch", ""), module
