"""The app plane: the tenant workload Tenantry's deployments run (projects and notes).

Its data lives where the operator placed the tenant; every request runs in a transaction whose
tenant context comes from the caller's verified token, set with `set_config(..., true)`.
"""
