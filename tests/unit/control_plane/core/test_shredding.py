"""Sealing the audit log's personal values under a key per subject, and erasing by key
(control_plane.core.shredding), as services.audit and the migration 0015 use it."""

from __future__ import annotations

import importlib
import json
import uuid

import pytest
from cryptography.exceptions import InvalidTag

from control_plane.core import shredding


class Keys:
    """An in-memory keys table."""

    def __init__(self) -> None:
        self.by_subject: dict[str, shredding.Key] = {}

    def key_for(self, subject: str) -> shredding.Key:
        if subject not in self.by_subject:
            self.by_subject[subject] = (uuid.uuid4(), shredding.new_key())
        return self.by_subject[subject]

    def by_id(self, key_id: uuid.UUID) -> bytes | None:
        return next((k for i, k in self.by_subject.values() if i == key_id), None)

    def destroy(self, subject: str) -> None:
        del self.by_subject[subject]


DOC = {
    "email": "Ann@Example.com",
    "role": "member",
    "full_name": "Ann Example",
    "members": [{"note": "invited bob@example.org today"}],
    "tier": "free",
}


def test_personal_values_are_sealed_and_others_kept() -> None:
    keys = Keys()
    sealed = shredding.seal_document(DOC, fallback="user:1", key_for=keys.key_for)
    text = json.dumps(sealed)
    assert "example.com" not in text.lower()
    assert "bob@example.org" not in text
    assert "Ann Example" not in text
    assert (sealed["role"], sealed["tier"]) == ("member", "free")
    assert set(keys.by_subject) == {"email:ann@example.com", "email:bob@example.org"}
    assert shredding.open_document(sealed, keys.by_id) == DOC


def test_destroying_a_subjects_key_erases_only_its_values() -> None:
    keys = Keys()
    sealed = shredding.seal_document(DOC, fallback="user:1", key_for=keys.key_for)
    keys.destroy("email:ann@example.com")
    opened = shredding.open_document(sealed, keys.by_id)
    # The name had no address of its own: it went with the document's first address.
    assert (opened["email"], opened["full_name"]) == (shredding.ERASED, shredding.ERASED)
    assert opened["members"] == DOC["members"]
    assert opened["role"] == "member"


def test_a_value_without_an_address_in_its_document_belongs_to_the_actor() -> None:
    keys = Keys()
    sealed = shredding.seal_document({"ip": "10.0.0.7"}, fallback="user:42", key_for=keys.key_for)
    assert list(keys.by_subject) == ["user:42"]
    assert shredding.key_ids(sealed) == {keys.by_subject["user:42"][0]}


def test_a_sealed_value_is_bound_to_its_key_id() -> None:
    keys = Keys()
    value = shredding.seal(keys.key_for("user:1"), "10.0.0.1")
    _, key_id, blob = value.rsplit(":", 2)
    other = keys.key_for("user:2")[0]
    with pytest.raises(InvalidTag):
        shredding.unseal(
            f"{shredding.PREFIX}{other}:{blob}", lambda _: keys.by_id(uuid.UUID(key_id))
        )


@pytest.mark.parametrize(
    ("actor", "personal"),
    [("user:1", True), ("ann@example.com", True), ("stripe:evt_1", False), ("anonymous", False)],
)
def test_only_a_persons_client_ip_is_personal(actor: str, personal: bool) -> None:
    assert shredding.personal_actor(actor) is personal


def test_the_migration_seals_an_existing_entry_as_record_does() -> None:
    migration = importlib.import_module("control_plane.alembic.versions.0018_audit_shredding")
    keys = Keys()
    row = {
        "id": 7,
        "actor": "user:1",
        "before": None,
        "after": {"email": "ann@example.com", "role": "member"},
        "client_ip": "10.0.0.9",
    }
    sealed = migration.seal_entry(row, keys.key_for)
    assert sealed["actor"] == "user:1"
    assert shredding.sealed(sealed["client_ip"])
    assert "ann@example.com" not in json.dumps(sealed)
    opened = shredding.open_document(
        [sealed["actor"], sealed["before"], sealed["after"], sealed["client_ip"]], keys.by_id
    )
    assert opened == ["user:1", None, row["after"], "10.0.0.9"]
    assert migration.seal_entry(sealed, keys.key_for) == sealed  # sealing twice changes nothing
