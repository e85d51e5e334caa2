//! A minimal CLI over sops-rs for benchmarks (`bench/sops.sh`):
//! `sops_rs encrypt <age-recipient> <in> <out>` / `sops_rs decrypt <in> <out>`
//! (binary mode; identities from SOPS_AGE_KEY_FILE / SOPS_AGE_KEY).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let keys = sops_rs::KeySources::from_env()?;
    match args.get(1).map(String::as_str) {
        Some("encrypt") if args.len() == 5 => {
            let recipients = sops_rs::Recipients {
                age: vec![args[2].clone()],
                vault: Vec::new(),
            };
            let out = sops_rs::encrypt_binary(&std::fs::read(&args[3])?, &recipients, None, &keys)?;
            std::fs::write(&args[4], out)?;
        }
        Some("decrypt") if args.len() == 4 => {
            let (plain, _) = sops_rs::decrypt_binary(&std::fs::read(&args[2])?, &keys)?;
            std::fs::write(&args[3], plain)?;
        }
        _ => {
            return Err(
                "usage: sops_rs encrypt <age-recipient> <in> <out> | decrypt <in> <out>".into(),
            );
        }
    }
    Ok(())
}
