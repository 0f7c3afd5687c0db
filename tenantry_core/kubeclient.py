"""The Kubernetes API client: in-cluster config, else the file KUBECONFIG names (read at first use,
not when the kubernetes package was imported). Shared by the operator and the control plane.
"""

from __future__ import annotations

import functools
import os

from kubernetes import client, config

# Connections kept to the API server: the operator's handlers, its convergence loop and the
# applies each runs at once share them (the client's default, 5 a core, made and dropped more).
POOL_SIZE = 32


@functools.cache
def api_client() -> client.ApiClient:
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        config.load_kube_config(
            config_file=os.environ.get("KUBECONFIG"), client_configuration=configuration
        )
    configuration.connection_pool_maxsize = POOL_SIZE
    return client.ApiClient(configuration)
