//! The decision table the policy harness and the end-to-end access test
//! share: rules in the shape of the seeds' `admin-services-restriction`
//! (`CHROME_ALLOWED` for `chrome.*`, kubernetes groups for `k8s`, an admin
//! group for the rest of the domain), users, and for each application host
//! and user whether Authentik must admit them.
//!
//! Some users arrive after the restriction was applied, as an attacker's
//! would: accounts that answer to an allowed user's e-mail address (same
//! address, same in other case, or as their username) and one that took an
//! allowed user's username after that user renamed themself. The policy
//! admits by primary key, so none of them gets in, and the renamed user
//! still does.

#![allow(dead_code)] // each test binary uses part of it

use authentik_forward_auth::accounts::Account;
use serde_json::{Value, json};

/// (host pattern, users, groups)
pub const RULES: &[(&str, &[&str], &[&str])] = &[
    ("chrome.*", &["vbarzin@gmail.com", "akadmin"], &[]),
    ("chrome.lab.example.com", &["emo"], &[]),
    ("k8s.example.com", &[], &["kubernetes-admins"]),
    ("*.lab.example.com", &[], &["lab"]),
    ("*.example.com", &[], &["Home Server Admins"]),
];

/// When an account appears, relative to the apply of the restriction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Exists when the rules are resolved.
    Before,
    /// Created afterwards.
    After,
    /// The account of that user key, renamed afterwards (same primary key).
    RenameOf(&'static str),
}

pub struct User {
    pub key: &'static str,
    pub username: &'static str,
    pub email: &'static str,
    pub groups: &'static [&'static str],
    /// `User.pk` in the harness (the emulator assigns its own).
    pub pk: i64,
    pub arrives: Arrival,
}

pub const USERS: &[User] = &[
    User {
        key: "viktor",
        username: "vbarzin",
        email: "vbarzin@gmail.com",
        groups: &["Home Server Admins", "kubernetes-admins"],
        pk: 5,
        arrives: Arrival::Before,
    },
    User {
        key: "akadmin",
        username: "akadmin",
        email: "admin@example.test",
        groups: &["authentik Admins"],
        pk: 1,
        arrives: Arrival::Before,
    },
    User {
        key: "emo",
        username: "emo",
        email: "emil.barzin@gmail.com",
        groups: &["Home Server Admins"],
        pk: 6,
        arrives: Arrival::Before,
    },
    User {
        key: "lab",
        username: "lab1",
        email: "",
        groups: &["lab"],
        pk: 7,
        arrives: Arrival::Before,
    },
    // Neither username nor e-mail: nothing to decide on.
    User {
        key: "blank",
        username: "",
        email: "",
        groups: &["Home Server Admins"],
        pk: 8,
        arrives: Arrival::Before,
    },
    // Viktor's e-mail in other case: a different account to Authentik.
    User {
        key: "shouty",
        username: "VBarzin",
        email: "VBarzin@Gmail.com",
        groups: &[],
        pk: 9,
        arrives: Arrival::After,
    },
    // Viktor's e-mail address exactly (Authentik neither keeps it unique
    // nor verifies it).
    User {
        key: "same-email",
        username: "mallory",
        email: "vbarzin@gmail.com",
        groups: &[],
        pk: 10,
        arrives: Arrival::After,
    },
    // A username equal to Viktor's e-mail address (usernames may hold `@`).
    User {
        key: "email-as-username",
        username: "vbarzin@gmail.com",
        email: "mallory@evil.test",
        groups: &[],
        pk: 11,
        arrives: Arrival::After,
    },
    // emo renamed himself; his account keeps its primary key...
    User {
        key: "emo-renamed",
        username: "emo-old",
        email: "emil.barzin@gmail.com",
        groups: &["Home Server Admins"],
        pk: 6,
        arrives: Arrival::RenameOf("emo"),
    },
    // ...and another account took the freed username.
    User {
        key: "emo-taker",
        username: "emo",
        email: "mallory@evil.test",
        groups: &[],
        pk: 12,
        arrives: Arrival::After,
    },
];

pub fn user(key: &str) -> &'static User {
    USERS.iter().find(|u| u.key == key).expect("user key")
}

/// The accounts Authentik holds when the rules are resolved.
pub fn accounts_before() -> Vec<Account> {
    USERS
        .iter()
        .filter(|u| u.arrives == Arrival::Before)
        .map(account)
        .collect()
}

/// The accounts afterwards: the renamed one in place of its old self, and
/// the newcomers.
pub fn accounts_after() -> Vec<Account> {
    let renamed: Vec<&str> = USERS
        .iter()
        .filter_map(|u| match u.arrives {
            Arrival::RenameOf(k) => Some(k),
            _ => None,
        })
        .collect();
    USERS
        .iter()
        .filter(|u| !(u.arrives == Arrival::Before && renamed.contains(&u.key)))
        .map(account)
        .collect()
}

fn account(u: &User) -> Account {
    Account {
        pk: u.pk,
        username: u.username.into(),
        email: u.email.into(),
    }
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
    ("chrome", "blank", false, false),
    ("chrome-org", "viktor", true, true),
    ("chrome-org", "emo", false, false),
    // Accounts that answer to Viktor's e-mail address are not Viktor.
    ("chrome", "shouty", false, false),
    ("chrome", "same-email", false, false),
    ("chrome", "email-as-username", false, false),
    ("chrome-org", "same-email", false, false),
    ("chrome-caps", "email-as-username", false, false),
    ("grafana", "same-email", false, false),
    ("other", "same-email", false, true),
    // Exact beats label.*.
    ("chrome-lab", "emo", true, true),
    ("chrome-lab", "viktor", false, false),
    // A rename keeps the account admitted; the freed name admits nobody new.
    ("chrome-lab", "emo-renamed", true, true),
    ("chrome-lab", "emo-taker", false, false),
    ("grafana", "emo-taker", false, false),
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

/// The user as `request.user` (`pk` as Authentik's: the integer primary key).
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
