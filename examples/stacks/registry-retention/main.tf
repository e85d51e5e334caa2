# Registry retention for the `web` image (Tier-1 stack). Plan is the dry run:
# review `would_delete`, then set dry_run = false. The integrity check fails
# the plan's checks when a kept index already misses a child (the 2026-06-10
# incident). Provider settings: FORGEJO_URL and FORGEJO_TOKEN (never in a
# tfvars file). The demo points them at the Forgejo package-API EMULATOR.
terraform {
  required_providers {
    retention = { source = "registry.terraform.io/homelab/forgejo-retention" }
  }
  backend "pg" {
    schema_name = "registry_retention"
  }
}

variable "owner" {
  type    = string
  default = "homelab"
}

variable "dry_run" {
  type    = bool
  default = true
}

provider "retention" {
  # Gentle on a Forgejo that OOMed under push load once and a registry on
  # the HDD etcd shares (research/forgejo.md C8, C11).
  concurrency        = 4
  deletes_per_second = 5
}

resource "retention_policy" "web" {
  owner     = var.owner
  package   = "web"
  keep_last = 10
  dry_run   = var.dry_run
}

check "registry_integrity" {
  assert {
    condition     = length(retention_policy.web.orphans) == 0
    error_message = "Kept image indexes miss children: ${join(", ", retention_policy.web.orphans)}"
  }
}

output "would_delete" {
  value = [for c in retention_policy.web.candidates : "${c.package}:${c.version} (${c.reason})"]
}
