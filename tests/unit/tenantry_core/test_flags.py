"""The one evaluation of "may this tenant use X": overrides, plans, flags and their targeting."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from openfeature import api

from tenantry_core import flags

TIERS = {"free": ["projects"], "standard": ["projects", "export"], "pro": ["export", "audit-log"]}
IDS = [str(uuid.UUID(int=n * 7919 + 13)) for n in range(200)]


def tenant(
    tier: str = "free", ring: flags.Ring = flags.Ring.ALL, tid: str = IDS[0]
) -> flags.Tenant:
    return flags.Tenant(tid, tier, ring)


def facts(t: flags.Tenant, *fs: flags.Flag, **overrides: bool) -> flags.Facts:
    return flags.Facts(t, TIERS, {f.key: f for f in fs}, overrides)


def test_the_plan_decides_without_a_flag_and_names_the_plans_that_include_it() -> None:
    decided = facts(tenant("free")).decide("export")
    assert decided == flags.Decision(False, flags.Reason.NOT_IN_PLAN, ("pro", "standard"))
    assert facts(tenant("standard")).decide("export").enabled
    assert facts(tenant("pro")).decide("nothing") == flags.Decision(False, flags.Reason.UNKNOWN)


def test_an_override_wins_both_ways() -> None:
    assert facts(tenant("free"), **{"export": True}).decide("export").reason == "OVERRIDE"
    assert facts(tenant("free"), **{"export": True}).decide("export").enabled
    off = flags.Flag("export", percentage=100)
    assert not facts(tenant("standard"), off, export=False).decide("export").enabled
    assert (
        facts(tenant("free"), flags.Flag("beta-ui", enabled=False), **{"beta-ui": True})
        .decide("beta-ui")
        .enabled
    )


def test_a_flag_holds_a_plan_feature_back_until_it_reaches_the_tenant() -> None:
    held = flags.Flag("export", percentage=0)
    assert facts(tenant("standard"), held).decide("export").reason == "NOT_TARGETED"
    assert not facts(tenant("free"), flags.Flag("export", percentage=100)).decide("export").enabled
    assert facts(tenant("standard"), flags.Flag("export", percentage=100)).decide("export").enabled


def test_targeting_by_tenant_list_ring_and_switch() -> None:
    listed = flags.Flag("new-ui", tenants=frozenset({IDS[1]}))
    assert facts(tenant(tid=IDS[1]), listed).decide("new-ui").reason == "TARGETED"
    assert not facts(tenant(tid=IDS[2]), listed).decide("new-ui").enabled
    beta = flags.Flag("new-ui", ring=flags.Ring.BETA)
    assert facts(tenant(ring=flags.Ring.INTERNAL), beta).decide("new-ui").reason == "RING"
    assert facts(tenant(ring=flags.Ring.BETA), beta).decide("new-ui").enabled
    assert not facts(tenant(ring=flags.Ring.ALL), beta).decide("new-ui").enabled
    internal = flags.Flag("new-ui", ring=flags.Ring.INTERNAL)
    assert not facts(tenant(ring=flags.Ring.BETA), internal).decide("new-ui").enabled
    everyone = flags.Flag("new-ui", ring=flags.Ring.ALL)
    assert facts(tenant(), everyone).decide("new-ui").enabled
    off = flags.Flag("new-ui", enabled=False, tenants=frozenset({IDS[0]}), percentage=100)
    assert facts(tenant(), off).decide("new-ui").reason == "DISABLED"


def test_a_rollout_to_ten_percent_reaches_ten_percent_stably_then_everyone() -> None:
    def reached(flag: flags.Flag) -> set[str]:
        return {i for i in IDS if facts(tenant(tid=i), flag).decide(flag.key).enabled}

    ten = reached(flags.Flag("new-ui", percentage=10))
    assert 10 <= len(ten) <= 30  # 10% of 200 is 20: within a binomial tolerance
    assert reached(flags.Flag("new-ui", percentage=10)) == ten  # stable
    assert ten <= reached(flags.Flag("new-ui", percentage=50))  # raising only adds tenants
    assert reached(flags.Flag("new-ui", percentage=100)) == set(IDS)
    other = reached(flags.Flag("other", percentage=10))
    assert other != ten  # each flag has its own population


def test_enabled_lists_every_usable_feature() -> None:
    got = facts(tenant("standard"), flags.Flag("new-ui", percentage=100), **{"audit-log": True})
    assert got.enabled() == ["audit-log", "export", "new-ui", "projects"]


@pytest.fixture
def provider() -> Iterator[None]:
    def load(ctx: object) -> flags.Facts | None:
        key = getattr(ctx, "targeting_key", None)
        if key == "unreachable":
            raise flags.FactsUnavailable("the database is down")
        return facts(tenant("free", tid=key or "")) if key != "ghost" else None

    flags.install(load)
    yield
    api.clear_providers()


@pytest.mark.usefixtures("provider")
def test_the_openfeature_provider_answers_with_plans_and_fails_closed() -> None:
    refused = flags.ask("export", IDS[0])
    assert refused == flags.Answer(False, "NOT_IN_PLAN", ["pro", "standard"], "free")
    assert flags.ask("projects", IDS[0]).enabled
    assert not flags.ask("projects", "ghost").enabled
    down = flags.ask("projects", "unreachable")
    assert (down.enabled, down.error) == (False, "the database is down")
    client = api.get_client(flags.DOMAIN)
    assert client.get_string_details("projects", "x", flags.context(IDS[0])).error_code


def test_a_custom_provider_replaces_tenantrys() -> None:
    flags.install(lambda _: None, "openfeature.provider.no_op_provider:NoOpProvider")
    try:
        assert api.get_provider_metadata(flags.DOMAIN).name == "No-op Provider"
    finally:
        api.clear_providers()
