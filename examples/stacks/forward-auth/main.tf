# Forward auth for one protected host, one public carve-out guarded by a
# check, and one host restricted to one account by the domain's restriction.
# (Where the carve-out host is unreachable, e.g. against the emulator, the
# check only warns.)
#
# Provider settings come from variables or the environment: AUTHENTIK_URL and
# AUTHENTIK_TOKEN (never put the token in a tfvars file). For a demo, run the
# emulator: `cargo run -p authentik-emulator -- 127.0.0.1:9000` and set
# AUTHENTIK_URL=http://127.0.0.1:9000 AUTHENTIK_TOKEN=emulator-admin-token.
terraform {
  required_providers {
    fwdauth = { source = "registry.terraform.io/homelab/authentik-forward-auth" }
  }
  # Tier-1: state in PostgreSQL, in this stack's own schema (tg refuses a
  # Tier-1 stack whose state would go anywhere else).
  backend "pg" {
    schema_name = "forward_auth"
  }
}

variable "authentik_url" {
  description = "Authentik base URL (null: AUTHENTIK_URL)."
  type        = string
  default     = null
}

variable "domain" {
  type    = string
  default = "example.com"
}

variable "carveout_url" {
  description = "The public carve-out to probe (null: ntfy's health endpoint on var.domain). The demo points it at a local URL."
  type        = string
  default     = null
}

locals {
  carveout_url = coalesce(var.carveout_url, "https://ntfy.${var.domain}/v1/health")
}

provider "fwdauth" {
  url = var.authentik_url
}

# The domain-level provider: one login for every host under the domain that
# has no application of its own. Its bindings (none here) decide who may log
# in at all; they cannot tell hosts apart.
resource "fwdauth_protected_host" "domain" {
  slug          = "domain-forward-auth"
  name          = "Domain forward auth"
  external_host = "https://authentik.${var.domain}"
  mode          = "forward_domain"
  cookie_domain = var.domain
}

# One protected host with a public carve-out for its webhook path.
resource "fwdauth_protected_host" "ntfy" {
  slug            = "ntfy"
  name            = "ntfy"
  external_host   = "https://ntfy.${var.domain}"
  skip_path_regex = "^/v1/health$\n^/[a-z0-9_-]+/(json|sse|ws)$"
  allowed_groups  = ["authentik Admins"]
}

# A host restricted to named accounts gets its own single-host application:
# Authentik evaluates access per application, never per host of a domain login.
resource "fwdauth_protected_host" "chrome" {
  slug          = "chrome"
  name          = "Chrome (noVNC)"
  external_host = "https://chrome.${var.domain}"
}

# Who may reach which restricted host, in one place: chrome.* for akadmin,
# listed by username (unique in Authentik; e-mail addresses are not) and
# admitted by the account's primary key (see resolved_users).
resource "fwdauth_domain_restriction" "admin_services" {
  name         = "admin-services-restriction"
  applications = [fwdauth_protected_host.chrome.slug]
  rules = [
    { host = "chrome.*", users = ["akadmin"] },
  ]
}

check "ntfy_carveout_public" {
  data "fwdauth_carveout_check" "ntfy" {
    url    = local.carveout_url
    domain = var.domain
  }
  assert {
    condition     = data.fwdauth_carveout_check.ntfy.public
    error_message = "ntfy's public carve-out redirects to Authentik"
  }
}

output "ntfy_forward_auth" {
  description = "For the Traefik forwardAuth middleware of the ingress module."
  value = {
    address               = fwdauth_protected_host.ntfy.forward_auth_address
    auth_response_headers = fwdauth_protected_host.ntfy.auth_response_headers
  }
}
