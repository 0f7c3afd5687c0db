# The silo-database interface: every flavour (rds, server, local) returns these outputs.

output "host" {
  description = "Host name the tenant's database answers on."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port the tenant's database answers on."
  value       = aws_db_instance.this.port
}

output "database" {
  description = "Name of the tenant's database."
  value       = aws_db_instance.this.db_name
}

output "admin_username" {
  description = "The administrator the operator connects as (its password stays with the operator)."
  value       = aws_db_instance.this.username
}
