"""Moves are validated before anything is written: unknown servers and servers of the wrong
kind (422, with those of the right kind), a tenant already there or already moving (409), a
catalog that cannot be read (503, only when a server is named). Literal tenants and catalogs;
the session fails loudly if a refused move touches it."""

from __future__ import annotations

import uuid
from typing import Any, NoReturn

import pytest

from control_plane import models
from control_plane.integrations import app_db, kube
from control_plane.services import audit, errors, placement

CTX = audit.Context("user:admin")
CATALOG = [
    app_db.Server("main", "pool", "127.0.0.1", 5432, "tenantry_pool", 3, 300, None),
    app_db.Server("shard-b", "pool", "127.0.0.1", 5432, "tenantry_shard_b", 1, 10, None),
    app_db.Server("127.0.0.1:5432", "silo", "127.0.0.1", 5432, None, 2, 50, None),
]


class Untouchable:
    def __getattr__(self, name: str) -> NoReturn:
        raise AssertionError(f"the session was used: {name}")


SESSION: Any = Untouchable()


def catalog() -> list[app_db.Server]:
    return CATALOG


def unreadable() -> list[app_db.Server]:
    raise app_db.ServersUnavailable("relation tenantry.servers does not exist")


def tenant(**fields: Any) -> models.Tenant:
    defaults: dict[str, Any] = {
        "id": uuid.UUID("00000000-0000-0000-0000-00000000000b"),
        "tenant_key": "acme",
        "company": "Acme",
        "tier": "free",
        "lifecycle": models.Lifecycle.ACTIVE,
        "placement": "pool",
        "server": "main",
        "conditions": [],
        "moves": [],
        "suspended": False,
    }
    return models.Tenant(**(defaults | fields))


def move(
    target: models.Tenant, isolation: str, server: str | None = None, servers: Any = catalog
) -> models.Tenant:
    return placement.request_move(
        session=SESSION,
        ctx=CTX,
        tenant=target,
        isolation=isolation,
        server=server,
        servers=servers,
    )


def test_an_unknown_server_is_refused_with_those_of_the_kind() -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        move(tenant(), "pool", "shard-z")
    assert (refused.value.field, refused.value.reason) == ("server", "unknown server")
    assert refused.value.allowed == ["main", "shard-b"]
    assert "'shard-z' is unknown server" in refused.value.detail


@pytest.mark.parametrize(
    ("isolation", "server", "allowed"),
    [
        ("silo", "shard-b", ["127.0.0.1:5432"]),
        ("bridge", "127.0.0.1:5432", ["main", "shard-b"]),
        ("pool", "127.0.0.1:5432", ["main", "shard-b"]),
    ],
)
def test_a_server_of_the_wrong_kind_is_refused(
    isolation: str, server: str, allowed: list[str]
) -> None:
    with pytest.raises(errors.InvalidInput) as refused:
        move(tenant(), isolation, server)
    assert refused.value.reason == f"not a {placement.kind_of(isolation)} server"
    assert refused.value.allowed == allowed


@pytest.mark.parametrize(
    ("fields", "isolation", "server"),
    [
        ({}, "pool", None),
        ({}, "pool", "main"),
        ({"server": None}, "pool", "main"),  # a pooled tenant with no server is on main
        ({"placement": "silo", "server": "127.0.0.1:5432"}, "silo", "127.0.0.1:5432"),
        ({"placement": "bridge", "server": "shard-b"}, "bridge", None),
    ],
)
def test_nothing_to_move_is_a_conflict(fields: dict[str, Any], isolation: str, server: str) -> None:
    with pytest.raises(errors.Conflict) as refused:
        move(tenant(**fields), isolation, server)
    assert refused.value.title == "Nothing to move"


@pytest.mark.parametrize(
    "fields",
    [
        {"migration": {"phase": "Copying", "source": "pool", "target": "silo"}},
        {"migration": {"phase": "RollingBack"}},
        {"placement_request": {"isolation": "silo"}},  # asked for, not started yet
        {"placement_request": {"isolation": "pool", "server": "shard-b"}},
        {  # asked for again after one that completed elsewhere
            "placement_request": {"isolation": "bridge"},
            "migration": {"phase": "Completed", "target": "silo"},
        },
    ],
)
def test_a_move_under_way_is_a_conflict(fields: dict[str, Any]) -> None:
    subject = tenant(**fields)
    assert placement.moving(subject)
    with pytest.raises(errors.Conflict) as refused:
        move(subject, "bridge", None)
    assert refused.value.title == "Move in progress"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"migration": {"phase": "Completed", "target": "pool"}},
        {"placement_request": {"isolation": "pool"}},  # there already
        {"placement_request": {"isolation": "pool", "server": "main"}},
        {"server": "shard-b", "placement_request": {"server": "shard-b"}},  # named at creation
        {  # the move asked for failed: another may be asked for
            "placement_request": {"isolation": "silo"},
            "migration": {"phase": "Failed", "target": "silo", "targetServer": "127.0.0.1:5432"},
        },
        {  # refused by the operator for an unknown server
            "placement_request": {"isolation": "pool", "server": "shard-gone"},
            "conditions": [
                {"type": "MigrationRequired", "status": "True", "reason": "UnknownServer"}
            ],
        },
    ],
)
def test_no_move_under_way(fields: dict[str, Any]) -> None:
    assert not placement.moving(tenant(**fields))


def test_a_tenant_not_placed_yet_or_closing_is_not_moved() -> None:
    with pytest.raises(errors.Conflict) as unplaced:
        move(tenant(placement=None, server=None), "silo")
    assert unplaced.value.title == "Not placed yet"
    with pytest.raises(errors.Conflict) as closing:
        move(tenant(lifecycle=models.Lifecycle.CLOSING), "silo")
    assert closing.value.title == "Tenant closing"


def test_an_unreadable_catalog_refuses_only_a_named_server() -> None:
    with pytest.raises(errors.Unavailable) as refused:
        move(tenant(), "silo", "127.0.0.1:5432", servers=unreadable)
    assert refused.value.retry_after == 5
    with pytest.raises(errors.Conflict):  # no server named: the catalog is not read
        move(tenant(), "pool", None, servers=unreadable)
    placement.check_target(
        placement="pool", server="main", isolation="silo", target_server=None, servers=unreadable
    )


def test_the_moves_view_reads_the_mirrored_status() -> None:
    subject = tenant(
        placement="silo",
        server="127.0.0.1:5432",
        placement_request={"isolation": "silo", "server": "127.0.0.1:5432"},
        migration={
            "phase": "Completed",
            "source": "pool",
            "sourceServer": "main",
            "target": "silo",
            "targetServer": "127.0.0.1:5432",
            "started": "2026-11-24T10:00:00Z",
            "finished": "2026-11-24T10:00:03Z",
            "rowsCopied": 120,
            "replicationLagBytes": 0,
            "writeBlockMs": 40,
            "durationMs": 3000,
        },
        moves=[
            {
                "source": "pool",
                "sourceServer": "main",
                "target": "silo",
                "targetServer": "127.0.0.1:5432",
                "started": "2026-11-24T10:00:00Z",
                "finished": "2026-11-24T10:00:03Z",
                "result": "Completed",
                "rowsCopied": 120,
                "writeBlockMs": 40,
                "durationMs": 3000,
                "reason": "",
            }
        ],
    )
    shown = placement.moves(subject)
    assert (shown.placement, shown.server, shown.running) == ("silo", "127.0.0.1:5432", False)
    assert shown.requested is not None
    assert shown.requested.server == "127.0.0.1:5432"
    assert shown.current is not None
    assert (shown.current.source_server, shown.current.rows_copied) == ("main", 120)
    assert (shown.current.write_block_ms, shown.current.duration_ms) == (40, 3000)
    assert [(m.result, m.target_server, m.duration_ms) for m in shown.history] == [
        ("Completed", "127.0.0.1:5432", 3000)
    ]


def test_the_tenant_resource_carries_the_placement_asked_for() -> None:
    plain = kube.tenant_resource(tenant())
    assert "placement" not in plain["spec"]
    asked = kube.tenant_resource(tenant(placement_request={"isolation": "pool", "server": "x"}))
    assert asked["spec"]["placement"] == {"isolation": "pool", "server": "x"}


@pytest.mark.parametrize(
    ("fields", "bound"),
    [
        ({}, "main"),
        ({"server": None}, "main"),
        ({"placement_request": {"isolation": "pool", "server": "shard-b"}}, "shard-b"),
        ({"placement_request": {"isolation": "bridge"}}, "main"),  # the same shard, as bridge
        ({"placement_request": {"isolation": "silo"}}, None),  # leaving the pool shards
        ({"server": "shard-b", "placement_request": {"server": "shard-b"}}, "shard-b"),
        ({"placement_request": {"server": "shard-c"}}, "shard-c"),  # a server alone: same model
        (
            {"migration": {"phase": "Copying", "target": "pool", "targetServer": "shard-c"}},
            "shard-c",
        ),
        ({"migration": {"phase": "Copying", "target": "silo", "targetServer": "db:5432"}}, None),
        (  # a failed move: where the tenant is
            {
                "placement_request": {"isolation": "pool", "server": "shard-b"},
                "migration": {"phase": "Failed", "target": "pool", "targetServer": "shard-b"},
            },
            "main",
        ),
    ],
)
def test_a_tenant_counts_where_its_move_takes_it(fields: dict[str, Any], bound: str | None) -> None:
    assert placement.bound_for(tenant(**fields)) == bound
