"""A local SMTP sink (aiosmtpd) that keeps every message it receives in a Maildir, for `make dev`
and the tests: the control plane mails through it, and whoever reads the Maildir reads the real
message (`messages`, `text`; `tenantry-dev mail ADDRESS` prints the newest).

Development only: the `dev` extra installs aiosmtpd. Without it the platform names no SMTP
server and nothing is mailed (`localplatform.devenv`). `localplatform.stack` starts it under the
Supervisor.
"""

from __future__ import annotations

import importlib.util
import mailbox
import socket
import sys
from pathlib import Path

from localplatform import procs


def installed() -> bool:
    return importlib.util.find_spec("aiosmtpd") is not None


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def start(supervisor: procs.Supervisor, *, port: int, maildir: Path) -> procs.Process:
    maildir.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
    process = supervisor.start("mailsink", [*argv, "-c", "aiosmtpd.handlers.Mailbox", str(maildir)])
    supervisor.wait_ready(process, lambda: _listening(port), timeout=30)
    return process


def messages(maildir: Path, *, to: str) -> list[mailbox.MaildirMessage]:
    """The messages addressed to `to`, in the order they arrived."""
    box = mailbox.Maildir(maildir, factory=None, create=False)
    found = [
        mailbox.MaildirMessage(msg) for msg in box if str(msg.get("To", "")).lower() == to.lower()
    ]
    return sorted(found, key=lambda msg: msg.get_date())


def text(message: mailbox.MaildirMessage) -> str:
    """A message's plain-text body, decoded (quoted-printable, base64, its charset)."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return ""
