# Goldmane egress allowlist (Tier-1 stack): derive the in-cluster half of one
# namespace's egress allowlist from the goldmane_edges trail, gate it on the
# trail's age and freshness, and keep a reviewed snapshot whose plan shows new
# edges without widening anything.
#
# This file applies on its own: it needs only the goldmane provider and a
# PostgreSQL holding the aggregator's `edge` table. The NetworkPolicy that
# consumes the result lives in network_policy.tf.example (see README.md); it
# needs the hashicorp/kubernetes provider and a cluster.
#
# Connection: host/port/database from the variables below; the password from
# the environment — PGPASSWORD or DATABASE_URL, or the Vault static role
# database/static-creds/pg-goldmane-edges when VAULT_ADDR/VAULT_TOKEN are set
# (the password rotates every 7 days, seeds/001 line 8337: never put it in a
# variable default or a tfvars file).
terraform {
  required_providers {
    goldmane = { source = "registry.terraform.io/homelab/goldmane-edges" }
  }
  backend "pg" {
    schema_name = "goldmane_egress"
  }
}

variable "pg_host" {
  description = "PostgreSQL host of the goldmane_edges database (null: DATABASE_URL or PGHOST)."
  type        = string
  default     = null
}

variable "pg_port" {
  type    = number
  default = null
}

variable "pg_database" {
  type    = string
  default = "goldmane_edges"
}

variable "pg_sslmode" {
  type    = string
  default = null
}

variable "namespace" {
  description = "Namespace whose egress allowlist is derived (the Wave-1 rollout starts with one namespace at a time)."
  type        = string
  default     = "recruiter-responder"
}

variable "min_observation" {
  description = "Refuse a trail younger than this: collect >= 7 days of edges (14d for namespaces with weekly CronJobs), seeds/001 lines 8482-8486 and 6884."
  type        = string
  default     = "7d"
}

variable "approved" {
  description = "The reviewed destination namespaces for var.namespace."
  type        = set(string)
  default     = []
}

provider "goldmane" {
  host     = var.pg_host
  port     = var.pg_port
  database = var.pg_database
  sslmode  = var.pg_sslmode
}

data "goldmane_trail_status" "trail" {}

# The aggregator upserts continuously; an old newest last_seen means it stopped
# (AggregatorDown, seeds/001 lines 8531-8543) and the allowlist may be missing edges.
check "trail_is_fresh" {
  assert {
    condition     = data.goldmane_trail_status.trail.last_seen_age_seconds != null && data.goldmane_trail_status.trail.last_seen_age_seconds < 6 * 3600
    error_message = "The goldmane edge trail has no upsert in the last 6 hours: check the goldmane-edge-aggregator before trusting the allowlist."
  }
}

data "goldmane_egress_allowlist" "this" {
  namespace       = var.namespace
  seen_within     = "30d"
  min_observation = var.min_observation
  # kube-system is covered by the explicit DNS rule in network_policy.tf.example.
  exclude = ["kube-system"]
}

# Pairs already being denied: investigate before tightening further
# (runbook sanity query, seeds/001 lines 8466-8469).
data "goldmane_denied_edges" "this" {
  namespace   = var.namespace
  seen_within = "7d"
}

check "no_denied_edges" {
  assert {
    condition     = length(data.goldmane_denied_edges.this.edges) == 0
    error_message = "${var.namespace} already has denied edges: investigate before enforcing default-deny egress."
  }
}

# The reviewed snapshot: policies are built from `approved`; a plan shows new
# destinations in `unapproved_new` (with a warning) and dead ones in `stale`.
resource "goldmane_allowlist_snapshot" "this" {
  namespace   = var.namespace
  approved    = var.approved
  stale_after = "30d"
}

output "observed_dst_namespaces" {
  description = "Every in-cluster destination the trail currently shows."
  value       = data.goldmane_egress_allowlist.this.dst_namespaces
}

output "approved_dst_namespaces" {
  description = "What the NetworkPolicy is built from."
  value       = goldmane_allowlist_snapshot.this.approved
}

output "unapproved_new" {
  value = goldmane_allowlist_snapshot.this.unapproved_new
}

output "stale" {
  value = goldmane_allowlist_snapshot.this.stale
}
