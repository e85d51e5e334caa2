//! The provider's configured data (an API client, a database handle), set
//! by ConfigureProvider and read by every resource and data source.
//!
//! Why a cell: Terraform validates, and may even plan a `moved` block, before
//! it configures the provider, and it may configure a process more than once.
//! Resources hold an `Arc<Configured<T>>` handed out at registration and ask
//! it for the data on each call; before a successful configure they get one
//! clear error instead of a panic or a half-built client.

use std::sync::{Arc, RwLock};

use crate::diag::{Diagnostic, Diagnostics};

/// Data set by `Provider::configure` and read by resources.
#[derive(Debug)]
pub struct Configured<T> {
    provider: &'static str,
    data: RwLock<Option<Arc<T>>>,
}

impl<T> Configured<T> {
    /// An empty cell; `provider` is the local name used in its error.
    pub fn new(provider: &'static str) -> Self {
        Configured {
            provider,
            data: RwLock::new(None),
        }
    }

    /// Stores the configured data (a later configure replaces it).
    pub fn set(&self, data: T) {
        let mut g = self.data.write().unwrap_or_else(|p| p.into_inner());
        *g = Some(Arc::new(data));
    }

    /// The configured data, or an error saying the provider is not configured.
    pub fn get(&self) -> Result<Arc<T>, Diagnostics> {
        let g = self.data.read().unwrap_or_else(|p| p.into_inner());
        g.clone().ok_or_else(|| {
            Diagnostic::error(
                format!("{} provider is not configured", self.provider),
                "Terraform called the provider before ConfigureProvider succeeded; check the provider block for errors.",
            )
            .into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_names_the_provider_and_set_replaces() {
        let c: Configured<u8> = Configured::new("demo");
        let e = c.get().unwrap_err();
        assert_eq!(e.0[0].summary, "demo provider is not configured");
        c.set(1);
        c.set(2);
        assert_eq!(*c.get().unwrap(), 2);
    }
}
