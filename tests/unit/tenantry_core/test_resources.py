"""The custom resources' names and vocabulary are the CRDs' in `crds/`."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from tenantry_core import enums, resources

CRDS = Path(__file__).resolve().parents[3] / "crds"


def crd(plural: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CRDS / f"{plural}.{resources.GROUP}.yaml").read_text())
    return loaded


def schema(plural: str) -> dict[str, Any]:
    [version] = [v for v in crd(plural)["spec"]["versions"] if v["storage"]]
    assert version["name"] == resources.VERSION
    properties: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]
    return properties


@pytest.mark.parametrize(
    ("plural", "kind"),
    [
        (resources.TENANT_PLURAL, resources.TENANT_KIND),
        (resources.TIER_PLURAL, resources.TIER_KIND),
    ],
)
def test_group_kind_and_plural_are_the_crds(plural: str, kind: str) -> None:
    spec = crd(plural)["spec"]
    assert spec["group"] == resources.GROUP
    assert spec["scope"] == "Cluster"
    assert (spec["names"]["kind"], spec["names"]["plural"]) == (kind, plural)


def test_the_enums_are_the_tenant_crds() -> None:
    tenant = schema(resources.TENANT_PLURAL)
    spec, status = tenant["spec"]["properties"], tenant["status"]["properties"]
    assert spec["deletionPolicy"]["enum"] == [p.value for p in enums.DeletionPolicy]
    assert status["phase"]["enum"] == [p.value for p in enums.Phase]
    assert status["placement"]["enum"] == [i.value for i in enums.Isolation]
    migration = status["migration"]["properties"]["phase"]["enum"]
    assert migration == [p.value for p in enums.MigrationPhase]


def test_a_tiers_isolation_is_the_isolation_enum() -> None:
    isolation = schema(resources.TIER_PLURAL)["spec"]["properties"]["isolation"]["enum"]
    assert isolation == [i.value for i in enums.Isolation]


def test_the_api_version_is_group_and_version() -> None:
    assert resources.API_VERSION == "tenantry.dev/v1alpha1"
    assert resources.LABEL_TENANT.startswith(resources.GROUP + "/")


# The keywords a structural CRD schema may use (apiextensions.k8s.io/v1 JSONSchemaProps).
SCHEMA_KEYWORDS = {
    "type", "description", "properties", "items", "required", "enum", "default", "format",
    "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
    "additionalProperties", "nullable", "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string", "x-kubernetes-list-type", "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type", "x-kubernetes-validations", "anyOf", "oneOf", "allOf",
}  # fmt: skip


def schema_keywords(node: dict[str, Any], where: str) -> list[str]:
    """Every unknown keyword below `node`, with where it is: e.g. a description with a comma in
    a YAML flow mapping becomes a stray key."""
    stray = [f"{where}: {key!r}" for key in node if key not in SCHEMA_KEYWORDS]
    for name, child in (node.get("properties") or {}).items():
        stray += schema_keywords(child, f"{where}.{name}")
    if isinstance(node.get("items"), dict):
        stray += schema_keywords(node["items"], f"{where}[]")
    if isinstance(node.get("additionalProperties"), dict):
        stray += schema_keywords(node["additionalProperties"], f"{where}{{}}")
    return stray


@pytest.mark.parametrize("plural", [resources.TENANT_PLURAL, resources.TIER_PLURAL])
def test_the_crd_schemas_use_only_schema_keywords(plural: str) -> None:
    [version] = [v for v in crd(plural)["spec"]["versions"] if v["storage"]]
    assert schema_keywords(version["schema"]["openAPIV3Schema"], plural) == []


class _Unique(yaml.SafeLoader):
    """A loader that refuses a key twice in one mapping (the API server's does; PyYAML's keeps
    the last one silently)."""


def _unique_mapping(loader: _Unique, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        assert key not in seen, f"{key!r} twice, line {key_node.start_mark.line + 1}"
        seen.add(key)
    return dict(loader.construct_mapping(node))


_Unique.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


@pytest.mark.parametrize("path", sorted(CRDS.glob("*.yaml")), ids=lambda p: p.name)
def test_no_crd_file_names_a_key_twice(path: Path) -> None:
    assert list(yaml.load_all(path.read_text(), Loader=_Unique))
