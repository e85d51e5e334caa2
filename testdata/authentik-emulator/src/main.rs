//! Runs the Authentik API emulator as a process (for demos and benchmarks).
//! Usage: `authentik-emulator [LISTEN_ADDR]` (default 127.0.0.1:9000).
//! Prints `listening on http://ADDR` and the admin token, then serves until killed.

fn main() {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9000".into());
    let addr = match bind.parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("authentik-emulator: bad listen address {bind:?}: {e}");
            std::process::exit(2);
        }
    };
    let emu = authentik_emulator::Emulator::start_on(addr);
    println!("listening on {}", emu.url());
    println!("admin token: {}", authentik_emulator::DEFAULT_TOKEN);
    loop {
        std::thread::park();
    }
}
