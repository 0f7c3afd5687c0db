# The server flavour: the tenant's database and its owner role on an existing Postgres server,
# through the PostgreSQL provider. The administrator's password is an ephemeral variable: the
# provider uses it, the state never holds it.

terraform {
  required_version = ">= 1.10"

  required_providers {
    postgresql = {
      source  = "cyrilgdn/postgresql"
      version = "~> 1.25"
    }
  }
}

locals {
  host = lookup(var.parameters, "host", "127.0.0.1")
  port = tonumber(lookup(var.parameters, "port", "5432"))
}

provider "postgresql" {
  host      = local.host
  port      = local.port
  username  = var.admin_username
  password  = var.admin_password
  sslmode   = lookup(var.parameters, "sslmode", "require")
  superuser = tobool(lookup(var.parameters, "superuser", "true"))
}

resource "postgresql_role" "owner" {
  name  = "${var.database_name}_owner"
  login = false
}

resource "postgresql_database" "this" {
  name              = var.database_name
  owner             = postgresql_role.owner.name
  allow_connections = true
}
