output "vpc_id" {
  description = "The installation's VPC."
  value       = module.vpc.vpc_id
}

output "private_subnet_ids" {
  description = "Private subnets of the nodes and databases."
  value       = module.vpc.private_subnets
}

output "cluster_name" {
  description = "Name of the EKS cluster (aws eks update-kubeconfig --name ...)."
  value       = module.eks.cluster_name
}

output "cluster_endpoint" {
  description = "API server endpoint of the EKS cluster."
  value       = module.eks.cluster_endpoint
}

output "cluster_certificate_authority_data" {
  description = "Base64 certificate of the cluster's certificate authority."
  value       = module.eks.cluster_certificate_authority_data
}

output "registry_db_host" {
  description = "Host of the registry and pool Postgres (TENANTRY_POSTGRES_ADMIN_URL's host)."
  value       = aws_db_instance.registry.address
}

output "registry_db_port" {
  description = "Port of the registry and pool Postgres."
  value       = aws_db_instance.registry.port
}

output "registry_db_admin_secret_arn" {
  description = "Secrets Manager secret RDS keeps the registry's administrator password in."
  value       = aws_db_instance.registry.master_user_secret[0].secret_arn
}

output "app_db_password_secret_arn" {
  description = "Secrets Manager secret holding the shared app role's password."
  value       = aws_secretsmanager_secret.app_db_password.arn
}

output "silo_db_subnet_group_name" {
  description = "Subnet group for silo databases (the rds flavour's db_subnet_group_name parameter)."
  value       = aws_db_subnet_group.databases.name
}

output "silo_db_security_group_id" {
  description = "Security group for silo databases (the rds flavour's security_group_ids parameter)."
  value       = aws_security_group.databases.id
}

output "dns_zone_id" {
  description = "The installation's Route 53 zone, if dns_zone_name named one (else null)."
  value       = one([for zone in aws_route53_zone.installation : zone.zone_id])
}
