"""Where a new tenant goes: the Tenant's own server, else the Tier's policy over the servers it
allows, less the cordoned ones, and only those labelled like the Tenant when the Tier says so;
unknown servers are refused."""

import pytest
from tenantry_operator import model, placement, planning, settings

SHARDS = ("main", "shard-b", "shard-c")
LOADS = {
    "main": placement.Load(tenants=5, rows=100),
    "shard-b": placement.Load(tenants=2, rows=9000),
    "shard-c": placement.Load(tenants=3, rows=50),
}
FLEET = placement.Fleet("pool shard", SHARDS, LOADS)


def tenant(labels: dict[str, str] | None = None, **spec: object) -> model.Tenant:
    return model.Tenant.from_body(
        {
            "metadata": {"name": "acme", "uid": "u1", "labels": labels or {}},
            "spec": {"tier": "free", **spec},
        }
    )


def tier(**placed: object) -> model.Tier:
    return model.Tier.from_body(
        {"metadata": {"name": "free"}, "spec": {"isolation": "pool", "placement": placed}}
    )


def fleet(**changes: object) -> placement.Fleet:
    return placement.Fleet(
        "pool shard",
        SHARDS,
        LOADS,
        changes.get("cordoned", ()),  # type: ignore[arg-type]
        changes.get("labels", {}),  # type: ignore[arg-type]
    )


def test_fewest_tenants_is_the_default_policy() -> None:
    assert placement.server_for(tenant(), tier(), FLEET) == "shard-b"


def test_least_rows_weighs_stored_rows() -> None:
    assert placement.server_for(tenant(), tier(policy="LeastRows"), FLEET) == "shard-c"


def test_the_tier_restricts_the_candidates() -> None:
    assert placement.server_for(tenant(), tier(servers=["main", "shard-c"]), FLEET) == "shard-c"


def test_a_tiers_servers_are_of_its_own_kind_so_a_silo_move_may_use_any_silo_server() -> None:
    """A pool Tier lists pool shards; a tenant of it moving into a silo (spec.placement.isolation)
    goes to any open silo server, by the same policy."""
    silos = placement.Fleet(
        placement.SILO_SERVER,
        ("silo-a", "silo-b"),
        {"silo-a": placement.Load(tenants=4)},
        cordoned=("silo-c",),
    )
    pool_tier = tier(servers=["main"])
    assert placement.server_for(tenant(), pool_tier, silos) == "silo-b"
    silo_tier = model.Tier.from_body(
        {
            "metadata": {"name": "big"},
            "spec": {"isolation": "silo", "placement": {"servers": ["main"]}},
        }
    )
    with pytest.raises(placement.UnknownServer, match="not declared silo servers"):
        placement.server_for(tenant(), silo_tier, silos)


def test_ties_go_to_the_first_listed_and_unknown_loads_count_as_empty() -> None:
    empty = placement.Fleet("pool shard", SHARDS)
    assert placement.server_for(tenant(), tier(), empty) == "main"
    even = {name: placement.Load(1, 1) for name in SHARDS}
    assert placement.choose(placement.Policy.LEAST_ROWS, even, ["shard-c", "shard-b"]) == "shard-c"


def test_the_tenant_may_name_its_server() -> None:
    named = tenant(placement={"server": "shard-c"})
    assert placement.server_for(named, tier(servers=["main"]), FLEET) == "shard-c"


def test_unknown_servers_are_refused() -> None:
    with pytest.raises(placement.UnknownServer, match="'shard-z' is not a declared pool shard"):
        placement.server_for(tenant(placement={"server": "shard-z"}), tier(), FLEET)
    with pytest.raises(placement.UnknownServer, match="shard-z"):
        placement.server_for(tenant(), tier(servers=["shard-z"]), FLEET)
    with pytest.raises(placement.UnknownServer):
        placement.choose(placement.Policy.FEWEST_TENANTS, LOADS, [])


def test_cordoned_servers_take_no_new_tenants_unless_named() -> None:
    cordoned = fleet(cordoned={"shard-b"})
    assert placement.server_for(tenant(), tier(), cordoned) == "shard-c"
    assert placement.candidates(tenant(), tier(), fleet(cordoned={"main"})) == [
        "shard-b",
        "shard-c",
    ]
    named = tenant(placement={"server": "shard-b"})
    assert placement.server_for(named, tier(), cordoned) == "shard-b"
    with pytest.raises(placement.UnknownServer, match="every pool shard Tier 'free' allows is"):
        placement.server_for(tenant(), tier(servers=["main"]), fleet(cordoned={"main"}))


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
    assert planning.plan_database(siloed, model.Isolation.SILO).server == "db1:5432"
    assert planning.plan_database(siloed, model.Isolation.SILO).shard == settings.HOME_SHARD


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


def test_silo_servers_are_declared_by_name_or_by_url() -> None:
    admin = "postgresql://u:p@db0:5432/postgres"

    def cfg(**servers: object) -> settings.OperatorSettings:
        return settings.OperatorSettings.model_validate(
            {"postgres_admin_url": admin, "app_db_password": "x", "app_jwt_public_key": "k"}
            | servers
        )

    named = cfg(silo_servers={"silo-a": "postgresql://u:p@db1:5432/postgres"})
    assert named.silo_urls == [("silo-a", "postgresql://u:p@db1:5432/postgres")]
    listed = cfg(silo_servers=["postgresql://u:p@db2:5432/x"])
    assert listed.silo_urls == [(None, "postgresql://u:p@db2:5432/x")]
    assert cfg().silo_urls == [(None, admin)]


REGION = "topology.tenantry.dev/region"
LABELLED = {"main": {REGION: "us"}, "shard-b": {REGION: "eu"}, "shard-c": {REGION: "eu"}}


def test_a_tier_matching_a_label_places_tenants_on_servers_labelled_alike() -> None:
    by_region = tier(matchLabel=REGION)
    eu = tenant(labels={REGION: "eu"})
    # shard-b holds the fewest eu tenants; cordoned, it leaves shard-c.
    assert placement.server_for(eu, by_region, fleet(labels=LABELLED)) == "shard-b"
    assert placement.server_for(eu, by_region, fleet(labels=LABELLED, cordoned={"shard-b"})) == (
        "shard-c"
    )
    us = tenant(labels={REGION: "us"})
    assert placement.server_for(us, by_region, fleet(labels=LABELLED)) == "main"
    # A tenant without the label goes anywhere the Tier allows.
    assert placement.server_for(tenant(), by_region, fleet(labels=LABELLED)) == "shard-b"
    apac = tenant(labels={REGION: "apac"})
    with pytest.raises(placement.UnknownServer, match=f"labelled {REGION}=apac"):
        placement.server_for(apac, by_region, fleet(labels=LABELLED))


def test_the_placed_event_names_the_policy_and_the_loads_it_weighed() -> None:
    told = placement.explain(tenant(), tier(), fleet(cordoned={"main"}), "shard-b")
    assert told == (
        "Placed on pool shard shard-b by policy FewestTenants "
        "(shard-b 2 tenants/9000 rows, shard-c 3 tenants/50 rows)"
    )
    eu = tenant(labels={REGION: "eu"})
    told = placement.explain(eu, tier(matchLabel=REGION), fleet(labels=LABELLED), "shard-b")
    assert told.startswith(
        f"Placed on pool shard shard-b by policy FewestTenants among servers "
        f"labelled {REGION}=eu (shard-b"
    )
    named = placement.explain(tenant(placement={"server": "main"}), tier(), FLEET, "main")
    assert named == "Placed on pool shard main: the Tenant names it in spec.placement.server"
