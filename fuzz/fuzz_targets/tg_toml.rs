//! tg: `.tg.toml` as `Settings::load` reads it from a repo (TOML, the
//! `[ci]`, `[tier0]`, `[destroy]`, `[providers]` tables and the
//! `[[classify.pattern]]` loader that compiles user regexes).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tg_wrapper::config::Settings;
use tg_wrapper::repo::Repo;

/// One repo for the whole run: only its `.tg.toml` changes.
fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        std::fs::create_dir_all(dir.join("stacks/s")).expect("stacks");
        std::fs::write(dir.join("terragrunt.hcl"), "").expect("root hcl");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    std::fs::write(root.join(".tg.toml"), data).expect("write .tg.toml");
    let repo = Repo::find(root).expect("the fuzz repo");
    if let Ok(settings) = Settings::load(Some(&repo)) {
        // The loaded patterns are used on engine output.
        let _ = settings
            .classifier
            .classify("Error: fuzz\nError acquiring the state lock");
    }
});
