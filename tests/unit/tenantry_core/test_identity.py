"""The tenant key: made from company names, and checked where one is read."""

import pytest

from tenantry_core import identity


@pytest.mark.parametrize(
    ("company", "slug"),
    [
        ("Acme, Inc.", "acme-inc"),
        ("  Über  Café ", "uber-cafe"),
        ("42 Labs", "t-42-labs"),
        ("!!!", "t"),
        ("x" * 80, "x" * 40),
        ("a" * 39 + " b", "a" * 39),
    ],
)
def test_a_company_name_becomes_a_tenant_key(company: str, slug: str) -> None:
    assert identity.from_company(company) == slug
    assert identity.parse(slug) == slug


@pytest.mark.parametrize("text", ["", "Acme", "-acme", "acme-", "1acme", "a_b", "x" * 41, "a.b"])
def test_a_non_key_is_refused_with_its_reason(text: str) -> None:
    with pytest.raises(identity.InvalidTenantKey, match="not a tenant key"):
        identity.parse(text)
