"""Hypothesis strategies for ScanReports with arbitrary (hostile) text in every field a scan copies from an image."""

from __future__ import annotations

import hashlib

from hypothesis import strategies as st
from packageurl import PackageURL

from crscan.model import AdvisoryDetail, Distro, Ecosystem, Finding, LayerRef, Package, ScanReport, Severity

# Anything an image can put in a file name or package metadata: control characters, escapes, markup brackets.
_chars = st.characters() | st.sampled_from(["[", "]", "/", "\n", "\x1b", "\\", '"', "%", ":"])
text = st.text(_chars, max_size=40)
digests = st.binary(max_size=8).map(lambda b: "sha256:" + hashlib.sha256(b).hexdigest())
layers = st.builds(LayerRef, digest=digests, diff_id=digests)
distros = st.builds(Distro, id=st.text(_chars, min_size=1, max_size=20), version_id=text, codename=text,
                    pretty_name=text)
# The catalog only ever builds well-formed purls; their parts still come from the image.
purls = st.builds(lambda type_, name, version: PackageURL(type=type_, name=name, version=version or None).to_string(),
                  st.sampled_from(["deb", "apk", "rpm", "pypi", "npm", "golang"]),
                  st.text("abcxyz019-._~ %/@?#:+é日", max_size=20).map(lambda tail: "n" + tail),  # never empty
                  st.text("abcxyz019-._~ %/@?#:+é日", max_size=20))
packages = st.builds(
    Package, ecosystem=st.sampled_from(list(Ecosystem)), name=st.text(_chars, min_size=1, max_size=40), version=text,
    purl=st.just("") | purls, arch=text, source_name=text, source_version=text,
    path=text, layer=st.none() | layers,
)
# CVSS base scores of rated findings: one decimal, 0.1-10.0 (0.0 is severity "none", never a rated finding; the
# library quantizes other floats and conflates 0.0 with no score), so none other is generated.
scores = st.none() | st.integers(min_value=1, max_value=100).map(lambda tenths: tenths / 10)
details = st.builds(
    AdvisoryDetail, description=text,
    cwes=st.lists(st.text(_chars, max_size=6).map("CWE-".__add__), max_size=3).map(tuple),
    published=text, modified=text, references=st.lists(text, max_size=3).map(tuple), cve_status=text,
    nvd_cvss_vector=text, nvd_cvss_score=scores,
)
findings = st.builds(
    Finding, name=st.text(_chars, min_size=1, max_size=40), advisory_id=text, link=text,
    package=st.text(_chars, min_size=1, max_size=40),
    source=st.sampled_from([e.value for e in Ecosystem]), version=text, fixed_by=text,
    origin=st.sampled_from(["os", "lang"]), type=text, severity=st.sampled_from(list(Severity)),
    severity_source=text, feed=text, layer=st.none() | layers, path=text,
    aliases=st.lists(st.text(_chars, min_size=1, max_size=20), max_size=3).map(tuple), cvss_vector=text,
    cvss_score=scores, detail=st.none() | details,
)
reports = st.builds(
    ScanReport, image=st.text(_chars, min_size=1, max_size=60), digest=st.just("") | digests,
    distro=st.none() | distros,
    packages=st.lists(packages, max_size=6).map(tuple), findings=st.lists(findings, max_size=8).map(tuple),
    warnings=st.lists(text, max_size=3).map(tuple), feed_build_id=text, layers=st.lists(layers, max_size=3).map(tuple),
)
