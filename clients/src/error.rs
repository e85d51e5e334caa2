//! Text from the network made safe to put in an error: every client passes
//! server-sent text (Vault's `errors`, an API's error body) through
//! [`safe_text`] before it reaches a message.

/// What stands in for a secret found in server text.
pub const REDACTED: &str = "<redacted>";

/// `text` as one printable, bounded line without any of `secrets`:
/// - each secret (non-empty) is replaced by [`REDACTED`], so a server that
///   echoes the request's token back cannot put it in a log; again after
///   the next step, which could join a secret split by a control character;
/// - control characters are dropped, whitespace ones becoming a space, so
///   an embedded newline cannot forge log lines or split the one-line
///   messages that retry classification matches;
/// - leading and trailing whitespace is trimmed;
/// - more than `max_chars` characters are cut there and end with `…`.
pub fn safe_text(text: &str, max_chars: usize, secrets: &[&str]) -> String {
    let redact = |text: String| {
        secrets
            .iter()
            .filter(|s| !s.is_empty())
            .fold(text, |t, secret| t.replace(secret, REDACTED))
    };
    let printable: String = redact(text.to_string())
        .chars()
        .filter_map(|c| match c {
            c if c.is_control() && c.is_whitespace() => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect();
    let printable = redact(printable);
    let trimmed = printable.trim();
    match trimmed.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
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
}
