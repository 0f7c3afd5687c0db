# The silo-database interface: every flavour (rds, server, local) returns these outputs.

output "host" {
  description = "Host name the tenant's database answers on."
  value       = terraform_data.database.output.host
}

output "port" {
  description = "Port the tenant's database answers on."
  value       = terraform_data.database.output.port
}

output "database" {
  description = "Name of the tenant's database."
  value       = terraform_data.database.output.database
}

output "admin_username" {
  description = "The administrator the operator connects as (its password stays with the operator)."
  value       = terraform_data.database.output.user
}
