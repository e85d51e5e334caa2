//! sops-rs: a Tier-0 state file as read from git (JSON of the binary
//! format: `data`, the `sops` metadata, wrapped keys, the MAC), decrypted
//! with a fixed age identity. The seed corpus (testdata/fuzz/sops_file)
//! holds files encrypted for that identity, so mutations reach the data key
//! unwrapping, the value decryption and the MAC check. Any input must give
//! Ok or an error, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// Test-only identity (also in testdata/fuzz/README.md): the corpus files
/// are encrypted for it.
const IDENTITY: &str = "AGE-SECRET-KEY-1MQLPRQPKZ274ATHL36ZG0WCXLR306QLH4FZFHKH38KLYKMDKK5AQQCVWRJ";

fn keys() -> &'static sops_rs::KeySources {
    static KEYS: OnceLock<sops_rs::KeySources> = OnceLock::new();
    KEYS.get_or_init(|| sops_rs::KeySources {
        age_identities: sops_rs::keys::parse_identities(IDENTITY, "fuzz").expect("fuzz identity"),
        ..Default::default()
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = sops_rs::decrypt_binary(data, keys());
});
