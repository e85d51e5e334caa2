//! The URL rule Authentik applies to a proxy provider's `external_host`,
//! checked at plan so a host Authentik would refuse fails before any write.

use tfplugin::validator::{FnValidator, from_fn};

/// Django's `URLValidator` as Authentik's `DomainlessURLValidator`
/// (`authentik/lib/models.py`) configures it for the proxy provider's
/// `external_host` and `internal_host` (schemes http, https; hosts without
/// a domain allowed): at most 2048 characters, no tab or line break, an
/// allowed scheme (`blank` is one too), then the URL pattern (optional
/// `user:pass@`, an IPv4 address, a bracketed IPv6 address or a host name
/// of labels, optional 1-5 digit port, a path, query or fragment without
/// white space), an IPv6 literal that parses, and a host name of at most
/// 253 characters.
pub fn is_valid_url(value: &str) -> bool {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = PATTERN.get_or_init(|| {
        let ul = "\u{a1}-\u{ffff}";
        let octet = "(?:0|25[0-5]|2[0-4][0-9]|1[0-9]?[0-9]?|[1-9][0-9]?)";
        let ipv4 = format!(r"{octet}(?:\.{octet}){{3}}");
        let label = format!(r"[a-z{ul}0-9](?:[a-z{ul}0-9-]{{0,61}}[a-z{ul}0-9])?");
        let domain = format!(r"(?:\.[a-z{ul}0-9](?:[a-z{ul}0-9-]{{0,61}}[a-z{ul}0-9])?)*");
        regex::Regex::new(&format!(
            r"(?i)^(?:[a-z0-9.+-]*)://(?:[^\s:@/]+(?::[^\s:@/]*)?@)?(?:{ipv4}|\[[0-9a-f:.]+\]|{label}{domain}|localhost)(?::[0-9]{{1,5}})?(?:[/?#][^\s]*)?\z"
        ))
        .expect("URL pattern")
    });
    if value.chars().count() > 2048 || value.contains(['\t', '\r', '\n']) {
        return false;
    }
    let scheme = value.split("://").next().unwrap_or_default().to_lowercase();
    if !["http", "https", "blank"].contains(&scheme.as_str()) || !re.is_match(value) {
        return false;
    }
    let rest = &value[value.find("://").map_or(0, |i| i + 3)..];
    let netloc = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let hostport = netloc.rsplit_once('@').map_or(netloc, |(_, h)| h);
    let host = if let Some(inner) = hostport.strip_prefix('[') {
        match inner.split_once(']') {
            Some((v6, _)) => {
                if v6.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                v6
            }
            None => return false,
        }
    } else {
        hostport.split(':').next().unwrap_or_default()
    };
    !host.is_empty() && host.chars().count() <= 253
}

/// The validator: an http(s) URL that [`is_valid_url`] accepts. Another
/// scheme passes here: [`super::http_url`] names that.
pub fn accepted_by_authentik() -> FnValidator {
    from_fn("a URL Authentik's URL validator accepts", |v, _| {
        match v.as_str() {
            Some(h)
                if (h.starts_with("https://") || h.starts_with("http://")) && !is_valid_url(h) =>
            {
                Err(format!(
                    "{h:?} is not a URL Authentik accepts (its URL validator: a host name, IPv4 or [IPv6] address, an optional port of up to 5 digits, no white space)."
                ))
            }
            _ => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_domainless_url_validator() {
        for ok in [
            "https://grafana.example.com",
            "http://grafana:3000/x?q#f",
            "https://[::1]:8443",
            "https://bücher.example",
        ] {
            assert!(is_valid_url(ok), "{ok}");
        }
        for bad in [
            "grafana.example.com",
            "ftp://a.example.com",
            "https://",
            "https://exa mple.com",
            "https://a..b",
            "https://a.example.com:123456",
            "https://[::zz]",
        ] {
            assert!(!is_valid_url(bad), "{bad}");
        }
    }
}
