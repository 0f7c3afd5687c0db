# An installation of Tenantry in one AWS region: `terraform init && terraform apply` with
# credentials for the account. The state goes wherever the team keeps states (here: local).

terraform {
  required_version = ">= 1.11"
}

provider "aws" {
  region = "eu-central-1"
}

module "tenantry" {
  source = "../.."

  name               = "tenantry-prod"
  availability_zones = ["eu-central-1a", "eu-central-1b", "eu-central-1c"]
  node_groups = {
    system = {
      instance_types = ["m7g.large"]
      min_size       = 2
      max_size       = 6
      desired_size   = 3
    }
  }
  dns_zone_name = "tenantry.example.com"
  tags          = { environment = "production" }
}

output "cluster_name" {
  description = "The EKS cluster to point kubectl and the operator's deployment at."
  value       = module.tenantry.cluster_name
}

output "registry_db_host" {
  description = "The Postgres host for TENANTRY_POSTGRES_ADMIN_URL."
  value       = module.tenantry.registry_db_host
}
