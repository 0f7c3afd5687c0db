"""What the local platform applies: the platform namespace and the shared app's Secret."""

from localplatform import manifests


def test_the_shared_apps_secret_holds_only_its_database_and_the_public_key() -> None:
    env = {
        "TENANTRY_APP_DATABASE_URL": "postgresql://tenantry_app:pw@127.0.0.1:5432/tenantry_pool",
        "JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----",
        "JWT_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----",
        "TENANTRY_POSTGRES_ADMIN_URL": "postgresql://postgres@127.0.0.1:5432/postgres",
    }
    namespace, secret = manifests.platform_objects(env)["items"]
    assert namespace["kind"] == "Namespace"
    assert namespace["metadata"] == {
        "name": "tenantry-system",
        "labels": {"tenantry.dev/platform": "true"},
    }
    assert secret["kind"] == "Secret"
    assert secret["metadata"] == {"name": "tenantry-app", "namespace": "tenantry-system"}
    assert secret["stringData"] == {
        "TENANTRY_APP_DATABASE_URL": env["TENANTRY_APP_DATABASE_URL"],
        "JWT_PUBLIC_KEY": env["JWT_PUBLIC_KEY"],
    }


def test_the_crds_applied_are_the_repositorys() -> None:
    assert manifests.CRD_NAMES == ("tenants.tenantry.dev", "tiers.tenantry.dev")
    for name in manifests.CRD_NAMES:
        assert (manifests.CRDS / f"{name}.yaml").exists()
    assert (manifests.CRDS / "default-tiers.yaml").exists()
