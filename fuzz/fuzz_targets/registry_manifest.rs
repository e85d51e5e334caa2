//! forgejo-retention: a manifest body fetched from the registry's `/v2`
//! (external input: the registry, or anything between it and the
//! provider) through the parser and the index reader that decide which
//! manifests an image keeps alive.
#![no_main]

use libfuzzer_sys::fuzz_target;
use terraform_provider_forgejo_retention::manifest::{index_children, parse_manifest};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = parse_manifest(data) {
        let _ = index_children(&m);
    }
});
