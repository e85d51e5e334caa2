//! Building real image manifests for tests: OCI and Docker schema-2 image
//! manifests with their config and layer blobs, buildkit-style attestation
//! manifests, OCI indexes and Docker manifest lists. The same bytes are
//! stored in memory or pushed to a real registry (see `upstream`), so a
//! digest always is the SHA-256 of the exact manifest text served.

use serde_json::{Value, json};

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A manifest to push: an image (leaf) or an index of children.
#[derive(Debug, Clone)]
pub enum Manifest {
    /// A single-platform image; `media_type` is [`OCI_MANIFEST`] or [`DOCKER_MANIFEST`].
    /// The platform comes from the position in the parent index (amd64,
    /// arm64, …), so the same seed at the same position is the same
    /// manifest: that is how tests build children shared between indexes.
    Image {
        seed: String,
        media_type: &'static str,
    },
    /// An OCI index or a Docker manifest list ([`OCI_INDEX`] / [`DOCKER_LIST`]).
    Index {
        children: Vec<Manifest>,
        media_type: &'static str,
    },
    /// A buildkit attestation manifest: an OCI image manifest whose layer is
    /// an in-toto statement, listed in its index with platform unknown/unknown
    /// and the `vnd.docker.reference.type: attestation-manifest` annotation.
    Attestation { seed: String },
}

/// One manifest rendered to bytes, with what must exist before it can be pushed.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub digest: String,
    pub media_type: &'static str,
    pub text: String,
    /// Config and layer blobs (image manifests only).
    pub blobs: Vec<Vec<u8>>,
    /// Manifests an index lists, in order.
    pub children: Vec<Rendered>,
}

pub fn digest_of(bytes: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

const ARCHES: [&str; 4] = ["amd64", "arm64", "arm", "s390x"];

fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": digest_of(bytes), "size": bytes.len()})
}

fn image(seed: &str, media_type: &'static str, arch: &str) -> Rendered {
    let docker = media_type == DOCKER_MANIFEST;
    let layer = format!("layer of {seed}").into_bytes();
    let config = json!({
        "architecture": arch, "os": "linux",
        "config": {"Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": [digest_of(&layer)]},
    })
    .to_string()
    .into_bytes();
    let (config_type, layer_type) = if docker {
        (
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        )
    } else {
        (
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
        )
    };
    let text = json!({
        "schemaVersion": 2, "mediaType": media_type,
        "config": descriptor(config_type, &config),
        "layers": [descriptor(layer_type, &layer)],
    })
    .to_string();
    Rendered {
        digest: digest_of(text.as_bytes()),
        media_type,
        text,
        blobs: vec![config, layer],
        children: Vec::new(),
    }
}

fn attestation(seed: &str) -> Rendered {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "predicate": {"builder": {"id": seed}},
    })
    .to_string()
    .into_bytes();
    let config = json!({"architecture": "unknown", "os": "unknown", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [digest_of(&statement)]}})
    .to_string()
    .into_bytes();
    let mut layer = descriptor("application/vnd.in-toto+json", &statement);
    layer["annotations"] = json!({"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"});
    let text = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
        "layers": [layer],
    })
    .to_string();
    Rendered {
        digest: digest_of(text.as_bytes()),
        media_type: OCI_MANIFEST,
        text,
        blobs: vec![config, statement],
        children: Vec::new(),
    }
}

impl Manifest {
    pub fn render(&self) -> Rendered {
        self.render_as(ARCHES[0])
    }

    fn render_as(&self, arch: &str) -> Rendered {
        match self {
            Manifest::Image { seed, media_type } => image(seed, media_type, arch),
            Manifest::Attestation { seed } => attestation(seed),
            Manifest::Index {
                children,
                media_type,
            } => {
                let mut rendered = Vec::new();
                let mut entries = Vec::new();
                let mut first_image: Option<String> = None;
                for (i, c) in children.iter().enumerate() {
                    let arch = ARCHES[i % ARCHES.len()];
                    let r = c.render_as(arch);
                    let mut e = descriptor(r.media_type, r.text.as_bytes());
                    match c {
                        Manifest::Image { .. } => {
                            first_image.get_or_insert_with(|| r.digest.clone());
                            e["platform"] = json!({"os": "linux", "architecture": arch});
                        }
                        Manifest::Attestation { .. } => {
                            e["platform"] = json!({"os": "unknown", "architecture": "unknown"});
                            e["annotations"] = json!({
                                "vnd.docker.reference.type": "attestation-manifest",
                                "vnd.docker.reference.digest": first_image.clone().unwrap_or_default(),
                            });
                        }
                        Manifest::Index { .. } => {}
                    }
                    entries.push(e);
                    rendered.push(r);
                }
                let text =
                    json!({"schemaVersion": 2, "mediaType": media_type, "manifests": entries})
                        .to_string();
                Rendered {
                    digest: digest_of(text.as_bytes()),
                    media_type,
                    text,
                    blobs: Vec::new(),
                    children: rendered,
                }
            }
        }
    }
}

impl Rendered {
    /// This manifest and every manifest below it, children first.
    pub fn all(&self) -> Vec<&Rendered> {
        let mut out = Vec::new();
        for c in &self.children {
            out.extend(c.all());
        }
        out.push(self);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_of_the_exact_text_and_shared_children_are_equal() {
        let img = |s: &str| Manifest::Image {
            seed: s.into(),
            media_type: DOCKER_MANIFEST,
        };
        let a = Manifest::Index {
            media_type: DOCKER_LIST,
            children: vec![img("x"), img("shared")],
        }
        .render();
        let b = Manifest::Index {
            media_type: DOCKER_LIST,
            children: vec![img("y"), img("shared")],
        }
        .render();
        assert_eq!(a.digest, digest_of(a.text.as_bytes()));
        assert_eq!(a.children[1].digest, b.children[1].digest);
        assert_ne!(a.digest, b.digest);
        let j: Value = serde_json::from_str(&a.text).unwrap();
        assert_eq!(j["manifests"][1]["digest"], a.children[1].digest.as_str());
        assert_eq!(j["manifests"][1]["platform"]["architecture"], "arm64");
    }

    #[test]
    fn attestations_point_at_the_first_image() {
        let r = Manifest::Index {
            media_type: OCI_INDEX,
            children: vec![
                Manifest::Image {
                    seed: "a".into(),
                    media_type: OCI_MANIFEST,
                },
                Manifest::Attestation { seed: "a".into() },
            ],
        }
        .render();
        let j: Value = serde_json::from_str(&r.text).unwrap();
        let ann = &j["manifests"][1]["annotations"];
        assert_eq!(ann["vnd.docker.reference.type"], "attestation-manifest");
        assert_eq!(
            ann["vnd.docker.reference.digest"],
            r.children[0].digest.as_str()
        );
        assert_eq!(r.all().len(), 3);
    }
}
