//! Which Authentik account each user entry of a restriction's rules names.
//!
//! A rule lists users by username or e-mail address, but the compiled policy
//! admits by primary key (`request.user.pk`), because neither name is an
//! identity in Authentik: `User` is Django's `AbstractUser`
//! (`authentik/core/models.py`), whose `username` is unique but may be any
//! string of letters, digits and `@.+-_`, and whose `email` is optional and
//! not unique; the enrollment flows' e-mail prompt is a plain e-mail field
//! (`authentik/stages/prompt/models.py`; only the username prompt checks for
//! duplicates, `authentik/stages/prompt/stage.py`), sources may write the
//! address their provider claims, and users may change their own address
//! when `default_user_change_email` or the `goauthentik.io/user/can-change-email`
//! attribute allows it (`authentik/tenants/models.py`,
//! `blueprints/default/flow-default-user-settings-flow.yaml`).
//!
//! So each entry must name exactly one account, decided at plan time (or at
//! apply, when the plan could not know the configuration): the accounts
//! whose username equals the entry (usernames are unique, case-sensitively)
//! or whose e-mail address equals it ignoring case (mailbox domains, and in
//! practice mailboxes, are case-insensitive). None is "not found", more than one is
//! ambiguous; both fail the plan at `rules[i].users`. An entry that was
//! resolved before keeps its account: when that account still exists but
//! the name now leads elsewhere (a freed username or an e-mail address taken
//! by someone else), the plan fails instead of moving the grant. An account
//! deleted since has dropped out of the state on read, so its entry
//! resolves afresh and the plan shows the new primary key.

use tfplugin::diag::{Diagnostic, Diagnostics};
use tfplugin::value::{AttrPath, Value};

use crate::client::{Api, ApiError};
use crate::host_rules::{Rule, UserIds};

/// One Authentik account as the restriction records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// `User.pk`: Authentik's integer primary key, what the policy admits.
    pub pk: i64,
    pub username: String,
    pub email: String,
}

impl Account {
    pub fn from_api(u: &serde_json::Value) -> Option<Account> {
        Some(Account {
            pk: u["pk"].as_i64()?,
            username: u["username"].as_str().unwrap_or_default().to_string(),
            email: u["email"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Whether this account answers to `entry`: by username exactly, or by
    /// e-mail address ignoring case.
    fn answers_to(&self, entry: &str) -> bool {
        self.username == entry
            || (!self.email.is_empty() && self.email.to_lowercase() == entry.to_lowercase())
    }

    pub fn describe(&self) -> String {
        format!(
            "pk {} (username {:?}, e-mail {:?})",
            self.pk, self.username, self.email
        )
    }
}

/// The accounts that answer to `entry`.
pub fn answering(accounts: &[Account], entry: &str) -> Vec<Account> {
    accounts
        .iter()
        .filter(|a| a.answers_to(entry))
        .cloned()
        .collect()
}

/// Entry → primary key, as held in a state's `resolved_users` (entries
/// whose value is not a known integer are left out).
pub fn from_state(v: &Value) -> UserIds {
    v.as_map()
        .map(|m| {
            m.iter()
                .filter_map(|(k, pk)| Some((k.clone(), pk.as_i64()?)))
                .collect()
        })
        .unwrap_or_default()
}

pub fn to_state(ids: &UserIds) -> Value {
    Value::Map(
        ids.iter()
            .map(|(k, pk)| (k.clone(), Value::from(*pk)))
            .collect(),
    )
}

/// Every account in Authentik (`GET /api/v3/core/users/`, all pages).
pub fn all(api: &Api) -> Result<Vec<Account>, ApiError> {
    Ok(api
        .list("core/users/", "", "user list")?
        .iter()
        .filter_map(Account::from_api)
        .collect())
}

/// Resolves every user entry of `rules` against `accounts` to a primary
/// key. `prior` is the resolution the state holds (refreshed by read): an
/// entry keeps the account it had while that account exists. Errors sit at
/// `rules[i].users`.
pub fn resolve(accounts: &[Account], rules: &[Rule], prior: &UserIds) -> (UserIds, Diagnostics) {
    let mut out = UserIds::new();
    let mut d = Diagnostics::default();
    for (i, r) in rules.iter().enumerate() {
        let at = AttrPath::root().attr("rules").index(i as i64).attr("users");
        for entry in &r.users {
            match resolve_one(accounts, entry, prior.get(entry).copied(), i) {
                Ok(pk) => {
                    out.insert(entry.clone(), pk);
                }
                Err(e) => d.push(e.at(at.clone())),
            }
        }
    }
    (out, d)
}

fn resolve_one(
    accounts: &[Account],
    entry: &str,
    prior: Option<i64>,
    i: usize,
) -> Result<i64, Diagnostic> {
    let found = answering(accounts, entry);
    let kept = prior.and_then(|p| accounts.iter().find(|a| a.pk == p));
    let account = match found.as_slice() {
        [] => {
            let mut detail = format!(
                "rules[{i}].users lists {entry:?}, which is neither the username nor the e-mail address of any Authentik account."
            );
            if let Some(near) = accounts
                .iter()
                .find(|a| a.username.to_lowercase() == entry.to_lowercase())
            {
                detail.push_str(&format!(
                    " Usernames compare exactly; {} differs only in letter case.",
                    near.describe()
                ));
            }
            if let Some(k) = kept {
                detail.push_str(&format!(
                    " It was resolved to {} when last applied; the policy still admits that account. List it by its current username.",
                    k.describe()
                ));
            }
            return Err(Diagnostic::error(
                format!("User {entry:?} not found"),
                detail,
            ));
        }
        [one] => one,
        many => {
            let list: Vec<String> = many.iter().map(|a| a.describe()).collect();
            return Err(Diagnostic::error(
                format!("User {entry:?} is ambiguous"),
                format!(
                    "rules[{i}].users lists {entry:?}, and {} Authentik accounts answer to it (username exactly, or e-mail address ignoring case): {}. Authentik keeps usernames unique but lets a new account take any free username, including another user's e-mail address, and it keeps e-mail addresses neither unique nor verified, so the plan cannot tell which account is meant (the policy in force is left as it is). List the intended account by its username, and remove the others if they are not legitimate.",
                    many.len(),
                    list.join(", ")
                ),
            ));
        }
    };
    match kept {
        Some(k) if k.pk != account.pk => Err(Diagnostic::error(
            format!("User {entry:?} now names another account"),
            format!(
                "rules[{i}].users lists {entry:?}, which was resolved to pk {} when last applied. That account still exists, now {}, and the name now leads to {}: a username freed by a rename, or an e-mail address another account set, can be taken over. The policy keeps admitting pk {} until you decide: list that account by its current name, or, to admit pk {} instead, remove {entry:?} from the rules, apply, and add it again.",
                k.pk,
                k.describe(),
                account.describe(),
                k.pk,
                account.pk
            ),
        )),
        _ => Ok(account.pk),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(pk: i64, username: &str, email: &str) -> Account {
        Account {
            pk,
            username: username.into(),
            email: email.into(),
        }
    }

    fn rule(users: &[&str]) -> Rule {
        Rule {
            host: "chrome.*".into(),
            users: users.iter().map(|s| s.to_string()).collect(),
            groups: Default::default(),
        }
    }

    fn viktor() -> Account {
        acct(5, "vbarzin", "vbarzin@gmail.com")
    }

    fn summaries(d: &Diagnostics) -> Vec<String> {
        d.0.iter().map(|x| x.summary.clone()).collect()
    }

    #[test]
    fn by_username_or_email_to_one_account() {
        let accounts = [acct(1, "akadmin", "admin@example.test"), viktor()];
        let (m, d) = resolve(
            &accounts,
            &[rule(&["akadmin", "VBarzin@Gmail.com", "vbarzin"])],
            &UserIds::new(),
        );
        assert!(d.0.is_empty(), "{d:?}");
        assert_eq!(
            m,
            UserIds::from([
                ("akadmin".into(), 1),
                ("VBarzin@Gmail.com".into(), 5),
                ("vbarzin".into(), 5)
            ])
        );
    }

    #[test]
    fn hostile_accounts_make_the_name_ambiguous() {
        for hostile in [
            // Same e-mail address, unverified.
            acct(9, "mallory", "vbarzin@gmail.com"),
            // Same address in other case.
            acct(9, "VBarzin", "VBarzin@Gmail.com"),
            // A username equal to Viktor's address.
            acct(9, "vbarzin@gmail.com", "mallory@evil.test"),
        ] {
            let (m, d) = resolve(
                &[viktor(), hostile.clone()],
                &[rule(&["vbarzin@gmail.com"])],
                &UserIds::new(),
            );
            assert!(m.is_empty(), "{hostile:?}");
            assert_eq!(summaries(&d), ["User \"vbarzin@gmail.com\" is ambiguous"]);
            let e = &d.0[0];
            assert_eq!(
                e.path,
                Some(AttrPath::root().attr("rules").index(0).attr("users"))
            );
            assert!(
                e.detail.contains("pk 5 (username \"vbarzin\""),
                "{}",
                e.detail
            );
            assert!(e.detail.contains("pk 9"), "{}", e.detail);
        }
        // The username itself still names Viktor alone (usernames are unique
        // and compare exactly).
        let (m, d) = resolve(
            &[viktor(), acct(9, "VBarzin", "VBarzin@Gmail.com")],
            &[rule(&["vbarzin"])],
            &UserIds::new(),
        );
        assert!(d.0.is_empty(), "{d:?}");
        assert_eq!(m["vbarzin"], 5);
    }

    #[test]
    fn unknown_names_are_not_found() {
        let (m, d) = resolve(
            &[viktor()],
            &[rule(&["vbarzin"]), rule(&["VBARZIN", "nobody"])],
            &UserIds::new(),
        );
        assert_eq!(m.len(), 1);
        assert_eq!(
            summaries(&d),
            ["User \"VBARZIN\" not found", "User \"nobody\" not found"]
        );
        assert!(d.0[0].detail.contains("differs only in letter case"));
        assert!(
            d.0.iter()
                .all(|x| x.path == Some(AttrPath::root().attr("rules").index(1).attr("users")))
        );
    }

    #[test]
    fn a_resolved_name_does_not_move_to_another_live_account() {
        let prior = UserIds::from([("akadmin".to_string(), 1)]);
        // akadmin renamed; a new account took the name.
        let accounts = [acct(1, "akadmin-old", "a@x"), acct(7, "akadmin", "m@evil")];
        let (m, d) = resolve(&accounts, &[rule(&["akadmin"])], &prior);
        assert!(m.is_empty());
        assert_eq!(
            summaries(&d),
            ["User \"akadmin\" now names another account"]
        );
        assert!(d.0[0].detail.contains("now pk 1 (username \"akadmin-old\""));
        // Renamed, nobody took the name: not found, and the policy keeps pk 1.
        let (_, d) = resolve(&accounts[..1], &[rule(&["akadmin"])], &prior);
        assert!(
            d.0[0]
                .detail
                .contains("the policy still admits that account")
        );
        // Deleted (pk 1 gone) and recreated: the new account.
        let (m, d) = resolve(&accounts[1..], &[rule(&["akadmin"])], &prior);
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(m["akadmin"], 7);
    }

    #[test]
    fn state_round_trip() {
        let m = UserIds::from([("vbarzin@gmail.com".to_string(), 5)]);
        assert_eq!(from_state(&to_state(&m)), m);
        assert!(from_state(&Value::Null).is_empty());
    }
}
