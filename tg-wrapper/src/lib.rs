//! tg: the Terragrunt/Terraform wrapper.
