"""The tenant's identity: the tenant key, and how one is made from a company name.

One idea, one name. `tenant_key` is the Kubernetes-safe name of a tenant: its Tenant's
`metadata.name`, the registry's `tenant_key` column (the API shows it as `slug`), the access
token's `tkey` claim and the `tenant_key` column of the app's tables. `tenant_id` is only ever
the registry's UUID. Used by every component.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NewType

TenantKey = NewType("TenantKey", str)

MAX_LENGTH = 40
# A DNS label that starts with a letter: also a safe suffix for roles, schemas and databases.
PATTERN = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")


class InvalidTenantKey(ValueError):
    """Not a tenant key: the message says why."""


def parse(text: str) -> TenantKey:
    """`text` as a tenant key, or InvalidTenantKey."""
    if not PATTERN.match(text):
        raise InvalidTenantKey(
            f"{text!r} is not a tenant key: lower-case letters, digits and '-', starting with a "
            f"letter, at most {MAX_LENGTH} characters"
        )
    return TenantKey(text)


def from_company(company: str) -> TenantKey:
    """A tenant key from a company name: 'Acme, Inc.' → 'acme-inc'."""
    ascii_name = unicodedata.normalize("NFKD", company).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    if not key or not key[0].isalpha():
        key = f"t-{key}".rstrip("-")
    return TenantKey(key[:MAX_LENGTH].rstrip("-"))
