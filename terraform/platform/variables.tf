variable "name" {
  description = "Name of this Tenantry installation; prefixes every resource."
  type        = string
  default     = "tenantry"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "The name must be 2-31 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the installation's VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones to spread subnets, nodes and databases over (at least two)."
  type        = list(string)

  validation {
    condition     = can(var.availability_zones[1])
    error_message = "EKS and RDS need subnets in at least two availability zones."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes version of the EKS cluster."
  type        = string
  default     = "1.33"
}

variable "node_groups" {
  description = "EKS managed node groups by name: instance types and scaling bounds."
  type = map(object({
    instance_types = list(string)
    min_size       = number
    max_size       = number
    desired_size   = number
  }))
  default = {
    system = {
      instance_types = ["m7g.large"]
      min_size       = 2
      max_size       = 6
      desired_size   = 2
    }
  }
}

variable "db_instance_class" {
  description = "Instance class of the registry and pool Postgres (RDS)."
  type        = string
  default     = "db.r7g.large"
}

variable "db_allocated_storage" {
  description = "Initial storage of the registry and pool Postgres, in GiB."
  type        = number
  default     = 100
}

variable "db_max_allocated_storage" {
  description = "Storage the registry and pool Postgres may grow to on its own, in GiB."
  type        = number
  default     = 1000
}

variable "db_engine_version" {
  description = "PostgreSQL major version of the registry and pool database."
  type        = string
  default     = "17"
}

variable "db_multi_az" {
  description = "Whether the registry and pool Postgres has a standby in a second zone."
  type        = bool
  default     = true
}

variable "dns_zone_name" {
  description = "DNS zone to create for the installation's endpoints (empty: none)."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
