"""What a principal may do with its tenant's data on the app plane: the `data:*` permissions.

The control plane's roles and API keys grant them (`control_plane.core.permissions`); the app
plane checks them on every route (`app_plane.access`). Pure vocabulary, shared by both.
"""

from __future__ import annotations

DATA_READ = "data:read"  # list and read projects and notes
DATA_WRITE = "data:write"  # create and change them
DATA_DELETE = "data:delete"  # delete them
DATA_EXPORT = "data:export"  # export everything at once (also needs the plan's `export` feature)

ALL = (DATA_READ, DATA_WRITE, DATA_DELETE, DATA_EXPORT)
