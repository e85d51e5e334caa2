//! `forgejo-emulator [ADDR] [TOKEN OWNER] [--registry HOST:PORT]
//! [--bulk VERSIONS --images N --describe FILE]`: serves the Forgejo
//! package API EMULATOR (see the crate docs) with one owner token until
//! killed. By default with a small demo image set (the quickstart demo);
//! `--registry` fronts a real registry (`docker-registry`); `--bulk`
//! seeds package `app` with VERSIONS versions over N images instead
//! ([`forgejo_emulator::bulk`]) and writes what it seeded, as JSON, to
//! FILE before serving. Tests use the library.

fn main() {
    let mut positional = Vec::new();
    let mut flags = std::collections::BTreeMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if let Some(name) = a.strip_prefix("--") {
            let Some(value) = args.next() else {
                eprintln!("forgejo-emulator: --{name} needs a value");
                std::process::exit(2);
            };
            flags.insert(name.to_string(), value);
        } else {
            positional.push(a);
        }
    }
    let number = |name: &str, default: usize| match flags.get(name) {
        None => default,
        Some(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("forgejo-emulator: --{name} {v:?} is not a number");
            std::process::exit(2)
        }),
    };
    let addr = positional
        .first()
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:29100".into());
    let token = positional
        .get(1)
        .cloned()
        .unwrap_or_else(|| "emulator-forgejo-token".into());
    let owner = positional
        .get(2)
        .cloned()
        .unwrap_or_else(|| "homelab".into());
    let port: u16 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(29100);
    let emu = match flags.get("registry") {
        Some(r) => forgejo_emulator::Emulator::with_registry(r),
        None => forgejo_emulator::Emulator::new(),
    };
    // The owner's own token, with every scope: it may delete its packages.
    let emu = emu.token(&token, &owner, &["all"]);
    if flags.contains_key("bulk") {
        let versions = number("bulk", 10_000);
        let images = number("images", (versions / 40).max(10));
        let seeded =
            forgejo_emulator::bulk::seed_retention(&emu, &owner, "app", versions, images, 4);
        if let Some(path) = flags.get("describe")
            && let Err(e) = std::fs::write(path, seeded.to_string())
        {
            eprintln!("forgejo-emulator: writing {path}: {e}");
            std::process::exit(1);
        }
    } else {
        forgejo_emulator::seed_demo(&emu, &owner);
    }
    let url = emu.spawn(port);
    println!(
        "forgejo-emulator (an EMULATOR of Forgejo's package API, not Forgejo) listening on {url}"
    );
    loop {
        std::thread::park();
    }
}
