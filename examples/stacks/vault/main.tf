# The Vault stack is Tier-0 and is never applied by CI: `tg ci apply` skips it
# with a printed reason (applying Vault from a pipeline that authenticates
# through Vault can lock the pipeline out). Humans apply it with `tg apply`.
resource "terraform_data" "vault_placeholder" {
  input = "vault is applied by hand"
}
