"""Typed Tenant and Tier views: the CRD defaults, and every name derived from a tenant key."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from tenantry_operator import model, planning

from tenantry_core import identity

CRDS = Path(__file__).resolve().parents[3] / "crds"


def crd_properties(file: str, *path: str) -> dict[str, Any]:
    """The openAPI properties of a CRD's field, e.g. ('spec', 'quota')."""
    crd = yaml.safe_load((CRDS / file).read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for name in path:
        schema = schema["properties"][name]
    return dict(schema["properties"])


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


def test_tier_defaults_are_the_crds() -> None:
    bare = model.Tier.from_body({"metadata": {"name": "bare"}, "spec": {"isolation": "pool"}})
    quota = crd_properties("tiers.tenantry.dev.yaml", "spec", "quota")
    assert (bare.quota.cpu, bare.quota.memory, bare.quota.pods, bare.quota.storage) == (
        quota["cpu"]["default"],
        quota["memory"]["default"],
        quota["pods"]["default"],
        quota["storage"]["default"],
    )
    limits = crd_properties("tiers.tenantry.dev.yaml", "spec", "limits")
    assert (
        bare.limits.cpu,
        bare.limits.memory,
        bare.limits.request_cpu,
        bare.limits.request_memory,
    ) == (
        limits["cpu"]["default"],
        limits["memory"]["default"],
        limits["requestCpu"]["default"],
        limits["requestMemory"]["default"],
    )
    database = crd_properties("tiers.tenantry.dev.yaml", "spec", "database")
    assert (bare.database.connection_limit, bare.database.statement_timeout) == (
        database["connectionLimit"]["default"],
        database["statementTimeout"]["default"],
    )
    spec = crd_properties("tiers.tenantry.dev.yaml", "spec")
    assert bare.rate_limit_per_minute == spec["rateLimitPerMinute"]["default"]
    assert bare.replicas == spec["replicas"]["default"]


def test_tenant_defaults() -> None:
    tenant = model.Tenant.from_body({"metadata": {"name": "x"}, "spec": {"tier": "free"}})
    assert tenant.deletion_policy is model.DeletionPolicy.RETAIN
    assert not tenant.suspended
    assert tenant.namespace == "tenant-x"


def test_tenant_defaults_are_the_crds() -> None:
    tenant = model.Tenant.from_body({"metadata": {"name": "x"}, "spec": {"tier": "free"}})
    spec = crd_properties("tenants.tenantry.dev.yaml", "spec")
    assert tenant.suspended is spec["suspended"]["default"]
    assert tenant.deletion_policy == spec["deletionPolicy"]["default"]
    assert (tenant.placement, tenant.restore_from, tenant.restored_from) == (None, "", "")


def test_tenant_reads_its_key_spec_and_what_status_recorded() -> None:
    tenant = model.Tenant.from_body(
        {
            "metadata": {"name": "big-co", "uid": "u-1", "generation": 4},
            "spec": {
                "tier": "ent",
                "displayName": "Big Co",
                "owner": {"email": "ceo@big.example.com"},
                "suspended": True,
                "deletionPolicy": "Snapshot",
                "restoreFrom": "big-co-1.dump",
                "adoptRetainedFrom": "0a1b2c3d-0000-4000-8000-00000000000e",
            },
            "status": {"placement": "silo", "restoredFrom": "big-co-1.dump"},
        }
    )
    assert tenant == model.Tenant(
        tenant_key=identity.TenantKey("big-co"),
        uid="u-1",
        generation=4,
        tier="ent",
        display_name="Big Co",
        owner_email="ceo@big.example.com",
        suspended=True,
        deletion_policy=model.DeletionPolicy.SNAPSHOT,
        restore_from="big-co-1.dump",
        adopt_retained_from="0a1b2c3d-0000-4000-8000-00000000000e",
        placement=model.Isolation.SILO,
        restored_from="big-co-1.dump",
    )


def test_only_the_annotation_true_allows_restoring_another_tenants_snapshot() -> None:
    def tenant(annotations: dict[str, str]) -> model.Tenant:
        meta = {"name": "x", "annotations": annotations}
        return model.Tenant.from_body({"metadata": meta, "spec": {"tier": "free"}})

    assert not tenant({}).restore_from_any
    assert not tenant({"tenantry.dev/restore-from-any": "yes"}).restore_from_any
    assert tenant({"tenantry.dev/restore-from-any": "true"}).restore_from_any


def test_a_name_that_is_no_tenant_key_is_refused() -> None:
    with pytest.raises(identity.InvalidTenantKey):
        model.Tenant.from_body({"metadata": {"name": "Big_Co"}, "spec": {"tier": "free"}})


def test_names_derived_from_the_tenant_key() -> None:
    key = identity.TenantKey("big-co")
    assert model.namespace(key) == "tenant-big-co"
    assert model.role(key) == "tnt_big_co"
    assert model.bridge_schema(key) == "tenant_big_co"
    assert model.silo_database(key) == "tenant_big_co"
    assert model.silo_database(key).startswith(model.SILO_DATABASE_PREFIX)
    assert model.replication_name(key) == "tenantry_mig_big_co"
    assert model.snapshot_staging_schema(key) == "tenantry_snap_big_co"


def test_retained_data_is_named_by_uid_never_like_a_tenant_key() -> None:
    uid = "0A1B2C3D-0000-4000-8000-00000000000E"
    name = model.retained_name(uid)
    assert name == f"retained_{uid.replace('-', '').lower()}"
    assert len(name) <= 63  # a Postgres identifier
    assert not name.startswith(model.SILO_DATABASE_PREFIX)
    with pytest.raises(identity.InvalidTenantKey):
        identity.parse(name)
    assert model.retained_name("11111111-0000-4000-8000-000000000000") != name


def test_plans_use_the_derived_names() -> None:
    tenant = model.Tenant.from_body({"metadata": {"name": "big-co"}, "spec": {"tier": "free"}})
    assert tenant.namespace == model.namespace(tenant.tenant_key)
    silo = planning.plan_database(tenant, model.Isolation.SILO)
    bridge = planning.plan_database(tenant, model.Isolation.BRIDGE)
    assert (silo.role, silo.database) == (model.role(tenant.tenant_key), "tenant_big_co")
    assert bridge.schema == model.bridge_schema(tenant.tenant_key)
