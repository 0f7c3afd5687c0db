"""The path of a live move between any two placements: which hops carry the tables, between
which schemas, and where they are staged."""

import itertools

import pytest
from tenantry_operator import migration_state, moves

Isolation = moves.Isolation
Hop, End, Kind, Db = moves.Hop, moves.End, moves.Kind, moves.Db
BRIDGE = "tenant_acme"


def path(source: Isolation, target: Isolation) -> tuple[moves.Hop, ...]:
    schema = {Isolation.POOL: "public", Isolation.BRIDGE: BRIDGE, Isolation.SILO: "public"}
    return moves.path(source, schema[source], target, schema[target])


def test_pool_and_bridge_share_a_database_one_mirror_maps_the_schemas() -> None:
    assert path(Isolation.POOL, Isolation.BRIDGE) == (
        Hop(Kind.MIRROR, End(Db.SOURCE, "public"), End(Db.TARGET, BRIDGE)),
    )
    assert path(Isolation.BRIDGE, Isolation.POOL) == (
        Hop(Kind.MIRROR, End(Db.SOURCE, BRIDGE), End(Db.TARGET, "public")),
    )


def test_pool_and_silo_replicate_public_to_public() -> None:
    for source, target in ((Isolation.POOL, Isolation.SILO), (Isolation.SILO, Isolation.POOL)):
        assert path(source, target) == (
            Hop(Kind.REPLICATE, End(Db.SOURCE, "public"), End(Db.TARGET, "public")),
        )
        assert moves.staging(path(source, target)) is None


def test_bridge_to_silo_replicates_into_a_staging_schema_of_the_silo_then_mirrors() -> None:
    hops = path(Isolation.BRIDGE, Isolation.SILO)
    assert hops == (
        Hop(Kind.REPLICATE, End(Db.SOURCE, BRIDGE), End(Db.TARGET, BRIDGE)),
        Hop(Kind.MIRROR, End(Db.TARGET, BRIDGE), End(Db.TARGET, "public")),
    )
    assert moves.staging(hops) == End(Db.TARGET, BRIDGE)


def test_silo_to_bridge_mirrors_into_a_staging_schema_of_the_silo_then_replicates() -> None:
    hops = path(Isolation.SILO, Isolation.BRIDGE)
    assert hops == (
        Hop(Kind.MIRROR, End(Db.SOURCE, "public"), End(Db.SOURCE, BRIDGE)),
        Hop(Kind.REPLICATE, End(Db.SOURCE, BRIDGE), End(Db.TARGET, BRIDGE)),
    )
    assert moves.staging(hops) == End(Db.SOURCE, BRIDGE)


@pytest.mark.parametrize("source", list(Isolation))
@pytest.mark.parametrize("target", list(Isolation))
def test_every_path_starts_at_the_source_ends_at_the_target_and_never_stages_in_the_pool(
    source: Isolation, target: Isolation
) -> None:
    if source is target:
        assert not migration_state.supported(source, target)
        return
    assert migration_state.supported(source, target)
    hops = path(source, target)
    assert hops[0].source.db is Db.SOURCE
    assert hops[-1].target.db is Db.TARGET
    for before, after in itertools.pairwise(hops):
        assert before.target == after.source  # the hops chain
    for hop in hops:  # replication keeps the schema name; a mirror stays in one database
        if hop.kind is Kind.REPLICATE:
            assert hop.source.schema == hop.target.schema
        else:
            assert hop.source.schema != hop.target.schema
    staged = moves.staging(hops)
    if staged is not None:
        side = source if staged.db is Db.SOURCE else target
        assert not moves.in_pool_database(side)


def test_the_same_tables_are_no_move() -> None:
    with pytest.raises(ValueError, match="nothing to move"):
        moves.path(Isolation.POOL, "public", Isolation.BRIDGE, "public")


def test_the_same_placement_on_another_shard_is_one_replication() -> None:
    for schema in ("public", BRIDGE):
        assert moves.path(
            Isolation.POOL if schema == "public" else Isolation.BRIDGE,
            schema,
            Isolation.POOL if schema == "public" else Isolation.BRIDGE,
            schema,
            same_database=False,
        ) == (Hop(Kind.REPLICATE, End(Db.SOURCE, schema), End(Db.TARGET, schema)),)


def test_pool_and_bridge_on_two_shards_stage_beside_the_public_end() -> None:
    to_bridge = moves.path(Isolation.POOL, "public", Isolation.BRIDGE, BRIDGE, same_database=False)
    assert to_bridge == (
        Hop(Kind.MIRROR, End(Db.SOURCE, "public"), End(Db.SOURCE, BRIDGE)),
        Hop(Kind.REPLICATE, End(Db.SOURCE, BRIDGE), End(Db.TARGET, BRIDGE)),
    )
    to_pool = moves.path(Isolation.BRIDGE, BRIDGE, Isolation.POOL, "public", same_database=False)
    assert to_pool == (
        Hop(Kind.REPLICATE, End(Db.SOURCE, BRIDGE), End(Db.TARGET, BRIDGE)),
        Hop(Kind.MIRROR, End(Db.TARGET, BRIDGE), End(Db.TARGET, "public")),
    )
    assert moves.staging(to_pool) == End(Db.TARGET, BRIDGE)


def test_a_silo_on_another_server_is_one_replication_of_its_public_tables() -> None:
    assert moves.path(Isolation.SILO, "public", Isolation.SILO, "public") == (
        Hop(Kind.REPLICATE, End(Db.SOURCE, "public"), End(Db.TARGET, "public")),
    )
