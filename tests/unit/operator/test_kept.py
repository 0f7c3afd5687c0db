"""The record a kept namespace carries when the Tenant CRD is deleted, and who may take it over."""

from typing import Any

import pytest
from tenantry_operator import kept

from tenantry_core import resources

UID = "8b1f2d3c-0000-4000-8000-000000000001"
TENANT_ID = "5f0e9c1a-1111-4111-8111-111111111111"


def tenant(uid: str = UID, *, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": resources.API_VERSION,
        "kind": "Tenant",
        "metadata": {"name": "acme", "uid": uid, "labels": labels or {}},
        "spec": {"tier": "enterprise", **spec},
        "status": {
            "placement": "silo",
            "migration": {"phase": "Completed", "source": "pool", "target": "silo"},
        },
    }


def test_the_record_round_trips_through_the_annotation() -> None:
    record = kept.Kept.of_tenant(tenant(labels={resources.LABEL_TENANT_ID: TENANT_ID}))
    assert (record.uid, record.tenant_key, record.tenant_id, record.placement) == (
        UID,
        "acme",
        TENANT_ID,
        "silo",
    )
    again = kept.Kept.from_annotations({kept.ANNOTATION: record.to_annotation()})
    assert again == record
    assert again.status() == {
        "placement": "silo",
        "migration": {"phase": "Completed", "source": "pool", "target": "silo"},
    }


def test_no_annotation_is_no_record_and_a_broken_one_an_error() -> None:
    assert kept.Kept.from_annotations(None) is None
    assert kept.Kept.from_annotations({"other": "x"}) is None
    for broken in ("not json", '{"uid": "x"}', '{"uid": "x", "tenantKey": "Not A Key"}', "[]"):
        with pytest.raises(ValueError, match="kept-tenant record"):
            kept.Kept.from_annotations({kept.ANNOTATION: broken})


def test_a_tenant_without_placement_seeds_no_status() -> None:
    body = tenant()
    body["status"] = {}
    assert kept.Kept.of_tenant(body).status() == {}


def test_only_the_same_tenant_takes_it_over() -> None:
    signed_up = kept.Kept.of_tenant(tenant(labels={resources.LABEL_TENANT_ID: TENANT_ID}))
    new_uid = "8b1f2d3c-0000-4000-8000-000000000002"
    same_registry_row = tenant(new_uid, labels={resources.LABEL_TENANT_ID: TENANT_ID})
    assert kept.refusal(signed_up, same_registry_row) is None
    named_by_an_admin = tenant(new_uid, adoptRetainedFrom=UID)
    assert kept.refusal(signed_up, named_by_an_admin) is None

    other_row = tenant(new_uid, labels={resources.LABEL_TENANT_ID: "another"})
    stranger = tenant(new_uid)
    for body in (other_row, stranger, tenant(new_uid, adoptRetainedFrom="another-uid")):
        why = kept.refusal(signed_up, body)
        assert why is not None
        assert UID in why
        assert "tenant-acme" in why

    by_kubectl = kept.Kept.of_tenant(tenant())  # no registry row: only an admin may name it
    assert kept.refusal(by_kubectl, stranger) is not None
    assert (
        kept.refusal(by_kubectl, tenant(new_uid, labels={resources.LABEL_TENANT_ID: ""}))
        is not None
    )
    assert kept.refusal(by_kubectl, named_by_an_admin) is None


def test_owner_references() -> None:
    body = tenant()
    mine = kept.owner_reference(body)
    assert mine == {
        "apiVersion": resources.API_VERSION,
        "kind": "Tenant",
        "name": "acme",
        "uid": UID,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    other = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "x", "uid": "other"}
    assert kept.without_owner([mine, other], UID) == [other]
    assert kept.owned_by_tenant([other, mine])
    assert not kept.owned_by_tenant([other])
    assert not kept.owned_by_tenant([{**mine, "apiVersion": "example.com/v1"}])
