"""The planner turns literal Tenant and Tier specs into the objects the operator applies."""

from typing import Any

import pytest
from tenantry_operator import model, planning

TIER = model.Tier.from_body(
    {
        "metadata": {"name": "free"},
        "spec": {
            "isolation": "pool",
            "quota": {"cpu": "1", "memory": "1Gi", "pods": 5, "storage": "2Gi"},
            "limits": {
                "cpu": "250m",
                "memory": "256Mi",
                "requestCpu": "50m",
                "requestMemory": "64Mi",
            },
        },
    }
)
TENANT = model.Tenant.from_body(
    {
        "metadata": {"name": "acme", "uid": "u-1", "generation": 3},
        "spec": {"tier": "free", "owner": {"email": "ceo@acme.example.com"}},
    }
)


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects}


def test_namespace_plan_has_every_isolating_object_in_the_tenant_namespace() -> None:
    objects = by_kind(planning.plan_namespace(TENANT, TIER))
    assert set(objects) == {
        "Namespace",
        "ResourceQuota",
        "LimitRange",
        "NetworkPolicy",
        "ServiceAccount",
        "Role",
        "RoleBinding",
    }
    assert objects["Namespace"]["metadata"]["name"] == "tenant-acme"
    for kind, obj in objects.items():
        if kind != "Namespace":
            assert obj["metadata"]["namespace"] == "tenant-acme", kind
        assert obj["metadata"]["labels"] == {
            "tenantry.dev/tenant": "acme",
            "tenantry.dev/tier": "free",
            "tenantry.dev/isolation": "pool",
            "app.kubernetes.io/managed-by": "tenantry",
        }


def test_quota_and_limits_come_from_the_tier() -> None:
    objects = by_kind(planning.plan_namespace(TENANT, TIER))
    assert objects["ResourceQuota"]["spec"]["hard"] == {
        "requests.cpu": "1",
        "limits.cpu": "1",
        "requests.memory": "1Gi",
        "limits.memory": "1Gi",
        "pods": "5",
        "requests.storage": "2Gi",
    }
    (limit,) = objects["LimitRange"]["spec"]["limits"]
    assert limit["default"] == {"cpu": "250m", "memory": "256Mi"}
    assert limit["defaultRequest"] == {"cpu": "50m", "memory": "64Mi"}


def test_network_policy_denies_ingress_except_own_namespace_and_platform() -> None:
    policy = by_kind(planning.plan_namespace(TENANT, TIER))["NetworkPolicy"]["spec"]
    assert policy["podSelector"] == {}
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    assert rule["from"] == [
        {"podSelector": {}},
        {"namespaceSelector": {"matchLabels": {"tenantry.dev/platform": "true"}}},
    ]


def test_admins_are_bound_to_the_tenant_admin_role() -> None:
    binding = by_kind(planning.plan_namespace(TENANT, TIER))["RoleBinding"]
    assert binding["roleRef"]["name"] == "tenant-admin"
    assert {(s["kind"], s["name"]) for s in binding["subjects"]} == {
        ("Group", "tenantry:tenant:acme:admins"),
        ("ServiceAccount", "tenant-admin"),
        ("User", "ceo@acme.example.com"),
    }


def test_owner_is_only_bound_when_known() -> None:
    tenant = model.Tenant.from_body({"metadata": {"name": "solo"}, "spec": {"tier": "free"}})
    binding = by_kind(planning.plan_namespace(tenant, TIER))["RoleBinding"]
    assert "User" not in {s["kind"] for s in binding["subjects"]}


@pytest.mark.parametrize("hostile", ['x", "evil": "1', "a\nb: c", "${namespace}"])
def test_template_values_cannot_inject_yaml(hostile: str) -> None:
    tier = model.Tier.from_body(
        {"metadata": {"name": "t"}, "spec": {"isolation": "pool", "quota": {"cpu": hostile}}}
    )
    quota = by_kind(planning.plan_namespace(TENANT, tier))["ResourceQuota"]
    assert quota["spec"]["hard"]["requests.cpu"] == hostile
    assert "evil" not in quota["spec"]["hard"]


def test_pool_database_plan_and_secret() -> None:
    plan = planning.plan_pool_database(
        model.Tenant.from_body({"metadata": {"name": "big-co"}, "spec": {"tier": "free"}}), TIER
    )
    assert plan == planning.PoolDatabasePlan(
        tenant_key="big-co", role="tnt_big_co", tier="free", suspended=False
    )
    secret = planning.plan_secret(TENANT, TIER, plan, planning.Endpoint("db", 5432, "pool"), "pw")
    assert secret["metadata"] == {
        "name": "tenant-db",
        "namespace": "tenant-acme",
        "labels": planning.labels(TENANT, TIER),
    }
    assert secret["stringData"]["url"] == "postgresql://tnt_big_co:pw@db:5432/pool"
    assert secret["stringData"]["tenant"] == "big-co"


def test_tier_defaults_and_revision() -> None:
    bare = model.Tier.from_body({"metadata": {"name": "bare"}, "spec": {"isolation": "silo"}})
    assert bare.quota == model.Quota()
    assert bare.limits == model.Limits()
    assert bare.isolation is model.Isolation.SILO
    same = model.Tier.from_body({"metadata": {"name": "other"}, "spec": {"isolation": "silo"}})
    assert bare.revision == same.revision
    changed = model.Tier.from_body(
        {"metadata": {"name": "bare"}, "spec": {"isolation": "silo", "quota": {"cpu": "3"}}}
    )
    assert changed.revision != bare.revision


def test_tenant_defaults() -> None:
    tenant = model.Tenant.from_body({"metadata": {"name": "x"}, "spec": {"tier": "free"}})
    assert tenant.deletion_policy is model.DeletionPolicy.RETAIN
    assert not tenant.suspended
    assert tenant.namespace == "tenant-x"
