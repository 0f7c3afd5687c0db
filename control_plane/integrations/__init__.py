"""The control plane's outside systems: Kubernetes (`kube`), Stripe (`stripe_sync`) and the app
plane's usage table (`usage_db`). Called by services and workers; they know no HTTP."""
