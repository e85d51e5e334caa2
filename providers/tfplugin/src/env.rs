//! Where a provider reads its environment-variable fallbacks (tokens, URLs)
//! from: the process, or a fixed map. Tests need the map: a provider served
//! in-process by `testing::Harness` cannot see the environment terraform
//! was given, and setting the test process's own environment races between
//! tests running in parallel.

use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub enum Env {
    #[default]
    Process,
    Fixed(HashMap<String, String>),
}

impl Env {
    pub fn fixed<I, K, V>(vars: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env::Fixed(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// The value of `key`; set-but-empty counts as unset, as it does for
    /// the tools these variables come from (`VAR= terraform …`).
    pub fn get(&self, key: &str) -> Option<String> {
        match self {
            Env::Process => std::env::var(key).ok(),
            Env::Fixed(m) => m.get(key).cloned(),
        }
        .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_maps_and_empty_values_count_as_unset() {
        let e = Env::fixed([("A", "1"), ("B", "")]);
        assert_eq!(e.get("A").as_deref(), Some("1"));
        assert_eq!(e.get("B"), None);
        assert_eq!(e.get("C"), None);
    }
}
