# A Tier-1 stack: state in PostgreSQL through the `pg` backend. `tg` passes the
# connection string to terraform in the PG_CONN_STR environment variable only
# (read from Vault `database/static-creds/pg-terraform-state`, or given).
terraform {
  backend "pg" {
    schema_name = "app_config"
  }
}

resource "terraform_data" "app_settings" {
  input = {
    log_level = "info"
    replicas  = 2
  }
}

output "replicas" {
  value = terraform_data.app_settings.output.replicas
}
