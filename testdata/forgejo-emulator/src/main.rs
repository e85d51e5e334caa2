//! `forgejo-emulator [ADDR] [TOKEN OWNER]`: serves the Forgejo package API
//! EMULATOR (see the crate docs) with one owner token and a demo image set,
//! until killed. Used by the quickstart demo; tests use the library.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:29100".into());
    let token = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "emulator-forgejo-token".into());
    let owner = args.get(3).cloned().unwrap_or_else(|| "homelab".into());
    let port: u16 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(29100);
    // The owner's own token, with every scope: it may delete its packages.
    let emu = forgejo_emulator::Emulator::new().token(&token, &owner, &["all"]);
    forgejo_emulator::seed_demo(&emu, &owner);
    let url = emu.spawn(port);
    println!(
        "forgejo-emulator (an EMULATOR of Forgejo's package API, not Forgejo) listening on {url}"
    );
    loop {
        std::thread::park();
    }
}
