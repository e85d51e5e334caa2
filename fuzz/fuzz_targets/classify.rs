//! tg: engine output (terraform's stderr/stdout, external input) through
//! the classifier and the advice readers that pick addresses and IDs out
//! of it (`tg import` lines, errored.tfstate advice).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tg_wrapper::classify::{self, Classifier};

fuzz_target!(|data: &[u8]| {
    static C: OnceLock<Classifier> = OnceLock::new();
    let c = C.get_or_init(Classifier::default);
    let text = String::from_utf8_lossy(data);
    let _ = c.classify(&text);
    let _ = classify::fix_advice(&text, None);
    let _ = classify::fix_advice(&text, Some("stack"));
    let _ = classify::import_lines(&text, Some("stack"));
    let _ = classify::errored_state_advice(&text);
});
