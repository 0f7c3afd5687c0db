"""Tenantry's control plane: the system of record for tenants, users and tiers (FastAPI).

Layers, each importing only those below it (import-linter checks): `api` (HTTP: routes,
dependencies, middleware, problem+json) → `workers` (background threads) → `services` (use
cases, raising domain errors) → `integrations` (Kubernetes, Stripe, the usage table) → `models`,
`schemas` and `core` (settings, database, security, permissions, logging). `main` assembles the
app and starts the workers; `prestart` migrates the database.
"""
