"""Tenantry's Kubernetes operator: reconciles Tenant and Tier custom resources.

Imported as `tenantry_operator` (its sources sit in the repository's `operator/` folder; the
name `operator` would shadow the standard library). Layers, top to bottom, each importing only
those below it (import-linter contracts in pyproject.toml keep it so):

- `handlers`: thin kopf registrations; turn an Outcome into a status patch, Events, metrics.
- `reconcile`: one Tenant reconcile, its offboarding, Tier changes; `steps`: its ensure-steps.
- `migration`: a live migration between placements, phase by phase.
- I/O: `apply` (Kubernetes), `databases`, `grants`, `routes`, `replication`, `snapshots`,
  `provisioner`, `app_schema` and `postgres` (Postgres), `metrics` (Prometheus); the silo
  database provisioners (`provisioners` picks one per Tier: `provisioner_terraform`,
  `provisioner_pulumi` with its program `pulumi_silo`).
- Pure: `status` (the whole status), `decide` (placement and migration decisions),
  `conditions` (condition types, reasons, phase, Events), `planning` (objects and database
  plans), `migration_state`, `model` (typed resources and derived names), `settings`.
"""
