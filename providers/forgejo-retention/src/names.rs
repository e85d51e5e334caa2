//! Names that go into URL paths (owner, package, version, digest), whether
//! they come from HCL or from Forgejo's and the registry's answers.

/// Refuses anything that could change a URL path: Forgejo's names are
/// `[A-Za-z0-9._/-]`, tags `[A-Za-z0-9._-]`, digests `sha256:hex`; `..`
/// never passes.
pub fn path_safe(what: &str, s: &str) -> Result<(), String> {
    if !s.is_empty()
        && !s.contains("..")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:/".contains(c))
    {
        Ok(())
    } else {
        Err(format!("refusing {what} {s:?}: not a valid Forgejo name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_change_a_url_path_are_refused() {
        for ok in ["web", "team/web", "sha256:ab12", "v1.2-rc_3"] {
            assert!(path_safe("x", ok).is_ok(), "{ok}");
        }
        for bad in ["", "../admin", "a?b", "a b", "a#b", "a%2f", "é"] {
            assert!(path_safe("x", bad).is_err(), "{bad}");
        }
    }
}
