# The silo-database interface: every flavour (rds, server, local) returns these outputs.

output "host" {
  description = "Host name the tenant's database answers on."
  value       = local.host
}

output "port" {
  description = "Port the tenant's database answers on."
  value       = local.port
}

output "database" {
  description = "Name of the tenant's database."
  value       = postgresql_database.this.name
}

output "admin_username" {
  description = "The administrator the operator connects as (its password stays with the operator)."
  value       = var.admin_username
}
