//! Text from the network made safe to put in an error: every client passes
//! server-sent text (Vault's `errors`, an API's error body) through
//! [`safe_text`] before it reaches a message.

/// What stands in for a secret found in server text.
pub const REDACTED: &str = "<redacted>";

/// `text` as one printable, bounded line without any of `secrets`:
/// - control characters are dropped, whitespace ones becoming a space, so
///   an embedded newline cannot forge log lines or split the one-line
///   messages that retry classification matches;
/// - then each secret (non-empty, cleaned the same way) is replaced by
///   [`REDACTED`] in one left-to-right pass, the longest secret first where
///   several start at one place: cleaning first means a control character
///   inside a secret cannot smuggle it out, and one pass means a
///   placeholder is never searched again (a short secret such as `t` would
///   otherwise be found inside `<redacted>` itself);
/// - leading and trailing whitespace is trimmed;
/// - more than `max_chars` characters are cut there and end with `…`.
pub fn safe_text(text: &str, max_chars: usize, secrets: &[&str]) -> String {
    let printable = clean(text);
    let mut secrets: Vec<String> = secrets
        .iter()
        .map(|s| clean(s))
        .filter(|s| !s.is_empty())
        .collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut redacted = String::with_capacity(printable.len());
    let mut rest = printable.as_str();
    while let Some(c) = rest.chars().next() {
        match secrets.iter().find(|s| rest.starts_with(s.as_str())) {
            Some(secret) => {
                redacted.push_str(REDACTED);
                rest = &rest[secret.len()..];
            }
            None => {
                redacted.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    let trimmed = redacted.trim();
    match trimmed.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}

/// `text` without control characters, whitespace ones becoming a space.
fn clean(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            c if c.is_control() && c.is_whitespace() => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_go_whitespace_becomes_a_space() {
        assert_eq!(
            safe_text(
                " denied\nFAKE LOG LINE\r\t\u{1b}[31mred\u{0}\u{7f} ",
                100,
                &[]
            ),
            "denied FAKE LOG LINE  [31mred"
        );
    }

    #[test]
    fn long_text_is_capped_on_a_character_boundary() {
        let text = safe_text(&"é".repeat(1000), 300, &[]);
        assert_eq!(text.chars().count(), 301);
        assert!(text.ends_with('…') && text.starts_with("éé"), "{text}");
        assert_eq!(safe_text("abc", 3, &[]), "abc");
    }

    #[test]
    fn secrets_are_redacted_even_when_the_cap_would_cut_them() {
        let text = safe_text("token s3cret echoed: s3cret", 100, &["s3cret", ""]);
        assert_eq!(text, "token <redacted> echoed: <redacted>");
        // Redaction comes before the cap: no prefix of the secret survives.
        let text = safe_text("xx s3cret", 5, &["s3cret"]);
        assert!(!text.contains("s3c"), "{text}");
        // A control character inside the secret does not smuggle it out.
        assert_eq!(safe_text("s3c\u{0}ret", 100, &["s3cret"]), REDACTED);
    }

    #[test]
    fn a_placeholder_is_never_redacted_again() {
        // A one-letter token, and one that is part of another: each
        // occurrence becomes exactly one placeholder.
        assert_eq!(
            safe_text("does not exist", 100, &["t"]),
            "does no<redacted> exis<redacted>"
        );
        assert_eq!(
            safe_text("abc ab", 100, &["ab", "abc", "red"]),
            "<redacted> <redacted>"
        );
    }
}
