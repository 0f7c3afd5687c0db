"""The Tier's policy move, with literal rules and loads: when a pooled tenant is proposed for
promotion or moved, how the rule is read from a Tier, today's request rate, and the
MoveProposed condition and its Events (Normal only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tenantry_operator import conditions, model, promoting, promotion, status

from tests.unit.operator import test_model

Isolation = promotion.Isolation
Action = promotion.Action
RULE = promotion.Rule(Isolation.SILO, above_rows=1000, above_requests_per_minute=60)
NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def decide(
    rule: promotion.Rule | None = RULE,
    placement: Isolation | None = Isolation.POOL,
    rows: int = 10,
    rate: float = 1.0,
    *,
    explicit: bool = False,
    moving: bool = False,
) -> promotion.Proposal | None:
    return promotion.decide(
        rule=rule,
        placement=placement,
        explicit=explicit,
        moving=moving,
        load=promotion.Load(rows, rate),
    )


def test_a_tenant_within_its_limits_is_not_proposed_and_is_told_its_figures() -> None:
    found = decide(rows=1000, rate=60.0)
    assert found is not None
    assert not found.exceeded
    assert found.why == "1000 rows (limit 1000), 60.0 requests/min (limit 60)"


@pytest.mark.parametrize(
    ("rows", "rate", "why"),
    [
        (1001, 1.0, "1001 rows above 1000"),
        (5, 61.5, "61.5 requests/min above 60"),
        (2000, 90.0, "2000 rows above 1000; 90.0 requests/min above 60"),
    ],
)
def test_above_either_limit_a_move_is_proposed(rows: int, rate: float, why: str) -> None:
    assert decide(rows=rows, rate=rate) == promotion.Proposal(
        True, Isolation.SILO, Action.PROPOSE, why
    )


def test_move_sets_it_going_unless_the_placement_was_chosen_explicitly() -> None:
    rule = promotion.Rule(Isolation.BRIDGE, above_rows=5, action=Action.MOVE)
    moved = decide(rule, rows=6)
    assert moved is not None
    assert (moved.exceeded, moved.target, moved.action) == (True, Isolation.BRIDGE, Action.MOVE)
    explicit = decide(rule, rows=6, explicit=True)
    assert explicit is not None
    assert explicit.action is Action.PROPOSE


@pytest.mark.parametrize(
    ("rule", "placement", "moving"),
    [
        (None, Isolation.POOL, False),  # the Tier has no rule
        (RULE, None, False),  # not placed yet
        (RULE, Isolation.SILO, False),  # there already
        (promotion.Rule(Isolation.BRIDGE, above_rows=1), Isolation.SILO, False),  # never down
        (promotion.Rule(Isolation.BRIDGE, above_rows=1), Isolation.BRIDGE, False),
        (RULE, Isolation.POOL, True),  # a move is asked for or under way
    ],
)
def test_the_rule_does_not_apply(
    rule: promotion.Rule | None, placement: Isolation | None, moving: bool
) -> None:
    assert decide(rule, placement, rows=10**6, rate=10**6, moving=moving) is None


def test_a_bridge_tenant_may_be_promoted_to_silo() -> None:
    found = decide(RULE, Isolation.BRIDGE, rows=5000)
    assert found is not None
    assert found.exceeded


def test_only_the_limits_given_count() -> None:
    rows_only = promotion.Rule(Isolation.SILO, above_rows=100)
    assert decide(rows_only, rate=10**9) == promotion.Proposal(
        False, Isolation.SILO, Action.PROPOSE, "10 rows (limit 100)"
    )


def test_the_rule_is_read_from_the_tiers_spec() -> None:
    tier = model.Tier.from_body(
        {
            "metadata": {"name": "growing"},
            "spec": {
                "isolation": "pool",
                "placement": {
                    "policy": "LeastRows",
                    "promote": {"to": "bridge", "aboveRows": 50, "action": "Move"},
                },
            },
        }
    )
    assert tier.promote == promotion.Rule(Isolation.BRIDGE, 50, None, Action.MOVE)
    plain = model.Tier.from_body({"metadata": {"name": "p"}, "spec": {"isolation": "pool"}})
    assert plain.promote is None
    proposing = promotion.Rule.from_spec({"placement": {"promote": {"to": "silo"}}})
    assert proposing == promotion.Rule(Isolation.SILO, None, None, Action.PROPOSE)


def test_requests_per_minute_is_todays_average() -> None:
    assert promotion.requests_per_minute(720, NOW) == 1.0  # 720 calls by noon
    midnight = NOW.replace(hour=0)
    assert promotion.requests_per_minute(30, midnight) == 30.0  # at least one minute


def test_the_move_proposed_condition_is_written_and_announced_without_warnings() -> None:
    proposed = conditions.StepResult(True, conditions.Reason.MOVE_PROPOSED, "move it to silo")
    obs = status.Observation(
        generation=2,
        namespace=conditions.StepResult(True),
        database=conditions.StepResult(True),
        workload=conditions.StepResult(True),
        proposal=proposed,
    )
    before = status.conditions_of(status.Observation(generation=2), [], NOW)
    assert "MoveProposed" not in {c["type"] for c in before}
    after = status.conditions_of(obs, before, NOW)
    assert [c["type"] for c in after][-2:] == ["MoveProposed", "Ready"]
    found = next(c for c in after if c["type"] == "MoveProposed")
    assert (found["status"], found["reason"], found["message"]) == (
        "True",
        "MoveProposed",
        "move it to silo",
    )
    events = conditions.events(before, after)
    proposal_events = [e for e in events if e.reason in ("MoveProposed", "MoveProposalCleared")]
    assert proposal_events == [
        conditions.Event("Normal", "MoveProposed", "MoveProposed: move it to silo")
    ]
    below = conditions.StepResult(False, conditions.Reason.BELOW_LIMITS, "10 rows (limit 100)")
    cleared = status.conditions_of(status.Observation(generation=2, proposal=below), after, NOW)
    assert [e for e in conditions.events(after, cleared) if "Move" in e.reason] == [
        conditions.Event("Normal", "MoveProposalCleared", "MoveProposed cleared")
    ]
    assert not [
        e
        for e in conditions.events(
            [], status.conditions_of(status.Observation(generation=1, proposal=below), [], NOW)
        )
        if "Move" in e.reason or "BelowLimits" in e.reason
    ], "a tenant within its limits is not announced"


def test_the_tier_crd_declares_the_rule_as_it_is_read() -> None:
    promote = test_model.crd_properties("tiers.tenantry.dev.yaml", "spec", "placement", "promote")
    assert set(promote) == {"to", "aboveRows", "aboveRequestsPerMinute", "action"}
    assert promote["to"]["enum"] == ["bridge", "silo"]
    assert promote["action"]["enum"] == [a.value for a in Action]
    assert promote["action"]["default"] == Action.PROPOSE.value
    placement = test_model.crd_properties("tiers.tenantry.dev.yaml", "spec", "placement")
    assert placement["policy"]["enum"] == ["FewestTenants", "LeastRows"]


def test_a_placement_the_policy_set_itself_is_not_an_explicit_choice() -> None:
    def body(*managers: str, isolation: str | None = "bridge") -> dict[str, Any]:
        fields: dict[str, Any] = {"f:spec": {"f:placement": {"f:isolation": {}}}}
        return {
            "metadata": {"managedFields": [{"manager": m, "fieldsV1": fields} for m in managers]},
            "spec": {"placement": {"isolation": isolation}} if isolation else {},
        }

    assert not promoting.explicit(body(isolation=None))
    assert not promoting.explicit(body(promoting.FIELD_MANAGER))
    assert promoting.explicit(body("tenantry-control-plane"))
    assert promoting.explicit(body(promoting.FIELD_MANAGER, "kubectl-patch"))
    assert promoting.explicit(body())  # no managedFields: assume someone chose it
