"""Tenantry's Kubernetes operator: reconciles Tenant and Tier custom resources.

Imported as `tenantry_operator` (its sources sit in the repository's `operator/` folder; the
name `operator` would shadow the standard library). Layers, top to bottom: `handlers` (thin kopf
registrations) → `reconcile` (ordered ensure-steps) → `planning` and `status` (pure) and `apply`
and `pooldb` (all I/O).
"""
