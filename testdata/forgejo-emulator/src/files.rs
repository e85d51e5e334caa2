//! The files of a container package version, as Forgejo v11.0.10 records
//! them on a manifest push (`routers/api/packages/container/manifest.go`):
//! an image manifest's config blob and each layer as `sha256_<hex>`
//! (`createFileFromBlobReference`), then the manifest itself as
//! `manifest.json` (`createManifestBlob`, the lead file); an index has only
//! its `manifest.json`. `GET …/{version}/files` answers them as
//! `PackageFile` (`modules/structs/package.go`: `Size` has no JSON tag, so
//! the key is `Size`) with the blob's MD5, SHA-1, SHA-256 and SHA-512.

use aws_lc_rs::digest;
use serde_json::{Value, json};

use crate::manifest::Rendered;

#[derive(Debug, Clone)]
pub struct PackageFile {
    pub id: i64,
    pub name: String,
    pub size: usize,
    md5: String,
    sha1: String,
    sha256: String,
    sha512: String,
}

impl PackageFile {
    fn of(id: i64, name: String, data: &[u8]) -> PackageFile {
        let hex = |alg: &'static digest::Algorithm| hex_of(digest::digest(alg, data).as_ref());
        PackageFile {
            id,
            name,
            size: data.len(),
            md5: hex_of(&md5(data)),
            sha1: hex(&digest::SHA1_FOR_LEGACY_USE_ONLY),
            sha256: hex(&digest::SHA256),
            sha512: hex(&digest::SHA512),
        }
    }

    /// `convert.ToPackageFile` (services/convert/package.go).
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "Size": self.size,
            "name": self.name,
            "md5": self.md5,
            "sha1": self.sha1,
            "sha256": self.sha256,
            "sha512": self.sha512,
        })
    }
}

/// The files of manifest `r`, ids from `next`.
pub fn of_manifest(r: &Rendered, next: &mut impl FnMut() -> i64) -> Vec<PackageFile> {
    let mut files: Vec<PackageFile> = r
        .blobs
        .iter()
        .map(|b| {
            let name = format!(
                "sha256_{}",
                hex_of(digest::digest(&digest::SHA256, b).as_ref())
            );
            PackageFile::of(next(), name, b)
        })
        .collect();
    files.push(PackageFile::of(
        next(),
        "manifest.json".into(),
        r.text.as_bytes(),
    ));
    files
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// MD5 (RFC 1321): Forgejo reports it for every blob and no dependency of
/// this crate has it.
fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    let mut h: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(k[i])
                .wrapping_add(m[g])
                .rotate_left(S[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 16];
    for (i, w) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_matches_rfc_1321_test_suite() {
        for (input, want) in [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ] {
            assert_eq!(hex_of(&md5(input.as_bytes())), want, "{input:?}");
        }
    }
}
