//! What the provider's terraform tests share: a harness serving the
//! provider in this process, and the configuration that names and
//! configures it.

use terraform_provider_forgejo_retention::RetentionProvider;
use tfplugin::testing::Harness;

/// A harness for the provider with `token` in `TF_VAR_token`.
pub fn harness(token: &str) -> Harness {
    let h = Harness::new("homelab/forgejo-retention", RetentionProvider::default());
    h.env("TF_VAR_token", token);
    h
}

/// The `terraform` block requiring the provider, the sensitive `token`
/// variable and a provider block for `url`, with `settings` (more provider
/// arguments) after url and token. The provider runs in the test's
/// process: its settings come from this block (terraform never stores
/// provider configuration in state).
pub fn provider(url: &str, settings: &str) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    retention = {{ source = "registry.terraform.io/homelab/forgejo-retention" }}
  }}
}}
variable "token" {{
  type      = string
  sensitive = true
}}
provider "retention" {{
  url   = "{url}"
  token = var.token
  {settings}
}}
"#
    )
}
