//! Manifests as the registry's `/v2` serves them (external input: the
//! registry, or anything between it and the provider): the parser and the
//! index reader that decide which manifests an image keeps alive. The fuzz
//! target `fuzz/fuzz_targets/registry_manifest.rs` runs both.

use serde_json::Value;

use crate::names::path_safe;

/// Every manifest media type we read, so the registry answers indexes,
/// Docker manifest lists and single manifests alike.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Whether a media type names an image index (OCI) or a manifest list
/// (Docker): a manifest whose children are other manifests.
pub fn is_index_type(media_type: &str) -> bool {
    media_type.contains("index") || media_type.contains("manifest.list")
}

/// A manifest body as fetched from `/v2` (registry input: any bytes). Only
/// a JSON object is a manifest.
pub fn parse_manifest(body: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("the manifest is not a JSON object".to_string()),
        Err(e) => Err(format!("the manifest is not valid JSON: {e}")),
    }
}

/// The children (digest, media type) an image index or Docker manifest
/// list names in `manifests`; None for a single-image manifest. Fails
/// closed: an index whose child list cannot be read is an error, never a
/// leaf (its children would look unreferenced and become candidates), and
/// a child whose digest could change a URL path is refused.
pub fn index_children(m: &Value) -> Result<Option<Vec<(String, String)>>, String> {
    let is_index = m["mediaType"].as_str().is_some_and(is_index_type);
    let entries = match m.get("manifests") {
        Some(Value::Array(entries)) => entries,
        None if !is_index => return Ok(None),
        _ => return Err("an image index without a readable `manifests` list".to_string()),
    };
    let mut kids = Vec::new();
    for e in entries {
        let d = e["digest"].as_str().unwrap_or_default().to_string();
        path_safe("child digest", &d)?;
        kids.push((d, e["mediaType"].as_str().unwrap_or_default().to_string()));
    }
    Ok(Some(kids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_parse_fail_closed() {
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:ab","size":1}]}"#;
        let kids = index_children(&parse_manifest(index).unwrap()).unwrap();
        assert_eq!(
            kids,
            Some(vec![(
                "sha256:ab".to_string(),
                "application/vnd.oci.image.manifest.v1+json".to_string()
            )])
        );
        let image = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
        assert_eq!(index_children(&parse_manifest(image).unwrap()), Ok(None));
        for bad in [&b""[..], b"[]", b"null", b"\"x\"", b"{", b"\xff\xfe"] {
            assert!(parse_manifest(bad).is_err(), "{bad:?}");
        }
        for hostile in [
            r#"{"mediaType":"application/vnd.oci.image.index.v1+json"}"#,
            r#"{"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":{}}"#,
            r#"{"manifests":null}"#,
            r#"{"manifests":[{"digest":"../../admin"}]}"#,
            r#"{"manifests":[{"size":1}]}"#,
            r#"{"manifests":[7]}"#,
        ] {
            let m = parse_manifest(hostile.as_bytes()).unwrap();
            assert!(index_children(&m).is_err(), "{hostile}");
        }
    }
}
