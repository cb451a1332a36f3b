"""`crscan policy …` and `crscan image list` without flags, as a user runs them: the real CLI process against a real
`crscan serve` (SQLite), checked against what the REST API then holds."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.api.test_serve_cli import CRSCAN
from tests.cli_client.conftest import crscan_image, parse_table

POLICIES = "/container-registry/v1/scanPolicies"


def crscan(*args: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CRSCAN_")}
    environ["CRSCAN_PROFILE"] = str(Path("/nonexistent/crscan-profile.toml"))
    return subprocess.run([str(CRSCAN), *args], capture_output=True, text=True, env=environ, timeout=60)


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_policy_lifecycle_through_the_cli(served):
    registry = served.seeded.registry_id
    api = f"{POLICIES}/{registry}:byRegistry"
    assert served.http.get(api).status_code == 404

    created = crscan("policy", "create", "--registry-id", registry, "--name", "nightly", "--push", "*",
                     "--schedule", "7d:team,base/app", "--schedule", "12h:team/app:disabled",
                     "--endpoint", served.url, "--format", "json")
    assert created.returncode == 0, created.stderr
    policy = json.loads(created.stdout)
    stored = served.http.get(api).json()
    assert policy == stored
    assert stored["name"] == "nightly" and stored["registryId"] == registry
    assert stored["rules"] == {
        "pushRule": {"repositoryPrefixes": ["*"]},
        "scheduleRules": [{"repositoryPrefixes": ["team", "base/app"], "rescanPeriod": "604800s"},
                          {"repositoryPrefixes": ["team/app"], "rescanPeriod": "43200s", "disabled": True}],
    }
    policy_id = stored["id"]

    again = one_line_error(crscan("policy", "create", "--registry-id", registry, "--push", "*",
                                  "--endpoint", served.url))
    assert again == f"crscan policy: error: registry {registry} already has a scan policy"

    by_id = crscan("policy", "get", policy_id, "--endpoint", served.url)
    by_registry = crscan("policy", "get", "--registry-id", registry, "--endpoint", served.url)
    assert by_id.returncode == 0 and by_id.stdout == by_registry.stdout
    (row,) = parse_table(by_id.stdout)
    assert row["ID"] == policy_id and row["PUSH"] == "*"
    assert row["SCHEDULE"] == "every 7d: team, base/app; every 12h: team/app (disabled)"

    # The only folder is the default; --folder-id names it the same.
    listed = crscan("policy", "list", "--endpoint", served.url, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [stored]
    in_folder = crscan("policy", "list", "--folder-id", "b1gfolder", "--endpoint", served.url, "--format", "json")
    assert json.loads(in_folder.stdout) == [stored]

    # Only the schedule changes: the push rule stays; then the push rule goes and the name changes.
    updated = crscan("policy", "update", policy_id, "--schedule", "1d:*", "--endpoint", served.url, "--format", "json")
    assert updated.returncode == 0, updated.stderr
    assert served.http.get(api).json()["rules"] == {
        "pushRule": {"repositoryPrefixes": ["*"]},
        "scheduleRules": [{"repositoryPrefixes": ["*"], "rescanPeriod": "86400s"}]}
    renamed = crscan("policy", "update", policy_id, "--no-push", "--name", "daily", "--endpoint", served.url,
                     "--format", "json")
    assert renamed.returncode == 0, renamed.stderr
    now = served.http.get(api).json()
    assert json.loads(renamed.stdout) == now
    assert now["name"] == "daily" and "pushRule" not in now["rules"] and len(now["rules"]["scheduleRules"]) == 1

    deleted = crscan("policy", "delete", policy_id, "--endpoint", served.url)
    assert deleted.returncode == 0 and deleted.stdout.strip() == f"scan policy {policy_id} deleted"
    assert served.http.get(api).status_code == 404
    assert json.loads(crscan("policy", "list", "--endpoint", served.url, "--format", "json").stdout) == []
    gone = one_line_error(crscan("policy", "get", policy_id, "--endpoint", served.url))
    assert gone == f"crscan policy: error: scan policy {policy_id} not found"


def test_policy_mistakes_are_one_line_exit_2_naming_the_option(served):
    registry = served.seeded.registry_id
    cases = {
        ("create", "--registry-id", registry): "a policy needs a rule: give --push PREFIX and/or --schedule",
        ("create", "--registry-id", registry, "--schedule", "7x:*"): "period '7x' is not a positive number and a unit",
        ("create", "--registry-id", registry, "--schedule", "7d"): "'7d' is not PERIOD:PREFIX",
        ("create", "--registry-id", registry, "--push-disabled"): "--push-disabled needs the rule's prefixes",
        ("create", "--registry-id", registry, "--push", "Team/App"): "--push: 'Team/App' is not a repository prefix",
        ("create", "--registry-id", registry, "--schedule", "1d:ok,Bad"): "--schedule '1d:ok,Bad': 'Bad' is not a",
        ("create", "--registry-id", registry, "--push", "*", "--name", "X"): "name: 3-63 characters",
        ("create", "--registry-id", "crpnothere", "--push", "*"): "registry crpnothere not found",
        ("get",): "give exactly one of a policy ID and --registry-id",
        ("update", "anything"): "nothing to update",
        ("update", "anything", "--no-push", "--push", "*"): "--no-push removes the push rule",
    }
    for args, problem in cases.items():
        line = one_line_error(crscan("policy", *args, "--endpoint", served.url))
        assert line.startswith("crscan policy: error: ") and problem in line, (args, line)
    assert served.http.get(f"{POLICIES}/{registry}:byRegistry").status_code == 404  # nothing was created


def test_image_list_without_flags_uses_the_only_folder_and_names_the_flag_when_there_are_several(served):
    alone = crscan_image("list", "--endpoint", served.url, "--format", "json")
    assert alone.returncode == 0, alone.stderr
    in_folder = crscan_image("list", "--folder-id", "b1gfolder", "--endpoint", served.url, "--format", "json")
    assert json.loads(alone.stdout) == json.loads(in_folder.stdout) and len(json.loads(alone.stdout)) >= 2

    other = served.store.registries.add("other", "other.example:5000", folder_id="b1gsecond")
    try:
        line = one_line_error(crscan_image("list", "--endpoint", served.url))
        policies = one_line_error(crscan("policy", "list", "--endpoint", served.url))
    finally:
        served.store.registries.remove(other.id)
    assert line == ("crscan image: error: one of --repository-name, --registry-id and --folder-id is required "
                    "(folders here: 'b1gfolder', 'b1gsecond')")
    assert "--folder-id is required (folders here: 'b1gfolder', 'b1gsecond')" in policies
