"""ScanPolicyService through the official SDK: Create/Get/GetByRegistry/Update (field mask)/Delete, the
Operations the protos declare, and a clear INVALID_ARGUMENT/NOT_FOUND/ALREADY_EXISTS for every bad request."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.protobuf import duration_pb2, empty_pb2, field_mask_pb2
from yandex.cloud.containerregistry.v1 import scan_policy_pb2, scan_policy_service_pb2 as sps
from yandex.cloud.containerregistry.v1.scan_policy_service_pb2_grpc import ScanPolicyServiceStub
from yandex.cloud.operation import operation_service_pb2 as ops
from yandex.cloud.operation.operation_service_pb2_grpc import OperationServiceStub

from crscan.api.messages import OPERATION_CODEC
from crscan.api.servicers import build_servicers
from crscan.store import Store
from tests.api.conftest import running_api

RULES = scan_policy_pb2.ScanRules(
    push_rule=scan_policy_pb2.PushRule(repository_prefixes=["team"]),
    schedule_rules=[scan_policy_pb2.ScheduledRule(repository_prefixes=["*"],
                                                  rescan_period=duration_pb2.Duration(seconds=86400))],
)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    directory = tmp_path_factory.mktemp("policies")
    store = Store(f"sqlite:///{directory / 'crscan.db'}", OPERATION_CODEC)
    store.migrate()
    with running_api(directory, build_servicers(store), store) as running:
        yield running
    store.close()


@pytest.fixture
def registry_id(api):
    name = f"r{uuid.uuid4().hex[:12]}"
    return api.store.registries.add(name, f"https://{name}.example", folder_id="f").id  # one registry per host


def unpack(operation, message):
    assert operation.done and not operation.HasField("error")
    operation.response.Unpack(message)
    return message


def code_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as error:
        call()
    return error.value.code(), error.value.details()


def test_create_get_update_delete(api, registry_id):
    policies = api.sdk.client(ScanPolicyServiceStub)
    created = policies.Create(sps.CreateScanPolicyRequest(registry_id=registry_id, name="nightly",
                                                          description="d", rules=RULES))
    policy = unpack(created, scan_policy_pb2.ScanPolicy())
    metadata = sps.CreateScanPolicyMetadata()
    assert created.metadata.Unpack(metadata) and metadata.scan_policy_id == policy.id
    assert policy.registry_id == registry_id and policy.rules == RULES and not policy.disabled
    assert policies.Get(sps.GetScanPolicyRequest(scan_policy_id=policy.id)) == policy
    assert policies.GetByRegistry(sps.GetScanPolicyByRegistryRequest(registry_id=registry_id)) == policy
    stored = api.sdk.client(OperationServiceStub).Get(ops.GetOperationRequest(operation_id=created.id))
    assert stored == created

    updated = unpack(policies.Update(sps.UpdateScanPolicyRequest(
        scan_policy_id=policy.id, update_mask=field_mask_pb2.FieldMask(paths=["description"]),
        name="ignored-by-the-mask", description="new",
    )), scan_policy_pb2.ScanPolicy())
    assert (updated.name, updated.description, updated.rules) == ("nightly", "new", RULES)
    no_schedule = scan_policy_pb2.ScanRules(push_rule=RULES.push_rule)
    updated = unpack(policies.Update(sps.UpdateScanPolicyRequest(
        scan_policy_id=policy.id, update_mask=field_mask_pb2.FieldMask(paths=["rules"]), rules=no_schedule,
    )), scan_policy_pb2.ScanPolicy())
    assert updated.rules == no_schedule and updated.description == "new"

    deleted = policies.Delete(sps.DeleteScanPolicyRequest(scan_policy_id=policy.id))
    assert unpack(deleted, empty_pb2.Empty()) == empty_pb2.Empty()
    assert code_of(lambda: policies.Get(sps.GetScanPolicyRequest(scan_policy_id=policy.id)))[0] == \
        grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: policies.GetByRegistry(sps.GetScanPolicyByRegistryRequest(registry_id=registry_id))) \
        == (grpc.StatusCode.NOT_FOUND, f"registry {registry_id} has no scan policy")


def test_one_policy_per_registry(api, registry_id):
    policies = api.sdk.client(ScanPolicyServiceStub)
    policies.Create(sps.CreateScanPolicyRequest(registry_id=registry_id, rules=RULES))
    code, message = code_of(lambda: policies.Create(sps.CreateScanPolicyRequest(registry_id=registry_id)))
    assert code == grpc.StatusCode.ALREADY_EXISTS and "already has a scan policy" in message


@pytest.mark.parametrize(
    "rules, message",
    [
        (scan_policy_pb2.ScanRules(push_rule=scan_policy_pb2.PushRule()),
         "rules.push_rule.repository_prefixes must name at least one prefix"),
        (scan_policy_pb2.ScanRules(push_rule=scan_policy_pb2.PushRule(repository_prefixes=["Team/App"])),
         "'Team/App' is not a repository prefix"),
        (scan_policy_pb2.ScanRules(push_rule=scan_policy_pb2.PushRule(repository_prefixes=["a//b"])),
         "'a//b' is not a repository prefix"),
        (scan_policy_pb2.ScanRules(schedule_rules=[scan_policy_pb2.ScheduledRule(repository_prefixes=["*"])]),
         "rules.schedule_rules[0].rescan_period is required"),
        (scan_policy_pb2.ScanRules(schedule_rules=[scan_policy_pb2.ScheduledRule(
            repository_prefixes=["*"], rescan_period=duration_pb2.Duration(seconds=-5))]),
         "rules.schedule_rules[0].rescan_period must be positive"),
    ],
)
def test_malformed_rules_are_named(api, registry_id, rules, message):
    policies = api.sdk.client(ScanPolicyServiceStub)
    code, details = code_of(lambda: policies.Create(sps.CreateScanPolicyRequest(registry_id=registry_id, rules=rules)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and message in details


def test_bad_requests(api, registry_id):
    policies = api.sdk.client(ScanPolicyServiceStub)
    assert code_of(lambda: policies.Create(sps.CreateScanPolicyRequest(registry_id="crpnosuch")))[0] == \
        grpc.StatusCode.NOT_FOUND
    code, details = code_of(lambda: policies.Create(sps.CreateScanPolicyRequest(registry_id=registry_id, name="X")))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("name:")
    policy = unpack(policies.Create(sps.CreateScanPolicyRequest(registry_id=registry_id, rules=RULES)),
                    scan_policy_pb2.ScanPolicy())
    code, details = code_of(lambda: policies.Update(sps.UpdateScanPolicyRequest(
        scan_policy_id=policy.id, update_mask=field_mask_pb2.FieldMask(paths=["registry_id"]))))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "'registry_id' cannot be updated" in details
    assert code_of(lambda: policies.Delete(sps.DeleteScanPolicyRequest(scan_policy_id="crsnosuch")))[0] == \
        grpc.StatusCode.NOT_FOUND
