//! The Terraform plugin protocol v6 SDK shared by our providers.
