# What Tenantry needs in an AWS account: a VPC, an EKS cluster with managed node groups, the
# registry and pool Postgres (RDS), the platform's secrets (Secrets Manager) and a DNS zone.
# Passwords are made ephemerally and written write-only: none is kept in the state.

locals {
  tags            = merge({ "app.kubernetes.io/part-of" = "tenantry", "tenantry.dev/installation" = var.name }, var.tags)
  private_subnets = [for i, _ in var.availability_zones : cidrsubnet(var.vpc_cidr, 4, i)]
  public_subnets  = [for i, _ in var.availability_zones : cidrsubnet(cidrsubnet(var.vpc_cidr, 4, 15), 4, i)]
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 6.0"

  name               = var.name
  cidr               = var.vpc_cidr
  azs                = var.availability_zones
  private_subnets    = local.private_subnets
  public_subnets     = local.public_subnets
  enable_nat_gateway = true
  single_nat_gateway = false

  private_subnet_tags = { "kubernetes.io/role/internal-elb" = "1" }
  public_subnet_tags  = { "kubernetes.io/role/elb" = "1" }
  tags                = local.tags
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 21.0"

  name                                     = var.name
  kubernetes_version                       = var.kubernetes_version
  vpc_id                                   = module.vpc.vpc_id
  subnet_ids                               = module.vpc.private_subnets
  endpoint_public_access                   = true
  enable_cluster_creator_admin_permissions = true

  eks_managed_node_groups = {
    for group, spec in var.node_groups : group => {
      instance_types = spec.instance_types
      ami_type       = "AL2023_ARM_64_STANDARD"
      min_size       = spec.min_size
      max_size       = spec.max_size
      desired_size   = spec.desired_size
    }
  }
  tags = local.tags
}

# Postgres: the registry and the pool database, and the network silo databases go in.
resource "aws_db_subnet_group" "databases" {
  name       = "${var.name}-databases"
  subnet_ids = module.vpc.private_subnets
  tags       = local.tags
}

resource "aws_security_group" "databases" {
  name        = "${var.name}-databases"
  description = "Postgres reached from the EKS nodes only."
  vpc_id      = module.vpc.vpc_id
  tags        = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "postgres_from_nodes" {
  security_group_id            = aws_security_group.databases.id
  referenced_security_group_id = module.eks.node_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_db_instance" "registry" {
  identifier                  = "${var.name}-registry"
  engine                      = "postgres"
  engine_version              = var.db_engine_version
  instance_class              = var.db_instance_class
  allocated_storage           = var.db_allocated_storage
  max_allocated_storage       = var.db_max_allocated_storage
  storage_encrypted           = true
  db_name                     = "tenantry"
  username                    = "tenantry_admin"
  manage_master_user_password = true # RDS keeps it in Secrets Manager
  db_subnet_group_name        = aws_db_subnet_group.databases.name
  vpc_security_group_ids      = [aws_security_group.databases.id]
  multi_az                    = var.db_multi_az
  backup_retention_period     = 14
  deletion_protection         = true
  final_snapshot_identifier   = "${var.name}-registry-final"
  parameter_group_name        = aws_db_parameter_group.registry.name
  tags                        = local.tags
}

# Live migrations between placements use logical replication.
resource "aws_db_parameter_group" "registry" {
  name   = "${var.name}-registry"
  family = "postgres${var.db_engine_version}"

  parameter {
    name         = "rds.logical_replication"
    value        = "1"
    apply_method = "pending-reboot"
  }
  tags = local.tags
}

# The platform's own secrets, made here and never stored in the state.
ephemeral "random_password" "app_db" {
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "app_db_password" {
  name        = "${var.name}/app-db-password"
  description = "Password of the shared app role tenantry_app (TENANTRY_APP_DB_PASSWORD)."
  tags        = local.tags
}

resource "aws_secretsmanager_secret_version" "app_db_password" {
  secret_id                = aws_secretsmanager_secret.app_db_password.id
  secret_string_wo         = ephemeral.random_password.app_db.result
  secret_string_wo_version = 1
}

resource "aws_route53_zone" "installation" {
  for_each = toset(compact([var.dns_zone_name]))
  name     = each.value
  tags     = local.tags
}
