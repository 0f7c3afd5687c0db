"""Where a new pooled tenant goes: the Tenant's own server, else the Tier's policy over the pool
shards it allows; unknown servers are refused."""

import pytest
from tenantry_operator import model, placement, planning, settings

SHARDS = ("main", "shard-b", "shard-c")
LOADS = {
    "main": placement.Load(tenants=5, rows=100),
    "shard-b": placement.Load(tenants=2, rows=9000),
    "shard-c": placement.Load(tenants=3, rows=50),
}


def tenant(**spec: object) -> model.Tenant:
    return model.Tenant.from_body(
        {"metadata": {"name": "acme", "uid": "u1"}, "spec": {"tier": "free", **spec}}
    )


def tier(**placed: object) -> model.Tier:
    return model.Tier.from_body(
        {"metadata": {"name": "free"}, "spec": {"isolation": "pool", "placement": placed}}
    )


def test_fewest_tenants_is_the_default_policy() -> None:
    assert placement.pooled_server(tenant(), tier(), SHARDS, LOADS) == "shard-b"


def test_least_rows_weighs_stored_rows() -> None:
    chosen = placement.pooled_server(tenant(), tier(policy="LeastRows"), SHARDS, LOADS)
    assert chosen == "shard-c"


def test_the_tier_restricts_the_candidates() -> None:
    chosen = placement.pooled_server(tenant(), tier(servers=["main", "shard-c"]), SHARDS, LOADS)
    assert chosen == "shard-c"


def test_ties_go_to_the_first_listed_and_unknown_loads_count_as_empty() -> None:
    assert placement.pooled_server(tenant(), tier(), SHARDS, {}) == "main"
    even = {name: placement.Load(1, 1) for name in SHARDS}
    assert placement.choose(placement.Policy.LEAST_ROWS, even, ["shard-c", "shard-b"]) == "shard-c"


def test_the_tenant_may_name_its_server() -> None:
    named = tenant(placement={"server": "shard-c"})
    assert placement.pooled_server(named, tier(servers=["main"]), SHARDS, LOADS) == "shard-c"


def test_unknown_servers_are_refused() -> None:
    with pytest.raises(placement.UnknownServer, match="'shard-z' is not a declared pool shard"):
        placement.pooled_server(tenant(placement={"server": "shard-z"}), tier(), SHARDS, LOADS)
    with pytest.raises(placement.UnknownServer, match="shard-z"):
        placement.pooled_server(tenant(), tier(servers=["shard-z"]), SHARDS, LOADS)
    with pytest.raises(placement.UnknownServer):
        placement.choose(placement.Policy.FEWEST_TENANTS, LOADS, [])


def test_the_spec_and_status_are_parsed() -> None:
    parsed = model.Tenant.from_body(
        {
            "metadata": {"name": "acme"},
            "spec": {"tier": "free", "placement": {"isolation": "bridge", "server": "shard-b"}},
            "status": {"placement": "pool", "server": "shard-c"},
        }
    )
    assert (parsed.wanted_isolation, parsed.wanted_server) == (model.Isolation.BRIDGE, "shard-b")
    assert (parsed.placement, parsed.server) == (model.Isolation.POOL, "shard-c")
    assert tier().placement_policy is model.PlacementPolicy.FEWEST_TENANTS
    assert tier().placement_servers == ()


def test_a_plan_is_on_the_shard_its_status_records_or_the_one_given() -> None:
    placed = model.Tenant.from_body(
        {
            "metadata": {"name": "acme"},
            "spec": {"tier": "free"},
            "status": {"placement": "bridge", "server": "shard-b"},
        }
    )
    assert planning.plan_database(placed, model.Isolation.BRIDGE).server == "shard-b"
    assert planning.plan_database(placed, model.Isolation.POOL, server="shard-c").server == (
        "shard-c"
    )
    assert planning.plan_database(placed, model.Isolation.SILO).server == ""
    assert planning.plan_database(tenant(), model.Isolation.POOL).server == settings.HOME_SHARD
    siloed = model.Tenant.from_body(
        {
            "metadata": {"name": "acme"},
            "spec": {"tier": "free"},
            "status": {"placement": "silo", "server": "db1:5432"},
        }
    )
    assert planning.plan_database(siloed, model.Isolation.POOL).server == settings.HOME_SHARD


def test_settings_name_every_shard_home_first() -> None:
    cfg = settings.OperatorSettings(
        postgres_admin_url="postgresql://u:p@db0:5432/postgres",
        app_db_password="x",
        app_jwt_public_key="k",
        pool_shards={"shard-b": "postgresql://u:p@db1:6432/pool_b"},
    )
    assert cfg.shard_names == ("main", "shard-b")
    assert cfg.shard_url("main") == "postgresql://u:p@db0:5432/tenantry_pool"
    assert (cfg.shard_database("shard-b"), cfg.shard_address("shard-b")) == (
        "pool_b",
        ("db1", 6432),
    )
    assert cfg.shard_address("main") == ("db0", 5432)
    with pytest.raises(KeyError):
        cfg.shard_url("shard-z")


def test_the_placed_event_names_the_policy_and_the_loads_it_weighed() -> None:
    told = placement.explain(tenant(), tier(), SHARDS, LOADS, "b", cordoned={"main"})
    assert told == (
        "Placed on pool shard b by policy FewestTenants "
        "(shard-b 2 tenants/9000 rows, shard-c 3 tenants/50 rows)"
    )
    named = placement.explain(tenant(placement={"server": "main"}), tier(), SHARDS, {}, "main")
    assert named == "Placed on pool shard main: the Tenant names it in spec.placement.server"


def test_cordoned_shards_take_no_new_tenants_unless_named() -> None:
    assert placement.pooled_server(tenant(), tier(), SHARDS, LOADS, {"shard-b"}) == "shard-c"
    assert placement.candidates(tier(), SHARDS, {"main"}) == ["shard-b", "shard-c"]
    named = tenant(placement={"server": "shard-b"})
    assert placement.pooled_server(named, tier(), SHARDS, LOADS, {"shard-b"}) == "shard-b"
    with pytest.raises(placement.UnknownServer, match="every pool shard Tier 'free' allows is"):
        placement.pooled_server(tenant(), tier(servers=["main"]), SHARDS, LOADS, {"main"})
