"""The local PgBouncer's configuration (localplatform.pgbouncer): transaction mode, the pool
size, the databases it fronts and the userlist it authenticates with."""

from pathlib import Path

from localplatform import pgbouncer


def test_config_fronts_each_database_in_transaction_mode() -> None:
    ini = pgbouncer.config(
        port=6432,
        server_port=5432,
        databases=["tenantry_pool", "tenantry_shard_b"],
        pool_size=2,
        userlist=Path("/s/userlist.txt"),
        pidfile=Path("/s/pgbouncer.pid"),
    )
    lines = ini.splitlines()
    assert "tenantry_pool = host=127.0.0.1 port=5432 dbname=tenantry_pool" in lines
    assert "tenantry_shard_b = host=127.0.0.1 port=5432 dbname=tenantry_shard_b" in lines
    assert "pool_mode = transaction" in lines
    assert "default_pool_size = 2" in lines
    assert "listen_port = 6432" in lines
    assert "auth_file = /s/userlist.txt" in lines
    assert lines.index("[databases]") < lines.index("[pgbouncer]")


def test_userlist_quotes_users_and_passwords() -> None:
    listed = pgbouncer.userlist({"tenantry_app": 'p"w', "pgbouncer": "x"})
    assert listed == '"tenantry_app" "p""w"\n"pgbouncer" "x"\n'
