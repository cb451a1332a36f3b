"""The API's `type` of language findings uses Trivy's names (its `LangType` constants, which the real service
shows), chosen by the file a package was read from: each cataloger over a real fixture."""

from __future__ import annotations

import pytest

from crscan.catalog import default_catalogers
from tests.catalog.helpers import file
from tests.catalog.test_hostile import CATALOG_TESTS, SAMPLES

# sample (tests/catalog/test_hostile.py) -> Trivy's LangType for what that file describes
TRIVY_TYPES = {
    "python": "python-pkg",
    "npm-lock": "npm",
    "npm": "node-pkg",
    "jar": "jar",
    "gemspec": "gemspec",
    "cargo": "cargo",
    "composer": "composer-vendor",
    "dotnet": "dotnet-core",
}


@pytest.mark.parametrize("sample", sorted(TRIVY_TYPES))
def test_each_cataloger_names_its_packages_as_trivy_does(sample):
    path, fixture = SAMPLES[sample]
    data = (CATALOG_TESTS / fixture).read_bytes()
    packages = [
        package
        for cataloger in default_catalogers()
        if cataloger.wants(path, 0o644, len(data))
        for package in cataloger.catalog({path: file(path, data, mode=0o644)}).packages
    ]
    assert packages, f"{fixture} gave no packages"
    assert {p.package_type for p in packages} == {TRIVY_TYPES[sample]}
