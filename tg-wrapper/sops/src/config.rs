//! `.sops.yaml` creation rules: which keys a new file is encrypted for.

use std::path::{Path, PathBuf};

use crate::SopsError;
use crate::keys::{Recipients, VaultKey};
use crate::metadata::Selector;

/// The outcome of matching a file against `.sops.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationRule {
    pub recipients: Recipients,
    pub selector: Selector,
    pub mac_only_encrypted: bool,
}

/// Finds `.sops.yaml` by walking up from the file's directory (as sops does).
pub fn find_config(file: &Path) -> Option<PathBuf> {
    let start = file.parent()?;
    start
        .ancestors()
        .take(100)
        .map(|d| d.join(".sops.yaml"))
        .find(|p| p.is_file())
}

/// The first creation rule whose `path_regex` matches `file` (relative to
/// the config's directory); a rule without `path_regex` matches everything.
pub fn creation_rule_for(config_path: &Path, file: &Path) -> Result<CreationRule, SopsError> {
    let text = std::fs::read_to_string(config_path)
        .map_err(|e| SopsError::Config(format!("{}: {e}", config_path.display())))?;
    let doc: serde_yaml::Value = serde_yaml::from_str(&text)
        .map_err(|e| SopsError::Config(format!("{}: {e}", config_path.display())))?;
    let base = config_path.parent().unwrap_or(Path::new("."));
    let abs_file = if file.is_absolute() {
        file.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(file)
    };
    let abs_base = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
    let abs_file = abs_file
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .map(|p| p.join(abs_file.file_name().unwrap_or_default()))
        .unwrap_or(abs_file);
    let rel = abs_file
        .strip_prefix(&abs_base)
        .unwrap_or(&abs_file)
        .to_string_lossy()
        .into_owned();
    let rules = doc["creation_rules"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    for rule in rules {
        if let Some(re) = rule["path_regex"].as_str() {
            let re = regex::Regex::new(re)
                .map_err(|e| SopsError::Config(format!("path_regex {re:?}: {e}")))?;
            if !re.is_match(&rel) {
                continue;
            }
        }
        return parse_rule(&rule);
    }
    Err(SopsError::Config(format!(
        "{}: no creation rule matches {rel}",
        config_path.display()
    )))
}

fn strings(v: &serde_yaml::Value) -> Vec<String> {
    match v {
        serde_yaml::Value::String(s) => s
            .split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect(),
        serde_yaml::Value::Sequence(a) => a.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

fn parse_rule(rule: &serde_yaml::Value) -> Result<CreationRule, SopsError> {
    let mut age = strings(&rule["age"]);
    let mut vault_uris = strings(&rule["hc_vault_transit_uri"]);
    if let Some(groups) = rule["key_groups"].as_sequence() {
        if groups.len() > 1 {
            return Err(SopsError::Unsupported(
                "several key_groups (Shamir) are not supported".into(),
            ));
        }
        if let Some(g) = groups.first() {
            age.extend(strings(&g["age"]));
            vault_uris.extend(strings(&g["hc_vault"]));
        }
    }
    let vault = vault_uris
        .iter()
        .map(|u| VaultKey::from_uri(u))
        .collect::<Result<_, _>>()?;
    let selector = [
        (
            "unencrypted_suffix",
            Selector::UnencryptedSuffix as fn(String) -> Selector,
        ),
        ("encrypted_suffix", Selector::EncryptedSuffix),
        ("unencrypted_regex", Selector::UnencryptedRegex),
        ("encrypted_regex", Selector::EncryptedRegex),
    ]
    .into_iter()
    .find_map(|(k, make)| rule[k].as_str().map(|s| make(s.to_string())))
    .unwrap_or_default();
    if age.is_empty() && vault_uris.is_empty() {
        return Err(SopsError::Config(
            "the matching creation rule names no age recipient and no hc_vault_transit_uri".into(),
        ));
    }
    Ok(CreationRule {
        recipients: Recipients { age, vault },
        selector,
        mac_only_encrypted: rule["mac_only_encrypted"].as_bool().unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_matching_rule_wins() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join(".sops.yaml");
        std::fs::write(
            &cfg,
            "creation_rules:\n  - path_regex: ^state/.*\\.tfstate$\n    hc_vault_transit_uri: http://127.0.0.1:8200/v1/transit/keys/tier0\n    age: age1aaa, age1bbb\n  - encrypted_regex: ^(data|stringData)$\n    key_groups:\n      - age: [age1ccc]\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("state/stacks/x")).unwrap();
        let r =
            creation_rule_for(&cfg, &dir.path().join("state/stacks/x/terraform.tfstate")).unwrap();
        assert_eq!(r.recipients.age, vec!["age1aaa", "age1bbb"]);
        assert_eq!(r.recipients.vault[0].key_name, "tier0");
        let r = creation_rule_for(&cfg, &dir.path().join("secret.yaml")).unwrap();
        assert_eq!(r.recipients.age, vec!["age1ccc"]);
        assert_eq!(
            r.selector,
            Selector::EncryptedRegex("^(data|stringData)$".into())
        );
        assert_eq!(
            find_config(&dir.path().join("state/stacks/x/terraform.tfstate")),
            Some(cfg)
        );
    }
}
