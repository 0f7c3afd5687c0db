"""Tenantry's control plane: the system of record for tenants, users and tiers (FastAPI).

Layers: `api.routes` (HTTP) → `services` (use cases, Kubernetes I/O) → `models` (SQLAlchemy)
on `core` (settings, database, security, problems, logging).
"""
