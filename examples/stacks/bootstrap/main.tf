# A Tier-0 stack: local state, kept SOPS-encrypted in git by `tg`
# (state/stacks/bootstrap/terraform.tfstate). Uses only built-in resources so
# the example applies anywhere.

variable "cluster_name" {
  type    = string
  default = "homelab"
}

resource "terraform_data" "cluster_identity" {
  input = {
    name    = var.cluster_name
    purpose = "bootstrap objects that must exist before the state database"
  }
}

output "cluster_name" {
  value = terraform_data.cluster_identity.output.name
}
