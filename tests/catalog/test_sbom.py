"""CycloneDX output of an inventory, validated against the CycloneDX 1.6 JSON schema."""

from __future__ import annotations

import json
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from crscan.catalog import catalog_image
from crscan.cli.sbom import inventory_to_cyclonedx
from tests.catalog.helpers import TESTDATA_LAYER, image_files

CATALOG_TESTS = Path(__file__).parent
DIGEST = "sha256:" + "0" * 64


def test_inventory_as_valid_cyclonedx():
    files = {**image_files(CATALOG_TESTS / "dpkg/testdata"), **image_files(CATALOG_TESTS / "node/testdata")}
    inventory = catalog_image(files)
    document = inventory_to_cyclonedx(inventory, image="registry.example/shop:1", digest=DIGEST)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(document) is None
    bom = json.loads(document)
    assert bom["metadata"]["component"]["name"] == "registry.example/shop:1"
    assert bom["metadata"]["component"]["type"] == "container"
    components = bom["components"]
    os_component = next(c for c in components if c["type"] == "operating-system")
    assert (os_component["name"], os_component["version"]) == ("debian", "12")
    libraries = [c for c in components if c["type"] == "library"]
    assert sorted(c["purl"] for c in libraries) == sorted(p.purl for p in inventory.packages)
    yaml = next(c for c in libraries if c["name"] == "python3-yaml")
    values = {p["value"] for p in yaml["properties"]}
    assert {"/var/lib/dpkg/status", TESTDATA_LAYER.digest, "pyyaml", "6.0-3"} <= values
    # the two copies of ms installed under /app at different versions stay two components
    installed_ms = [c for c in libraries if c["name"] == "ms"
                    and any(p["value"].startswith("/app/node_modules/") for p in c["properties"])]
    assert sorted(c["version"] for c in installed_ms) == ["2.0.0", "2.1.3"]
