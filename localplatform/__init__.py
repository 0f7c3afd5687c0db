"""The local platform: Postgres, a real Kubernetes control plane and a simulated node.

Used by `make dev` (through `localplatform.cli`) and by the integration tests (through
`tests/integration/conftest.py`), so both run the same components the same way.

- `stack`: `Platform`, the whole platform composed; the one entry point.
- Infrastructure: `postgres`, `kube` (our own etcd, kube-apiserver and controller manager, or
  the cluster in KUBECONFIG; kubectl), `manifests` (CRDs, the platform namespace, default
  Tiers), `localstripe`.
- The simulated node, a process of its own: `node` (the Node and its heartbeat), `kubelet`
  (its pods), `specs` (the documents it writes, pure), `pods` (app pods as local processes).
- Tenantry's own processes: `services` (operator, control plane, app plane), `devenv` (their
  environment and `dev.env`).
- `procs`: child processes (start, wait until ready, stop with their process group).
"""
