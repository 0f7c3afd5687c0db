"""Tenantry's shared core: the contract between the control plane, the operator and the app plane.

Every component imports it; it imports none of them (an import-linter contract keeps it so).
Modules: `resources` (the custom resources' API group, kinds, labels), `enums` (isolation
models, phases, deletion policies), `identity` (the tenant key), `routing` (the pool database's
routing contract: tables, columns, the tenant setting, the migration fence, platform roles),
`schema` (how the app's schema migrations are run), `tokens` (signing keys and access-token
verification), `bearer` (a request's token, or a 401), `problems` (RFC 9457 problem+json),
`urls` (database URLs) and `kubeclient` (the Kubernetes client from KUBECONFIG or in-cluster
config).
"""
