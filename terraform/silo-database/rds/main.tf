# The rds flavour: a dedicated Amazon RDS for PostgreSQL instance for one tenant. The
# administrator's password is write-only (password_wo): RDS gets it, the state never holds it.
# Network placement comes from the platform module's outputs (silo_db_subnet_group_name,
# silo_db_security_group_id), passed as Tier parameters.

terraform {
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
  }
}

locals {
  identifier = "tenantry-${var.tenant_key}"
}

resource "aws_db_instance" "this" {
  identifier                = local.identifier
  engine                    = "postgres"
  engine_version            = lookup(var.parameters, "engine_version", "17")
  instance_class            = lookup(var.parameters, "instance_class", "db.t4g.medium")
  allocated_storage         = tonumber(lookup(var.parameters, "allocated_storage", "20"))
  max_allocated_storage     = tonumber(lookup(var.parameters, "max_allocated_storage", "100"))
  storage_encrypted         = true
  db_name                   = var.database_name
  username                  = var.admin_username
  password_wo               = var.admin_password
  password_wo_version       = tonumber(lookup(var.parameters, "password_version", "1"))
  db_subnet_group_name      = lookup(var.parameters, "db_subnet_group_name", null)
  vpc_security_group_ids    = compact(split(",", lookup(var.parameters, "security_group_ids", "")))
  publicly_accessible       = false
  multi_az                  = tobool(lookup(var.parameters, "multi_az", "false"))
  backup_retention_period   = tonumber(lookup(var.parameters, "backup_retention_days", "7"))
  deletion_protection       = tobool(lookup(var.parameters, "deletion_protection", "false"))
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.identifier}-final"

  tags = {
    "tenantry.dev/tenant" = var.tenant_key
  }
}
