"""Cross-cutting pieces of the control plane: settings, database, security, permissions, OIDC
verification, logging. Imports no other layer of the control plane."""
