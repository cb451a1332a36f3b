""".NET: a published application's deps.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from crscan.catalog.catalogers import DOTNET_DEPS
from crscan.model import Ecosystem
from tests.catalog.helpers import file, image_files

TESTDATA = Path(__file__).parent / "testdata"


def test_packages_not_the_project():
    result = DOTNET_DEPS.catalog(image_files(TESTDATA))
    assert result.warnings == ()
    assert {(p.name, p.version, p.purl) for p in result.packages} == {
        ("Newtonsoft.Json", "13.0.1", "pkg:nuget/Newtonsoft.Json@13.0.1"),
        ("System.Text.Encodings.Web", "4.7.1", "pkg:nuget/System.Text.Encodings.Web@4.7.1")}
    assert all(p.ecosystem is Ecosystem.NUGET and p.path == "/app/WebShop.deps.json" for p in result.packages)


@pytest.mark.parametrize("data,problem", [(b"\xff", "not valid JSON"), (b'{"runtimeTarget": {}}', "no 'libraries'")])
def test_broken_deps_json_is_a_warning(data, problem):
    result = DOTNET_DEPS.catalog({"/app/x.deps.json": file("/app/x.deps.json", data)})
    assert result.packages == () and problem in result.warnings[0]
