"""Invitations made in the API are mailed: the answer holds no token, the invitee's mail (text
and HTML, from the outbox) holds the one-time link, which is stored only hashed; a replayed
request mails once; a revoked invitation's link does not work."""

from __future__ import annotations

import concurrent.futures
import hashlib
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from localplatform import mailsink
from tests.conftest import eventually
from tests.integration import support

pytestmark = pytest.mark.integration


def test_an_invitation_is_mailed_and_only_the_mail_holds_its_token(
    api: httpx.Client, env: dict[str, str], control_db: psycopg.Connection[Any]
) -> None:
    body = support.signup(api, support.unique("Mailed"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    email = f"{support.unique('ada')}@example.com"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    invite = {"email": email, "role": "admin"}
    invited = api.post(f"/tenants/{tid}/invitations", headers=owner | key, json=invite)
    assert invited.status_code == 201, invited.text
    assert "token" not in invited.json()
    replayed = api.post(f"/tenants/{tid}/invitations", headers=owner | key, json=invite)
    assert replayed.headers["idempotent-replayed"] == "true"

    maildir = Path(env["TENANTRY_MAILDIR"])
    [mail] = eventually(lambda: mailsink.messages(maildir, to=email), what="invitation mail")
    assert mail["Subject"] == f"You are invited to join {body['tenant']['company']} on Tenantry"
    text = mailsink.text(mail)
    assert "as admin" in text
    link = re.search(r"(\S+)\?token=(inv_[A-Za-z0-9_\-]+)", text)
    assert link is not None, text
    assert link.group(1).endswith("/accept-invitation")  # INVITATION_URL
    token = link.group(2)
    [html] = [p for p in mail.walk() if p.get_content_type() == "text/html"]
    assert f"token={token}" in bytes(html.get_payload(decode=True)).decode()

    # Stored only hashed; neither the outbox nor the audit log holds the token.
    row = control_db.execute(
        "SELECT token_hash, mailed_at IS NOT NULL FROM invitations WHERE id = %s",
        (invited.json()["id"],),
    ).fetchone()
    assert row == (hashlib.sha256(token.encode()).hexdigest(), True)
    leaked = control_db.execute(
        "SELECT (SELECT count(*) FROM outbox WHERE tenant_id = %s AND payload::text LIKE %s)"
        " + (SELECT count(*) FROM audit_log WHERE tenant_id = %s AND after::text LIKE %s)",
        (tid, f"%{token}%", tid, f"%{token}%"),
    ).fetchone()
    assert leaked == (0,)
    listed = api.get(f"/tenants/{tid}/invitations", headers=owner).json()
    assert [(i["email"], i["mailed_at"] is not None) for i in listed] == [(email, True)]

    # One invitation, one mail, for the replayed request; the invitee joins with the token.
    [(entry,)] = control_db.execute(
        "SELECT id FROM outbox WHERE tenant_id = %s AND action = 'send_invitation'", (tid,)
    ).fetchall()
    support.wait_processed(control_db, entry)
    assert len(mailsink.messages(maildir, to=email)) == 1
    joined = api.post("/invitations/accept", json={"token": token, "password": support.PASSWORD})
    assert joined.status_code == 201, joined.text
    me = api.get("/auth/me", headers=support.bearer(joined.json()["access_token"])).json()
    assert (me["tenant_id"], me["role"]) == (tid, "admin")


def test_a_revoked_invitation_is_not_mailed_again_and_its_link_fails(
    api: httpx.Client, env: dict[str, str], control_db: psycopg.Connection[Any]
) -> None:
    body = support.signup(api, support.unique("Revoked"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    email = f"{support.unique('bob')}@example.com"
    invited = api.post(f"/tenants/{tid}/invitations", headers=owner, json={"email": email})
    assert invited.status_code == 201, invited.text
    token = support.invitation_token(api, email)
    revoked = api.delete(f"/tenants/{tid}/invitations/{invited.json()['id']}", headers=owner)
    assert revoked.status_code == 204
    accepted = api.post("/invitations/accept", json={"token": token, "password": support.PASSWORD})
    assert accepted.status_code == 404
    # The entry of a revoked invitation, run again, mails nothing.
    entry = control_db.execute(
        "UPDATE outbox SET processed_at = NULL, next_attempt_at = now() WHERE tenant_id = %s"
        " AND action = 'send_invitation' RETURNING id",
        (tid,),
    ).fetchone()
    assert entry is not None
    support.wait_processed(control_db, entry[0])
    result = control_db.execute("SELECT payload->>'result' FROM outbox WHERE id = %s", entry)
    assert "revoked" in str(result.fetchone())
    assert len(mailsink.messages(Path(env["TENANTRY_MAILDIR"]), to=email)) == 1


def test_a_link_opened_before_its_mail_commits_waits_for_the_commit(
    api: httpx.Client, env: dict[str, str], control_db: psycopg.Connection[Any]
) -> None:
    """The outbox mails the link inside the transaction that stores the token's hash: an invitee
    quicker than that commit is answered once it lands, never with a 404."""
    body = support.signup(api, support.unique("Quick"))
    tid, owner = body["tenant"]["id"], support.auth(body)
    email = f"{support.unique('cy')}@example.com"
    invited = api.post(f"/tenants/{tid}/invitations", headers=owner, json={"email": email})
    assert invited.status_code == 201, invited.text
    support.invitation_token(api, email)  # its mail went out; this test mails the next token
    invitation = uuid.UUID(invited.json()["id"])
    token = f"inv_{invitation.hex}_{uuid.uuid4().hex}"  # the form services.invitations issues

    url = env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as mailing, concurrent.futures.ThreadPoolExecutor(1) as pool:
        mailing.execute("SELECT 1 FROM invitations WHERE id = %s FOR UPDATE", (invitation,))
        mailing.execute(
            "UPDATE invitations SET token_hash = %s, mailed_at = now() WHERE id = %s",
            (hashlib.sha256(token.encode()).hexdigest(), invitation),
        )
        opened = pool.submit(
            api.post, "/invitations/accept", json={"token": token, "password": support.PASSWORD}
        )
        with pytest.raises(concurrent.futures.TimeoutError):
            opened.result(timeout=1.0)  # waits on the mailing transaction
        mailing.commit()
        accepted = opened.result(timeout=60)
    assert accepted.status_code == 201, accepted.text
