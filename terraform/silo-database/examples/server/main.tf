# One tenant's database and owner role on an existing Postgres server (the PostgreSQL
# provider), its state in the pg backend: PG_CONN_STR=postgres://... terraform init &&
# terraform workspace select -or-create acme && terraform apply -var admin_password=...

terraform {
  required_version = ">= 1.10"

  backend "pg" {
    schema_name = "tenantry_terraform"
  }
}

variable "admin_password" {
  description = "The server administrator's password (ephemeral: never in the state)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

module "silo" {
  source = "../../server"

  tenant_key     = "acme"
  database_name  = "tenant_acme"
  admin_username = "postgres"
  admin_password = var.admin_password
  parameters = {
    host    = "db-2.internal"
    port    = "5432"
    sslmode = "require"
  }
}

output "host" {
  description = "Where the tenant's database answers."
  value       = module.silo.host
}
