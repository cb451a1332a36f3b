"""`crscan policy create|get|list|update|delete`: a registry's scan policy over the API (ScanPolicyService).

Like `crscan image`, these talk to a running server over REST with the same endpoint, token and profile
(`crscan.cli.client`). A policy holds at most one push rule (scan images as they are pushed) and any number of
schedule rules (re-scan on a period); each rule names repository prefixes ("*" for every repository):

    crscan policy create --registry-id crp… --push "*" --schedule 7d:team,base/app
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import typer

from crscan.cli.client import (
    ENDPOINT,
    FORMAT,
    TOKEN,
    ApiClient,
    ClientError,
    Column,
    JsonObject,
    OutputFormat,
    _run,
    _segment,
    _without_type,
    render,
)

app = typer.Typer(name="policy", help="Scan policies of registries: scan on push, re-scan on a schedule.",
                  no_args_is_help=True, rich_markup_mode=None)

POLICIES = "/container-registry/v1/scanPolicies"
SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PERIOD = re.compile(r"(\d+)([smhdw])")
# Request fields as REST messages name them (`rules.pushRule…`), and the options that set them. Not `name` and
# `description`: those words also appear in messages as plain English.
FLAGS = {"registryId": "--registry-id", "scanPolicyId": "policy ID", "rules.pushRule.repositoryPrefixes": "--push",
         "folderId": "--folder-id"}

PUSH = typer.Option(None, "--push", metavar="PREFIX",
                    help='Scan images pushed to repositories under PREFIX ("*": all); repeat for more prefixes.')
PUSH_DISABLED = typer.Option(False, "--push-disabled", help="Keep the push rule but switch it off.")
SCHEDULE = typer.Option(
    None, "--schedule", metavar="PERIOD:PREFIX[,PREFIX…][:disabled]",
    help='Re-scan repositories under the prefixes every PERIOD (30m, 12h, 7d, 2w), e.g. 7d:* or 1d:team,base/app; '
         "repeat for more rules.",
)
NAME = typer.Option(None, "--name", help="3-63 lowercase letters, digits and '-', starting with a letter.")
DESCRIPTION = typer.Option(None, "--description", help="At most 256 characters.")


def _period(text: str, spec: str) -> str:
    """A period as the API's Duration JSON ("604800s")."""
    match = _PERIOD.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ClientError(f"--schedule {spec!r}: period {text!r} is not a positive number and a unit "
                          "(s, m, h, d, w), like 12h or 7d")
    return f"{int(match.group(1)) * SECONDS[match.group(2)]}s"


def schedule_rule(spec: str) -> JsonObject:
    """`7d:team,base/app[:disabled]` → a ScheduledRule as REST JSON (the server checks the prefixes)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "disabled"):
        raise ClientError(f"--schedule {spec!r} is not PERIOD:PREFIX[,PREFIX…][:disabled], e.g. 7d:* or 1d:team,base")
    prefixes = [p.strip() for p in parts[1].split(",") if p.strip()]
    if not prefixes:
        raise ClientError(f"--schedule {spec!r} names no repository prefix (\"*\" selects every repository)")
    _check_prefixes(prefixes, f"--schedule {spec!r}")
    rule: JsonObject = {"repositoryPrefixes": prefixes, "rescanPeriod": _period(parts[0], spec)}
    if len(parts) == 3:
        rule["disabled"] = True
    return rule


def push_rule(prefixes: Sequence[str] | None, disabled: bool) -> JsonObject | None:
    """The push rule the options describe; None when they describe none."""
    if not prefixes:
        if disabled:
            raise ClientError("--push-disabled needs the rule's prefixes: give --push PREFIX too")
        return None
    _check_prefixes(prefixes, "--push")
    rule: JsonObject = {"repositoryPrefixes": list(prefixes)}
    if disabled:
        rule["disabled"] = True
    return rule


def _check_prefixes(prefixes: Sequence[str], option: str) -> None:
    """The server's grammar, checked here too so the error names the option and not a field of the request."""
    from crscan.policies.rules import PREFIX

    for prefix in prefixes:
        if not PREFIX.fullmatch(prefix):
            raise ClientError(f"{option}: {prefix!r} is not a repository prefix: lowercase path segments of "
                              "[a-z0-9._-] separated by '/', or \"*\"")


def _push_cell(policy: JsonObject) -> str:
    rule = policy.get("rules", {}).get("pushRule")
    if rule is None:
        return "-"
    return ", ".join(rule.get("repositoryPrefixes", [])) + (" (disabled)" if rule.get("disabled") else "")


def _schedule_cell(policy: JsonObject) -> str:
    rules = policy.get("rules", {}).get("scheduleRules", [])
    shown = [f"every {_shown_period(r.get('rescanPeriod', ''))}: {', '.join(r.get('repositoryPrefixes', []))}"
             + (" (disabled)" if r.get("disabled") else "") for r in rules]
    return "; ".join(shown) or "-"


def _shown_period(duration: str) -> str:
    """"604800s" → "7d": the largest unit up to days that divides it."""
    seconds = duration.removesuffix("s")
    if not seconds.isdigit():
        return duration
    value = int(seconds)
    unit = next(u for u in ("d", "h", "m", "s") if value % SECONDS[u] == 0)
    return f"{value // SECONDS[unit]}{unit}"


POLICY_COLUMNS: list[Column] = [
    ("ID", lambda p: p.get("id", "")),
    ("REGISTRY", lambda p: p.get("registryId", "")),
    ("NAME", lambda p: p.get("name", "")),
    ("PUSH", _push_cell),
    ("SCHEDULE", _schedule_cell),
    ("CREATED", lambda p: p.get("createdAt", "")),
]


def _finished(client: ApiClient, operation: JsonObject) -> JsonObject:
    """The operation's result (policy mutations finish at once; wait in case a server does not)."""
    operation = client.wait(operation, 60.0)
    if "error" in operation:
        raise ClientError(operation["error"].get("message") or "the operation failed without a message")
    return _without_type(operation.get("response", {}))


@app.command("create")
def create(
    registry_id: str = typer.Option(..., "--registry-id", help="The registry the policy is for (one per registry)."),
    name: str = NAME,
    description: str = DESCRIPTION,
    push: list[str] = PUSH,
    push_disabled: bool = PUSH_DISABLED,
    schedule: list[str] = SCHEDULE,
    endpoint: str = ENDPOINT,
    token: str = TOKEN,
    output: OutputFormat = FORMAT,
) -> None:
    """Create a registry's scan policy; prints it."""
    rules: JsonObject = {"scheduleRules": [schedule_rule(spec) for spec in schedule or ()]}
    if (rule := push_rule(push, push_disabled)) is not None:
        rules["pushRule"] = rule
    if not rules["scheduleRules"] and "pushRule" not in rules:
        raise ClientError("a policy needs a rule: give --push PREFIX and/or --schedule PERIOD:PREFIX")
    body = {"registryId": registry_id, "name": name or "", "description": description or "", "rules": rules}
    _run(endpoint, token, lambda client: render(
        _finished(client, client.request("POST", POLICIES, body=body)), output, POLICY_COLUMNS), flags=FLAGS)


@app.command("get")
def get(
    policy_id: str = typer.Argument(None, metavar="[ID]", help="Policy id."),
    registry_id: str = typer.Option(None, "--registry-id", help="The policy of this registry instead."),
    endpoint: str = ENDPOINT,
    token: str = TOKEN,
    output: OutputFormat = FORMAT,
) -> None:
    """Show a policy, by its id or by its registry."""
    if bool(policy_id) == bool(registry_id):
        raise ClientError("give exactly one of a policy ID and --registry-id")
    path = f"{POLICIES}/{_segment(policy_id)}" if policy_id else f"{POLICIES}/{_segment(registry_id)}:byRegistry"
    _run(endpoint, token, lambda client: render(client.request("GET", path), output, POLICY_COLUMNS), flags=FLAGS)


@app.command("list")
def list_policies(
    folder_id: str = typer.Option(None, "--folder-id", help="Policies of this folder's registries (default: the "
                                                             "server's only folder)."),
    endpoint: str = ENDPOINT,
    token: str = TOKEN,
    output: OutputFormat = FORMAT,
) -> None:
    """List the policies of a folder's registries (registries without one are left out)."""

    def action(client: ApiClient) -> str:
        registries = client.pages("/container-registry/v1/registries", {"folderId": folder_id}, "registries", None)
        found = (client.find(f"{POLICIES}/{_segment(r['id'])}:byRegistry") for r in registries)
        return render([policy for policy in found if policy is not None], output, POLICY_COLUMNS)

    _run(endpoint, token, action, flags=FLAGS)


@app.command("update")
def update(
    policy_id: str = typer.Argument(..., metavar="ID", help="Policy id."),
    name: str | None = NAME,
    description: str | None = DESCRIPTION,
    push: list[str] = PUSH,
    push_disabled: bool = PUSH_DISABLED,
    no_push: bool = typer.Option(False, "--no-push", help="Remove the push rule."),
    schedule: list[str] = SCHEDULE,
    no_schedule: bool = typer.Option(False, "--no-schedule", help="Remove every schedule rule."),
    endpoint: str = ENDPOINT,
    token: str = TOKEN,
    output: OutputFormat = FORMAT,
) -> None:
    """Change what the options name: --push/--push-disabled replace the push rule, --schedule every schedule
    rule; the rest of the policy stays."""
    if no_push and (push or push_disabled):
        raise ClientError("--no-push removes the push rule: give it without --push and --push-disabled")
    if no_schedule and schedule:
        raise ClientError("--no-schedule removes the schedule rules: give it without --schedule")
    new_push = push_rule(push, push_disabled)
    new_schedule = [schedule_rule(spec) for spec in schedule or ()]
    changes_rules = bool(new_push or new_schedule or no_push or no_schedule)
    if name is None and description is None and not changes_rules:
        raise ClientError("nothing to update: give --name, --description, --push, --schedule, --no-push or "
                          "--no-schedule")

    def action(client: ApiClient) -> str:
        path = f"{POLICIES}/{_segment(policy_id)}"
        body: JsonObject = {"updateMask": ",".join(
            mask for mask, given in (("name", name is not None), ("description", description is not None),
                                     ("rules", changes_rules)) if given)}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        if changes_rules:
            rules = dict(client.request("GET", path).get("rules", {}))  # the part no option names stays
            if new_push is not None or no_push:
                rules.pop("pushRule", None)
                if new_push is not None:
                    rules["pushRule"] = new_push
            if new_schedule or no_schedule:
                rules["scheduleRules"] = new_schedule
            if not rules.get("pushRule") and not rules.get("scheduleRules"):
                raise ClientError("the policy would have no rule left; delete it with `crscan policy delete` instead")
            body["rules"] = rules
        return render(_finished(client, client.request("PATCH", path, body=body)), output, POLICY_COLUMNS)

    _run(endpoint, token, action, flags=FLAGS)


@app.command("delete")
def delete(
    policy_id: str = typer.Argument(..., metavar="ID", help="Policy id."),
    endpoint: str = ENDPOINT,
    token: str = TOKEN,
) -> None:
    """Delete a policy: its registry's images are no longer scanned on push or on a schedule."""

    def action(client: ApiClient) -> str:
        _finished(client, client.request("DELETE", f"{POLICIES}/{_segment(policy_id)}"))
        return f"scan policy {policy_id} deleted"

    _run(endpoint, token, action, flags=FLAGS)
