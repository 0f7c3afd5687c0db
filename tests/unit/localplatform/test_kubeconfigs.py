"""A ServiceAccount's kubeconfig: the admin's cluster, the token, the account's namespace."""

from localplatform import kubeconfigs

ADMIN = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [
        {"name": "other", "cluster": {"server": "https://10.0.0.9:6443"}},
        {
            "name": "tenantry-local",
            "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority": "/ca.crt"},
        },
    ],
    "users": [{"name": "tenantry-admin", "user": {"token": "admin-token"}}],
    "contexts": [
        {"name": "other", "context": {"cluster": "other", "user": "tenantry-admin"}},
        {
            "name": "tenantry-local",
            "context": {"cluster": "tenantry-local", "user": "tenantry-admin"},
        },
    ],
    "current-context": "tenantry-local",
}


def test_the_token_acts_on_the_current_cluster_in_its_namespace() -> None:
    config = kubeconfigs.for_token(
        ADMIN, user="tenantry-system-op", token="sa-token", namespace="tenantry-system"
    )
    assert config["clusters"] == [ADMIN["clusters"][1]]
    assert config["users"] == [{"name": "tenantry-system-op", "user": {"token": "sa-token"}}]
    assert config["current-context"] == "tenantry-system-op"
    assert config["contexts"] == [
        {
            "name": "tenantry-system-op",
            "context": {
                "cluster": "tenantry-local",
                "user": "tenantry-system-op",
                "namespace": "tenantry-system",
            },
        }
    ]


def test_the_admin_credentials_are_not_carried_over() -> None:
    config = kubeconfigs.for_token(ADMIN, user="u", token="t", namespace="n")
    assert "admin-token" not in repr(config)
