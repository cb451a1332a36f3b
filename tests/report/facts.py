"""A scan report of a Debian 12 image with Django and lodash installed, built from real advisories."""

from __future__ import annotations

import dataclasses
import hashlib

from crscan.model import AdvisoryDetail, Distro, Ecosystem, Finding, LayerRef, Package, ScanReport, Severity


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


BASE = LayerRef(digest=_sha("debian:12 layer"), diff_id=_sha("debian:12 diff"))
APP = LayerRef(digest=_sha("app layer"), diff_id=_sha("app diff"))
BOOKWORM = Distro(id="debian", version_id="12", codename="bookworm", pretty_name="Debian GNU/Linux 12 (bookworm)")

DPKG_STATUS = "/var/lib/dpkg/status"
DJANGO_METADATA = "/usr/local/lib/python3.11/site-packages/Django-3.2.dist-info/METADATA"
LODASH_PACKAGE_JSON = "/app/node_modules/lodash/package.json"

OPENSSL = Package(Ecosystem.DPKG, "openssl", "3.0.11-1~deb12u2",
                  purl="pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12", arch="amd64",
                  source_name="openssl", source_version="3.0.11-1~deb12u2", path=DPKG_STATUS, layer=BASE)
LIBSSL3 = Package(Ecosystem.DPKG, "libssl3", "3.0.11-1~deb12u2",
                  purl="pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12", arch="amd64",
                  source_name="openssl", source_version="3.0.11-1~deb12u2", path=DPKG_STATUS, layer=BASE)
LIBC6 = Package(Ecosystem.DPKG, "libc6", "2.36-9+deb12u4",
                purl="pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12", arch="amd64",
                source_name="glibc", source_version="2.36-9+deb12u4", path=DPKG_STATUS, layer=BASE)
DJANGO = Package(Ecosystem.PYPI, "django", "3.2", purl="pkg:pypi/django@3.2", path=DJANGO_METADATA, layer=APP)
LODASH = Package(Ecosystem.NPM, "lodash", "4.17.4", purl="pkg:npm/lodash@4.17.4", path=LODASH_PACKAGE_JSON,
                 layer=APP)


def _debian(package: Package, cve: str, fixed: str, severity: Severity) -> Finding:
    return Finding(name=cve, advisory_id=cve, link=f"https://security-tracker.debian.org/tracker/{cve}",
                   package=package.name, source="dpkg", version=package.version, fixed_by=fixed, origin="os",
                   type="debian", severity=severity, severity_source="debian", feed="debian", layer=package.layer,
                   path=package.path)


def _osv(package: Package, cve: str, ghsa: str, fixed: str, severity: Severity, type_: str) -> Finding:
    return Finding(name=cve, advisory_id=ghsa, link=f"https://github.com/advisories/{ghsa}", package=package.name,
                   source=package.ecosystem.value, version=package.version, fixed_by=fixed, origin="lang",
                   type=type_, severity=severity, severity_source="ghsa", feed="osv", layer=package.layer,
                   path=package.path)


# openssl and libssl3 share a source package, so one CVE reaches both (as it does in Trivy's output).
OPENSSL_CVE = _debian(OPENSSL, "CVE-2023-5678", "3.0.13-1~deb12u1", Severity.MEDIUM)
LIBSSL3_CVE = _debian(LIBSSL3, "CVE-2023-5678", "3.0.13-1~deb12u1", Severity.MEDIUM)
OPENSSL_PKCS12 = _debian(OPENSSL, "CVE-2024-0727", "3.0.13-1~deb12u1", Severity.LOW)
GLIBC_UNFIXED = _debian(LIBC6, "CVE-2010-4756", "", Severity.NEGLIGIBLE)  # Debian: unimportant, never fixed
# With the detail of NVD's record of CVE-2021-33203 (description shortened; the shared mirror's nvd/ has it whole).
ADMINDOCS_DETAIL = AdvisoryDetail(
    description="Django before 2.2.24, 3.x before 3.1.12, and 3.2.x before 3.2.4 has a potential directory "
                "traversal via django.contrib.admindocs.",
    cwes=("CWE-22",), published="2021-06-08T18:15:08.480", modified="2026-06-17T03:54:20.903",
    references=("https://docs.djangoproject.com/en/3.2/releases/security/",), cve_status="Modified",
    nvd_cvss_vector="CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:N/A:N", nvd_cvss_score=4.9)
DJANGO_ADMINDOCS = dataclasses.replace(
    _osv(DJANGO, "CVE-2021-33203", "GHSA-68w8-qjq3-2gfm", "3.2.4", Severity.MEDIUM, "python"),
    aliases=("GHSA-68w8-qjq3-2gfm", "PYSEC-2021-98"), detail=ADMINDOCS_DETAIL)
DJANGO_ORDER_BY = _osv(DJANGO, "CVE-2021-35042", "GHSA-xpfp-f569-q3p2", "3.2.5", Severity.CRITICAL, "python")
LODASH_PROTO = _osv(LODASH, "CVE-2018-16487", "GHSA-4xc9-xhrj-v574", "4.17.11", Severity.HIGH, "node")
LODASH_UNRATED = _osv(LODASH, "CVE-2018-3721", "GHSA-fvqr-27wr-82fm", "4.17.5", Severity.UNDEFINED, "node")

FINDINGS = (OPENSSL_CVE, LIBSSL3_CVE, OPENSSL_PKCS12, GLIBC_UNFIXED, DJANGO_ADMINDOCS, DJANGO_ORDER_BY, LODASH_PROTO,
            LODASH_UNRATED)


def bookworm_report(findings: tuple[Finding, ...] = FINDINGS) -> ScanReport:
    return ScanReport(
        image="registry.example.com/shop/web:1.4",
        digest=_sha("manifest"),
        distro=BOOKWORM,
        packages=(OPENSSL, LIBSSL3, LIBC6, DJANGO, LODASH),
        findings=findings,
        warnings=("/usr/local/lib/python3.11/site-packages/broken.dist-info/METADATA: no Version header",),
        feed_build_id="20261127T0300Z-7f3a",
        layers=(BASE, APP),
    )
