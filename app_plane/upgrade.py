"""`python -m app_plane.upgrade`: upgrade one placement's schema; the operator's way in.

The contract is `tenantry_core.schema`: the superuser URL comes in the environment (never on
the command line, where `ps` would show its password), `--isolation` and `--schema` say which
placement, and the exit status says whether it worked (the error on stderr). `--print-head`
prints the newest revision. Each run is a process of its own, so the operator's threads never
share Alembic's global state.
"""

from __future__ import annotations

import os

import typer

from app_plane import migrate
from tenantry_core import enums
from tenantry_core import schema as schema_contract


def main(
    isolation: enums.Isolation = typer.Option(enums.Isolation.POOL, help="the placement's model"),
    schema: str = typer.Option("public", help="the schema holding the tenant tables"),
    revision: str = typer.Option("head", help="the revision to upgrade to"),
    print_head: bool = typer.Option(False, "--print-head", help="print the newest revision"),
) -> None:
    if print_head:
        typer.echo(migrate.head())
        return
    url = os.environ.get(schema_contract.URL_ENV)
    if not url:
        typer.echo(f"{schema_contract.URL_ENV} must hold the placement's superuser URL", err=True)
        raise typer.Exit(2)
    migrate.upgrade(url, isolation=isolation, schema=schema, revision=revision)


if __name__ == "__main__":
    typer.run(main)
