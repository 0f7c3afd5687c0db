"""The local platform: Postgres, a real Kubernetes control plane and a simulated node.

Used by `make dev` (through `localplatform.cli`) and by the integration tests (through
`tests/conftest.py`), so both run the same components the same way.
"""
