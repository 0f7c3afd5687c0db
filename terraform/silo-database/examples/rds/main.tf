# One tenant's RDS instance, as the operator runs it (its state in the pg backend, one
# workspace per tenant): PG_CONN_STR=postgres://... terraform init && terraform workspace
# select -or-create acme && terraform apply -var admin_password=...

terraform {
  required_version = ">= 1.11"

  backend "pg" {
    schema_name = "tenantry_terraform"
  }
}

provider "aws" {
  region = "eu-central-1"
}

variable "admin_password" {
  description = "The instance administrator's password (write-only: never in the state)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

module "silo" {
  source = "../../rds"

  tenant_key     = "acme"
  database_name  = "tenant_acme"
  admin_username = "tenantry_admin"
  admin_password = var.admin_password
  parameters = {
    instance_class       = "db.t4g.medium"
    db_subnet_group_name = "tenantry-prod-databases"
    security_group_ids   = "sg-0123456789abcdef0"
  }
}

output "host" {
  description = "Where the tenant's database answers."
  value       = module.silo.host
}
