"""Use cases of the control plane, below the routes: signup, the outbox, the Kubernetes mirror."""
