"""The planner turns literal Tenant and Tier specs into the objects the operator applies."""

from typing import Any

import pytest
from tenantry_operator import model, planning

from tenantry_core import identity

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


def test_egress_allows_dns_and_the_tenants_database_only() -> None:
    endpoint = planning.Endpoint("10.0.0.7", 6432, "tenantry_pool")
    (policy,) = planning.plan_egress_policy(TENANT, TIER, endpoint)
    assert policy["metadata"]["namespace"] == TENANT.namespace
    spec = policy["spec"]
    assert (spec["podSelector"], spec["policyTypes"]) == ({}, ["Egress"])
    dns, database = spec["egress"]
    assert "to" not in dns
    assert {p["port"] for p in dns["ports"]} == {53}
    assert database == {
        "to": [{"ipBlock": {"cidr": "10.0.0.7/32"}}],
        "ports": [{"protocol": "TCP", "port": 6432}],
    }
    (named,) = planning.plan_egress_policy(TENANT, TIER, planning.Endpoint("db.example", 5432, "x"))
    assert named["spec"]["egress"][1] == {"to": [], "ports": [{"protocol": "TCP", "port": 5432}]}


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


@pytest.mark.parametrize(
    ("placement", "schema", "database"),
    [
        (model.Isolation.POOL, "public", None),
        (model.Isolation.BRIDGE, "tenant_big_co", None),
        (model.Isolation.SILO, "public", "tenant_big_co"),
    ],
)
def test_database_plan_per_placement(
    placement: model.Isolation, schema: str, database: str | None
) -> None:
    tenant = model.Tenant.from_body({"metadata": {"name": "big-co"}, "spec": {"tier": "free"}})
    assert planning.plan_database(tenant, placement) == planning.DatabasePlan(
        tenant_key=identity.TenantKey("big-co"),
        role="tnt_big_co",
        tier="free",
        placement=placement,
        schema=schema,
        database=database,
        suspended=False,
        server="" if placement is model.Isolation.SILO else "main",  # a pool shard's name
    )


def test_database_plan_takes_the_role_limits_from_the_tier() -> None:
    tier = model.Tier.from_body(
        {
            "metadata": {"name": "tight"},
            "spec": {
                "isolation": "pool",
                "database": {"connectionLimit": 3, "statementTimeout": "500ms"},
            },
        }
    )
    tenant = model.Tenant.from_body({"metadata": {"name": "big-co"}, "spec": {"tier": "tight"}})
    plan = planning.plan_database(tenant, model.Isolation.POOL, tier=tier)
    assert plan.limits == model.DatabaseLimits(connection_limit=3, statement_timeout="500ms")
    assert planning.plan_database(tenant, model.Isolation.POOL).limits == model.DatabaseLimits()


def test_secret_carries_the_connection_and_bridge_search_path() -> None:
    tenant = model.Tenant.from_body({"metadata": {"name": "big-co"}, "spec": {"tier": "free"}})
    endpoint = planning.Endpoint("db", 5432, "pool")
    pool = planning.plan_secret(
        tenant, TIER, planning.plan_database(tenant, model.Isolation.POOL), endpoint, "pw"
    )
    assert pool["metadata"] == {
        "name": "tenant-db",
        "namespace": "tenant-big-co",
        "labels": planning.labels(tenant, TIER),
    }
    assert pool["stringData"]["url"] == "postgresql://tnt_big_co:pw@db:5432/pool"
    assert pool["stringData"]["tenant"] == "big-co"
    bridge = planning.plan_secret(
        tenant, TIER, planning.plan_database(tenant, model.Isolation.BRIDGE), endpoint, "pw"
    )
    assert bridge["stringData"]["url"].endswith("/pool?options=-csearch_path%3Dtenant_big_co")
    assert bridge["stringData"]["placement"] == "bridge"


def test_silo_workload_runs_the_app_with_the_tenants_secret() -> None:
    silo_tier = model.Tier.from_body(
        {"metadata": {"name": "ent"}, "spec": {"isolation": "silo", "replicas": 3}}
    )
    objects = by_kind(planning.plan_workload(TENANT, silo_tier, "app:1", "k" * 32, "silo-b"))
    deployment = objects["Deployment"]
    # A move to another silo server changes this: the pods roll onto the new server.
    pod = deployment["spec"]["template"]["metadata"]
    assert pod["annotations"] == {"tenantry.dev/database-server": "silo-b"}
    assert deployment["metadata"]["namespace"] == "tenant-acme"
    assert deployment["spec"]["replicas"] == 3
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "app:1"
    env = {e["name"]: e for e in container["env"]}
    assert env["TENANTRY_TENANT_KEY"]["value"] == "acme"
    assert env["TENANTRY_TENANT_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "tenant-db",
        "key": "url",
    }
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    assert objects["Service"]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert objects["Secret"]["stringData"] == {"JWT_PUBLIC_KEY": "k" * 32}


def test_suspended_silo_scales_to_zero() -> None:
    silo_tier = model.Tier.from_body(
        {"metadata": {"name": "ent"}, "spec": {"isolation": "silo", "replicas": 3}}
    )
    suspended = model.Tenant.from_body(
        {"metadata": {"name": "acme"}, "spec": {"tier": "ent", "suspended": True}}
    )
    deployment = by_kind(planning.plan_workload(suspended, silo_tier, "app:1", "k"))["Deployment"]
    assert deployment["spec"]["replicas"] == 0
