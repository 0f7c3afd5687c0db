# A stand-in for the silo-database flavours made only of Terraform's built-in resources: it
# creates the tenant's database on a reachable Postgres server with psql, and drops it on
# destroy. The operator's integration tests run it against the local platform's Postgres.

terraform {
  required_version = ">= 1.10"
}

locals {
  host  = lookup(var.parameters, "host", "127.0.0.1")
  port  = tonumber(lookup(var.parameters, "port", "5432"))
  psql  = lookup(var.parameters, "psql", "psql")
  pause = tonumber(lookup(var.parameters, "pause_seconds", "0"))
}

resource "terraform_data" "database" {
  input = {
    host     = local.host
    port     = local.port
    user     = var.admin_username
    database = var.database_name
    psql     = local.psql
  }
  triggers_replace = [local.host, local.port, var.database_name]

  # Idempotent: an apply cut short after this command finds the database and goes on.
  provisioner "local-exec" {
    command = <<-EOT
      set -e
      "$PSQL" -X -q -v ON_ERROR_STOP=1 -v db="$DATABASE" -d postgres <<'SQL'
      SELECT format('CREATE DATABASE %I', :'db')
      WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
      SQL
      sleep ${local.pause}
    EOT
    environment = {
      PSQL       = local.psql
      DATABASE   = var.database_name
      PGHOST     = local.host
      PGPORT     = tostring(local.port)
      PGUSER     = var.admin_username
      PGPASSWORD = try(coalesce(var.admin_password, ""), "")
    }
  }

  # A destroy-time provisioner sees only self: the password comes from the environment
  # Terraform runs in (PGPASSWORD), never from the state.
  provisioner "local-exec" {
    when    = destroy
    command = <<-EOT
      set -e
      "$PSQL" -X -q -v ON_ERROR_STOP=1 -v db="$DATABASE" -d postgres <<'SQL'
      DROP DATABASE IF EXISTS :"db" WITH (FORCE);
      SQL
    EOT
    environment = {
      PSQL     = self.input.psql
      DATABASE = self.input.database
      PGHOST   = self.input.host
      PGPORT   = tostring(self.input.port)
      PGUSER   = self.input.user
    }
  }
}
