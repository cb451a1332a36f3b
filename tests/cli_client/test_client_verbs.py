"""`crscan image …` against a running `crscan serve`: each verb returns what the REST API returns, in each format."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.cli_client.conftest import MANY, crscan_image, parse_table

FORMATS = ("json", "yaml", "table")


def decode(output: str, format: str):
    return json.loads(output) if format == "json" else yaml.safe_load(output)


def rest_all(served, path: str, key: str, **params) -> list[dict]:
    """Every item across pages, fetched with plain HTTP."""
    items, token = [], ""
    while True:
        answer = served.http.get(path, params={**params, "pageToken": token} if token else params).json()
        items += answer.get(key, [])
        token = answer.get("nextPageToken", "")
        if not token:
            return items


@pytest.mark.parametrize("format", FORMATS)
def test_list_images_matches_the_api(served, format):
    expected = rest_all(served, "/container-registry/v1/images", "images", repositoryName=served.seeded.repository_name)
    assert len(expected) == 2
    done = crscan_image("list", "--repository-name", served.seeded.repository_name, "--endpoint", served.url,
                        "--format", format)
    assert done.returncode == 0, done.stderr
    if format == "table":
        rows = parse_table(done.stdout)
        assert [(r["ID"], r["NAME"], r["DIGEST"], r["TAGS"]) for r in rows] == [
            (i["id"], i["name"], i["digest"], ", ".join(i["tags"])) for i in expected]
        assert "2.79 GB" in {r["COMPRESSED SIZE"] for r in rows}  # the seeded 3,000,000,000-byte layer
    else:
        assert decode(done.stdout, format) == expected


def test_list_images_by_registry_gives_the_same_images(served):
    by_name = crscan_image("list", "--repository-name", served.seeded.repository_name, "--endpoint", served.url,
                           "--format", "json")
    by_registry = crscan_image("list", "--registry-id", served.seeded.registry_id, "--endpoint", served.url,
                               "--format", "json")
    assert sorted(i["id"] for i in json.loads(by_name.stdout)) == sorted(i["id"] for i in json.loads(by_registry.stdout))


@pytest.mark.parametrize("format", FORMATS)
def test_get_last_scan_result_matches_the_api(served, format):
    expected = served.http.get(f"/container-registry/v1/images/{served.seeded.image_id}:lastScanResult").json()
    done = crscan_image("get-last-scan-result", served.seeded.image_id, "--endpoint", served.url, "--format", format)
    assert done.returncode == 0, done.stderr
    if format == "table":
        (row,) = parse_table(done.stdout)
        assert row == {"ID": expected["id"], "IMAGE": expected["imageId"], "SCANNED AT": expected["scannedAt"],
                       "STATUS": "READY", "VULNERABILITIES": "critical:1, high:1"}
    else:
        assert decode(done.stdout, format) == expected


@pytest.mark.parametrize("format", FORMATS)
def test_list_scan_results_by_repository_matches_the_api(served, format):
    expected = rest_all(served, "/container-registry/v1/scans", "scanResults", repositoryId=served.seeded.repository_id)
    done = crscan_image("list-scan-results", "--repository-id", served.seeded.repository_id,
                        "--endpoint", served.url, "--format", format)
    assert done.returncode == 0, done.stderr
    if format == "table":
        assert [r["ID"] for r in parse_table(done.stdout)] == [r["id"] for r in expected]
    else:
        assert decode(done.stdout, format) == expected
    assert {r["id"] for r in expected} >= {served.seeded.scan_result_id, served.big_scan_result_id}


def test_list_scan_results_passes_the_filter_and_needs_one_scope(served):
    done = crscan_image("list-scan-results", "--image-id", served.seeded.image_id, "--filter", 'status="ERROR"',
                        "--endpoint", served.url, "--format", "json")
    assert done.returncode == 0 and json.loads(done.stdout) == []
    neither = crscan_image("list-scan-results", "--endpoint", served.url)
    assert neither.returncode == 2 and "exactly one of --image-id and --repository-id" in neither.stderr


@pytest.mark.parametrize("format", FORMATS)
def test_list_vulnerabilities_matches_the_api(served, format):
    path = f"/container-registry/v1/scans/{served.seeded.scan_result_id}:listVulnerabilities"
    expected = rest_all(served, path, "vulnerabilities")
    done = crscan_image("list-vulnerabilities", "--scan-result-id", served.seeded.scan_result_id,
                        "--endpoint", served.url, "--format", format)
    assert done.returncode == 0, done.stderr
    if format == "table":
        rows = parse_table(done.stdout)
        assert [(r["SEVERITY"], r["NAME"], r["PACKAGE"], r["VERSION"], r["FIXED BY"]) for r in rows] == [
            (v["severity"], v["package"]["name"], v["package"]["package"], v["package"]["version"],
             v["package"].get("fixedBy", "")) for v in expected]
        assert rows[0]["SEVERITY"] == "CRITICAL"
    else:
        assert decode(done.stdout, format) == expected


def test_paging_follows_next_page_token_up_to_the_limit(served):
    path = f"/container-registry/v1/scans/{served.big_scan_result_id}:listVulnerabilities"
    everything = rest_all(served, path, "vulnerabilities")
    assert len(everything) == MANY
    args = ("list-vulnerabilities", "--scan-result-id", served.big_scan_result_id, "--endpoint", served.url,
            "--format", "json")

    unlimited = json.loads(crscan_image(*args).stdout)  # 13 default-size pages
    assert unlimited == everything
    over_a_page = json.loads(crscan_image(*args, "--limit", "1100").stdout)  # 1000 + 100
    assert over_a_page == everything[:1100]
    small = json.loads(crscan_image(*args, "--limit", "7").stdout)
    assert small == everything[:7]
    filtered = json.loads(crscan_image(*args, "--filter", 'severity="LOW"', "--limit", "500").stdout)
    assert len(filtered) == 412 and {v["severity"] for v in filtered} == {"LOW"}
