# The silo-database interface: every flavour (rds, server, local) takes these variables.

variable "tenant_key" {
  description = "The tenant's key (a DNS label); names and tags the resources."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.tenant_key))
    error_message = "The tenant key must be a DNS label: lowercase letters, digits and '-'."
  }
}

variable "database_name" {
  description = "Name of the tenant's dedicated database."
  type        = string
}

variable "admin_username" {
  description = "The administrator the operator connects as to run migrations and grants."
  type        = string
  default     = "postgres"
}

variable "admin_password" {
  description = "The administrator's password; ephemeral, so it never reaches the state or a plan."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "parameters" {
  description = "Flavour-specific settings from the Tier (spec.database.parameters); see the README."
  type        = map(string)
  default     = {}
}
