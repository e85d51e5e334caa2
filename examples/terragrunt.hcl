# Root Terragrunt configuration of the example infra repo.
#
# `tg` finds the repo root by walking up to this file and reads the two lists
# below (the seeds' root terragrunt.hcl has the same `tier0_stacks` list, see
# seeds/001 line 7016):
#   - tier0_stacks: stacks whose state is SOPS-encrypted in git under
#     state/stacks/<stack>/terraform.tfstate (they must apply before the state
#     database exists);
#   - every other stack is Tier-1: its state lives in PostgreSQL through the
#     Terraform `pg` backend, credentials from Vault or PG_CONN_STR.
locals {
  tier0_stacks = ["bootstrap", "vault"]
}
