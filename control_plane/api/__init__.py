"""The control plane's HTTP API (version 1)."""
