"""Scan policies in the store, and what their rules select.

A policy's `rules` column holds the ScanRules message as proto JSON. A repository prefix selects the
repository it names and every repository under it ("team" selects "team" and "team/app", not "teamwork");
"*" selects all. A prefix may also be written with the registry id in front, as the API shows repositories.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from google.protobuf import json_format
from sqlalchemy import func, select
from yandex.cloud.containerregistry.v1 import scan_policy_pb2

from crscan.policies.interface import PolicyError
from crscan.store import ScanStatus, Store, schema
from crscan.store.schema import utcnow

PREFIX = re.compile(r"\*|[a-z0-9]+(?:[._-][a-z0-9]+)*(/([a-z0-9]+(?:[._-][a-z0-9]+)*))*")  # the protos' pattern


def rules_from_json(value: dict[str, Any]) -> scan_policy_pb2.ScanRules:
    rules = scan_policy_pb2.ScanRules()
    json_format.ParseDict(value or {}, rules)
    return rules


def rules_to_json(rules: scan_policy_pb2.ScanRules) -> dict[str, Any]:
    document: dict[str, Any] = json_format.MessageToDict(rules)
    return document


def check_rules(rules: scan_policy_pb2.ScanRules) -> None:
    """Raise PolicyError naming the first malformed field."""
    if rules.HasField("push_rule"):
        _check_prefixes(rules.push_rule.repository_prefixes, "rules.push_rule.repository_prefixes")
    for n, rule in enumerate(rules.schedule_rules):
        where = f"rules.schedule_rules[{n}]"
        _check_prefixes(rule.repository_prefixes, f"{where}.repository_prefixes")
        if not rule.HasField("rescan_period"):
            raise PolicyError(f"{where}.rescan_period is required")
        if rule.rescan_period.ToTimedelta() <= dt.timedelta(0):
            raise PolicyError(f"{where}.rescan_period must be positive")


def _check_prefixes(prefixes: Sequence[str], where: str) -> None:
    if not prefixes:
        raise PolicyError(f"{where} must name at least one prefix (\"*\" selects every repository)")
    for prefix in prefixes:
        if not PREFIX.fullmatch(prefix):
            raise PolicyError(
                f"{where}: {prefix!r} is not a repository prefix: lowercase path segments of [a-z0-9._-] "
                "separated by '/', or \"*\""
            )


def selects(prefixes: Iterable[str], registry_id: str, repository: str) -> bool:
    """Whether any prefix selects the repository (its path in the registry)."""
    for prefix in prefixes:
        prefix = prefix.removeprefix(f"{registry_id}/")
        if prefix == "*" or repository == prefix or repository.startswith(prefix + "/"):
            return True
    return False


def policy_of(store: Store, registry_id: str) -> schema.ScanPolicy | None:
    with store.sessions() as session:
        return session.scalars(
            select(schema.ScanPolicy).where(schema.ScanPolicy.registry_id == registry_id)
        ).one_or_none()


def scan_on_push(store: Store, image_ids: Iterable[str], wake: Callable[[], None] | None = None) -> list[str]:
    """Queue scans of the pushed/synced images their registry's push rule selects; returns the image ids queued.

    Give this to the webhook and `registry sync` as their hook for added or re-tagged images.
    """
    queued = []
    policies: dict[str, scan_policy_pb2.ScanRules | None] = {}
    for image_id in image_ids:
        with store.sessions() as session:
            row = session.execute(
                select(schema.Repository.registry_id, schema.Repository.name)
                .join(schema.Image, schema.Image.repository_id == schema.Repository.id)
                .where(schema.Image.id == image_id)
            ).one_or_none()
        if row is None:
            continue  # deleted meanwhile
        registry_id, repository = row
        if registry_id not in policies:
            policy = policy_of(store, registry_id)
            policies[registry_id] = None if policy is None or policy.disabled else rules_from_json(policy.rules)
        rules = policies[registry_id]
        if rules is None or not rules.HasField("push_rule") or rules.push_rule.disabled:
            continue
        if selects(rules.push_rule.repository_prefixes, registry_id, repository):
            store.scans.enqueue(image_id)
            queued.append(image_id)
    if queued and wake is not None:
        wake()
    return queued


def due_for_rescan(store: Store, now: dt.datetime | None = None) -> list[str]:
    """Images a scheduled rule selects whose last finished scan is older than the rule's period (or that were
    never scanned), with no scan running now."""
    now = now or utcnow()
    due: list[str] = []
    with store.sessions() as session:
        policies = list(session.scalars(select(schema.ScanPolicy).where(schema.ScanPolicy.disabled.is_(False))))
        for policy in policies:
            rules = [r for r in rules_from_json(policy.rules).schedule_rules if not r.disabled]
            if not rules:
                continue
            last_finished = (
                select(schema.ScanResult.image_id, func.max(schema.ScanResult.scanned_at).label("last"))
                .where(schema.ScanResult.status.in_((ScanStatus.READY, ScanStatus.ERROR)))
                .group_by(schema.ScanResult.image_id)
                .subquery()
            )
            running = select(schema.ScanResult.image_id).where(schema.ScanResult.status == ScanStatus.RUNNING)
            images = session.execute(
                select(schema.Image.id, schema.Repository.name, last_finished.c.last)
                .join(schema.Repository, schema.Image.repository_id == schema.Repository.id)
                .outerjoin(last_finished, last_finished.c.image_id == schema.Image.id)
                .where(schema.Repository.registry_id == policy.registry_id, schema.Image.id.not_in(running))
                .order_by(schema.Image.id)
            ).all()
            for image_id, repository, last in images:
                periods = [
                    r.rescan_period.ToTimedelta() for r in rules
                    if selects(r.repository_prefixes, policy.registry_id, repository)
                ]
                if periods and (last is None or now - last >= min(periods)):
                    due.append(image_id)
    return due
