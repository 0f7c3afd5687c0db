"""`tenantry`: the operations CLI for SREs. It reads Tenants from the cluster (KUBECONFIG) and
the registry's billing state and outbox from the control-plane API (TENANTRY_API_URL); it
imports only `tenantry_core` of the project.
"""
