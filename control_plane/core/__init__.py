"""Cross-cutting pieces of the control plane: settings, database, security, errors, logging."""
