"""The export archive's links and its check against the manifest (app_plane.archive)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from app_plane import archive

SECRET = "s3cret"


def _refusal(
    *,
    secret: str = SECRET,
    export_id: str = "e1",
    tenant_key: str = "acme",
    expires: int | None = None,
    signature: str | None = None,
    now: float = 999.0,
) -> str | None:
    """Why a link for export e1 of acme until 1000, with one part changed, is refused."""
    signed = archive.sign(SECRET, export_id="e1", tenant_key="acme", expires=1000)
    assert signed["tenant"] == "acme"
    return archive.signed(
        secret,
        export_id=export_id,
        tenant_key=tenant_key,
        expires=int(signed["expires"]) if expires is None else expires,
        signature=signature or signed["signature"],
        now=now,
    )


def test_a_signed_link_is_good_until_it_expires() -> None:
    assert _refusal() is None
    assert _refusal(now=1000.0) == "the link has expired"


@pytest.mark.parametrize(
    "change",
    [
        {"export_id": "e2"},
        {"tenant_key": "other"},
        {"expires": 5000},
        {"signature": "0" * 64},
        {"secret": "another"},
    ],
)
def test_a_link_changed_in_any_part_is_refused(change: dict[str, str | int]) -> None:
    assert _refusal(**change) == "the link's signature does not match"  # type: ignore[arg-type]


def _archive(path: Path, lines: bytes, *, rows: int, sha256: str) -> None:
    table = {"name": "notes", "file": "notes.jsonl", "rows": rows, "sha256": sha256}
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("notes.jsonl", lines)
        out.writestr(archive.MANIFEST, json.dumps({"tables": [table]}))


def test_check_accepts_a_matching_archive_and_refuses_a_changed_one(tmp_path: Path) -> None:
    lines = b'{"a":1}\n{"a":2}\n'
    good = tmp_path / "good.zip"
    _archive(good, lines, rows=2, sha256=hashlib.sha256(lines).hexdigest())
    assert archive.check(good)["tables"][0]["rows"] == 2
    bad = tmp_path / "bad.zip"
    _archive(bad, lines + b'{"a":3}\n', rows=2, sha256=hashlib.sha256(lines).hexdigest())
    with pytest.raises(archive.Corrupt, match=r"notes\.jsonl"):
        archive.check(bad)
