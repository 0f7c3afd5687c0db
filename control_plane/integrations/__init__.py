"""The control plane's outside systems: Kubernetes (`kube`), Stripe (`stripe_sync`) and the
pool database as the app's role (`app_db`: the usage the app plane metered, and the principals
it checks). Called by services and workers; they know no HTTP."""
