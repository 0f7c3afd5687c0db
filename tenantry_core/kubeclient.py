"""The Kubernetes API client: in-cluster config, else the file KUBECONFIG names (read at first use,
not when the kubernetes package was imported). Shared by the operator and the control plane.
"""

from __future__ import annotations

import functools
import os

from kubernetes import client, config


@functools.cache
def api_client() -> client.ApiClient:
    try:
        config.load_incluster_config()
        return client.ApiClient()
    except config.ConfigException:
        return config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"))
