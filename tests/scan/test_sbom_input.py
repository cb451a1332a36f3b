"""Reading packages out of SBOMs other tools wrote: purls into crscan's package names and versions."""

from __future__ import annotations

import pytest

from crscan.model import Distro, Ecosystem
from crscan.scan.sbom_input import SbomInputError, parse_sbom

# Shaped like Trivy's CycloneDX output of an Alpine image (OS component, purls with distro qualifiers).
TRIVY_LIKE = {
    "bomFormat": "CycloneDX", "specVersion": "1.5",
    "metadata": {"component": {"type": "container", "name": "alpine:3.19", "version": "sha256:" + "1" * 64}},
    "components": [
        {"type": "operating-system", "name": "alpine", "version": "3.19.1"},
        {"type": "library", "name": "busybox", "version": "1.36.1-r15",
         "purl": "pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=3.19.1",
         "licenses": [{"license": {"id": "GPL-2.0-only"}}]},
        {"type": "library", "name": "@babel/core", "version": "7.0.0", "purl": "pkg:npm/%40babel/core@7.0.0",
         "components": [{"type": "library", "name": "Django", "version": "3.2", "purl": "pkg:pypi/Django@3.2"}]},
        {"type": "library", "name": "commons-text", "version": "1.9",
         "purl": "pkg:maven/org.apache.commons/commons-text@1.9"},
        {"type": "library", "name": "bash", "version": "5.1.8-6.el9",
         "purl": "pkg:rpm/redhat/bash@5.1.8-6.el9?arch=x86_64&epoch=1"},
        {"type": "file", "name": "/etc/passwd"},
    ],
}


def test_purls_become_crscan_packages():
    read = parse_sbom(TRIVY_LIKE, "trivy.json")
    assert (read.subject, read.digest) == ("alpine:3.19", "sha256:" + "1" * 64)
    assert read.inventory.distro == Distro("alpine", "3.19.1")
    packages = {p.name: p for p in read.inventory.packages}
    assert packages["busybox"].ecosystem is Ecosystem.APK and packages["busybox"].arch == "x86_64"
    assert packages["busybox"].source_name == "busybox" and packages["busybox"].licenses == ("GPL-2.0-only",)
    assert packages["@babel/core"].ecosystem is Ecosystem.NPM
    assert packages["django"].version == "3.2"  # nested component, PEP 503 name
    assert packages["org.apache.commons:commons-text"].ecosystem is Ecosystem.MAVEN
    assert packages["bash"].version == "1:5.1.8-6.el9"
    assert read.inventory.warnings == ("trivy.json: component '/etc/passwd' has no package URL crscan can match; "
                                       "skipped",)


def test_distro_from_the_purl_qualifier_when_there_is_no_os_component():
    document = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [
        {"type": "library", "name": "openssl", "version": "3.0.11-1~deb12u2",
         "purl": "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&upstream=openssl&distro=debian-12"}]}
    read = parse_sbom(document, "syft.json")
    assert read.inventory.distro == Distro("debian", "12")
    assert read.inventory.warnings == ()


def test_spdx_packages_and_operating_system():
    document = {"spdxVersion": "SPDX-2.3", "packages": [
        {"SPDXID": "SPDXRef-os", "name": "debian", "versionInfo": "12", "primaryPackagePurpose": "OPERATING-SYSTEM"},
        {"SPDXID": "SPDXRef-a", "name": "libssl3", "versionInfo": "3.0.11-1~deb12u2", "licenseDeclared": "NOASSERTION",
         "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                           "referenceLocator": "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?upstream=openssl"}]},
        {"SPDXID": "SPDXRef-b", "name": "no-purl"},
    ]}
    read = parse_sbom(document, "bom.spdx.json")
    assert read.inventory.distro == Distro("debian", "12")
    [libssl] = read.inventory.packages
    assert (libssl.ecosystem, libssl.source_name, libssl.licenses) == (Ecosystem.DPKG, "openssl", ())
    assert "'SPDXRef-b' has no package URL" in read.inventory.warnings[0]


def test_os_packages_without_a_distro_are_reported():
    document = {"bomFormat": "CycloneDX", "specVersion": "1.4", "components": [
        {"type": "library", "name": "musl", "version": "1.2.4-r2", "purl": "pkg:apk/alpine/musl@1.2.4-r2"}]}
    read = parse_sbom(document, "x.json")
    assert read.inventory.distro is None
    assert read.inventory.warnings == ("x.json: names no operating system (no OS component, no distro= purl "
                                       "qualifier): 1 OS packages could not be matched",)


@pytest.mark.parametrize("document", [{"bomFormat": "CycloneDX", "specVersion": "1.3"}, {"spdxVersion": "SPDX-2.2"},
                                      {"hello": 1}, []])
def test_unsupported_documents_are_refused(document):
    with pytest.raises(SbomInputError):
        parse_sbom(document, "x.json")
