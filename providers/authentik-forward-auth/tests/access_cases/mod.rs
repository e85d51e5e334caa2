//! The decision table the policy harness and the end-to-end access test
//! share: rules in the shape of the seeds' `admin-services-restriction`
//! (`CHROME_ALLOWED` for `chrome.*`, kubernetes groups for `k8s`, an admin
//! group for the rest of the domain), users, and for each application host
//! and user whether Authentik must admit them.

#![allow(dead_code)] // each test binary uses part of it

use serde_json::{Value, json};

/// (host pattern, users, groups)
pub const RULES: &[(&str, &[&str], &[&str])] = &[
    ("chrome.*", &["vbarzin@gmail.com", "akadmin"], &[]),
    ("chrome.lab.example.com", &["emo"], &[]),
    ("k8s.example.com", &[], &["kubernetes-admins"]),
    ("*.lab.example.com", &[], &["lab"]),
    ("*.example.com", &[], &["Home Server Admins"]),
];

pub struct User {
    pub key: &'static str,
    pub username: &'static str,
    pub email: &'static str,
    pub groups: &'static [&'static str],
}

pub const USERS: &[User] = &[
    User {
        key: "viktor",
        username: "vbarzin",
        email: "vbarzin@gmail.com",
        groups: &["Home Server Admins", "kubernetes-admins"],
    },
    User {
        key: "akadmin",
        username: "akadmin",
        email: "admin@example.test",
        groups: &["authentik Admins"],
    },
    User {
        key: "emo",
        username: "emo",
        email: "emil.barzin@gmail.com",
        groups: &["Home Server Admins"],
    },
    User {
        key: "lab",
        username: "lab1",
        email: "",
        groups: &["lab"],
    },
    // Neither username nor e-mail: nothing to decide on.
    User {
        key: "blank",
        username: "",
        email: "",
        groups: &["Home Server Admins"],
    },
    // Viktor's e-mail in other case: a different account to Authentik.
    User {
        key: "shouty",
        username: "VBarzin",
        email: "VBarzin@Gmail.com",
        groups: &[],
    },
];

pub fn user(key: &str) -> &'static User {
    USERS.iter().find(|u| u.key == key).expect("user key")
}

/// One application of the table: slug, external_host, what it stands for.
pub struct App {
    pub slug: &'static str,
    pub external_host: &'static str,
    pub what: &'static str,
}

pub const APPS: &[App] = &[
    App {
        slug: "k8s",
        external_host: "https://k8s.example.com",
        what: "exact host",
    },
    App {
        slug: "chrome",
        external_host: "https://chrome.example.com",
        what: "label.* (beats *.suffix)",
    },
    App {
        slug: "chrome-org",
        external_host: "https://chrome.example.org/vnc",
        what: "label.* on another domain",
    },
    App {
        slug: "chrome-lab",
        external_host: "https://chrome.lab.example.com",
        what: "exact beats label.*",
    },
    App {
        slug: "grafana-lab",
        external_host: "https://grafana.lab.example.com",
        what: "longest *.suffix first",
    },
    App {
        slug: "grafana",
        external_host: "https://grafana.example.com",
        what: "*.suffix",
    },
    App {
        slug: "chrome-caps",
        external_host: "https://CHROME.Example.COM:443/",
        what: "mixed-case host",
    },
    App {
        slug: "other",
        external_host: "https://grafana.example.org",
        what: "host no rule names",
    },
    App {
        slug: "chrome-evil-suffix",
        external_host: "https://chrome.example.com.evil.net",
        what: "chrome.example.com.evil.net (first label chrome)",
    },
    App {
        slug: "k8s-evil-suffix",
        external_host: "https://k8s.example.com.evil.net",
        what: "k8s.example.com.evil.net (not k8s.example.com)",
    },
    App {
        slug: "chrome-userinfo",
        external_host: "https://chrome.example.com@evil",
        what: "chrome.example.com@evil",
    },
    App {
        slug: "chrome-cyrillic",
        external_host: "https://chr\u{043e}me.example.com",
        what: "Cyrillic o look-alike",
    },
    App {
        slug: "k8s-kelvin",
        external_host: "https://\u{212a}8s.example.com",
        what: "Kelvin sign (lower-cases to k)",
    },
    App {
        slug: "chrome-newline",
        external_host: "https://chrome.example.com\n.evil.net",
        what: "newline in the host",
    },
];

pub fn app(slug: &str) -> &'static App {
    APPS.iter().find(|a| a.slug == slug).expect("app slug")
}

/// (app slug, user key, admitted with default_allow = false, admitted with
/// default_allow = true)
pub const DECISIONS: &[(&str, &str, bool, bool)] = &[
    // Exact host: the group admits; the broader *.example.com rule does not.
    ("k8s", "viktor", true, true),
    ("k8s", "emo", false, false),
    ("k8s", "akadmin", false, false),
    // label.*: by e-mail, by username; emo's admin group does not reach it.
    ("chrome", "viktor", true, true),
    ("chrome", "akadmin", true, true),
    ("chrome", "emo", false, false),
    ("chrome", "shouty", false, false),
    ("chrome", "blank", false, false),
    ("chrome-org", "viktor", true, true),
    ("chrome-org", "emo", false, false),
    // Exact beats label.*.
    ("chrome-lab", "emo", true, true),
    ("chrome-lab", "viktor", false, false),
    // *.lab.example.com before *.example.com.
    ("grafana-lab", "lab", true, true),
    ("grafana-lab", "emo", false, false),
    // *.suffix by group membership.
    ("grafana", "emo", true, true),
    ("grafana", "viktor", true, true),
    ("grafana", "akadmin", false, false),
    ("grafana", "lab", false, false),
    ("grafana", "blank", false, false),
    // Host names are case-insensitive.
    ("chrome-caps", "viktor", true, true),
    ("chrome-caps", "emo", false, false),
    // No rule: default_allow decides; a user without names never gets in.
    ("other", "viktor", false, true),
    ("other", "emo", false, true),
    ("other", "blank", false, false),
    // Hostile hosts.
    ("chrome-evil-suffix", "viktor", true, true),
    ("chrome-evil-suffix", "emo", false, false),
    ("k8s-evil-suffix", "viktor", false, true),
    ("chrome-userinfo", "viktor", false, false),
    ("chrome-userinfo", "emo", false, false),
    ("chrome-cyrillic", "viktor", false, false),
    ("chrome-cyrillic", "emo", false, false),
    ("k8s-kelvin", "viktor", false, false),
    ("chrome-newline", "viktor", false, false),
    ("chrome-newline", "emo", false, false),
];

/// The request Authentik hands policies at the authorize step: the browser's
/// request to the Authentik host (research note §3). `claim` sets the
/// headers a hostile client or proxy could add.
pub fn authorize_request(claim: Option<&str>) -> Value {
    let mut headers = json!({
        "Host": "auth.example.com",
        "X-Forwarded-Proto": "https",
    });
    if let Some(h) = claim {
        headers["X-Forwarded-Host"] = json!(h);
        headers["X-Original-URL"] = json!(format!("https://{h}/"));
    }
    json!({
        "method": "GET",
        "path": "/application/o/authorize/",
        "headers": headers,
        "query": {"client_id": "x", "redirect_uri": "https://auth.example.com/outpost.goauthentik.io/callback"},
    })
}

/// The user as `request.user`.
pub fn user_json(u: &User, pk: i64) -> Value {
    json!({
        "pk": pk, "username": u.username, "email": u.email, "name": u.key,
        "is_active": true, "groups": u.groups,
    })
}

/// The application as `request.obj` (a forward_single proxy provider).
pub fn app_json(slug: &str, external_host: &str, pk: &str) -> Value {
    json!({
        "pk": pk, "slug": slug, "name": slug,
        "provider": {"pk": 1, "name": slug, "external_host": external_host,
                     "mode": "forward_single", "cookie_domain": ""},
    })
}
