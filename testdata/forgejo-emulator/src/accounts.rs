//! Who may do what: users, organisations, teams, access tokens and their
//! scopes, and the access mode Forgejo derives from them for an owner's
//! packages. Every rule cites Forgejo v11.0.10 (tag commit
//! 84f236c43dcdfec2bfe6afa3816b0361df6575c8); `docs/forgejo-retention/emulator.md`
//! lists them.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// `models/perm/access_mode.go`: the order matters (`<` compares them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    None,
    Read,
    Write,
    Admin,
    Owner,
}

impl Access {
    /// `AccessMode.String()`, as teams carry it in `permission` and `units_map`.
    pub fn name(self) -> &'static str {
        match self {
            Access::None => "none",
            Access::Read => "read",
            Access::Write => "write",
            Access::Admin => "admin",
            Access::Owner => "owner",
        }
    }
}

/// `modules/structs/visible_type.go`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Public,
    Limited,
    Private,
}

impl Visibility {
    fn name(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Limited => "limited",
            Visibility::Private => "private",
        }
    }
}

/// A user or an organisation (Forgejo keeps both in its `user` table).
#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub is_org: bool,
    pub is_admin: bool,
    pub active: bool,
    pub prohibit_login: bool,
    pub visibility: Visibility,
}

/// An organisation team: `permission` is the team's `authorize` column,
/// `units` its per-unit access modes (`repo.packages` is the one packages use).
#[derive(Debug, Clone)]
pub struct Team {
    pub id: i64,
    pub org: String,
    pub name: String,
    pub permission: Access,
    pub units: BTreeMap<String, Access>,
    pub members: Vec<String>,
}

/// An access token: its user and its scopes as Forgejo stores them
/// (`all`, `public-only`, `read:package`, `write:package`, ...).
#[derive(Debug, Clone)]
pub struct Token {
    pub user: String,
    pub scopes: Vec<String>,
}

impl Token {
    /// `AccessTokenScope.HasScope` (models/auth/access_token_scope.go):
    /// `all` holds every scope, `write:X` holds `read:X`.
    pub fn has_scope(&self, wanted: &str) -> bool {
        let (level, category) = wanted.split_once(':').unwrap_or(("", wanted));
        self.scopes.iter().any(|s| {
            s == "all" || s == wanted || (level == "read" && *s == format!("write:{category}"))
        })
    }

    pub fn public_only(&self) -> bool {
        self.scopes.iter().any(|s| s == "public-only")
    }
}

/// Everything the emulator knows about identities.
#[derive(Debug, Default)]
pub struct Directory {
    pub accounts: Vec<Account>,
    pub teams: Vec<Team>,
    /// secret → token.
    pub tokens: BTreeMap<String, Token>,
    next_id: i64,
}

/// Forgejo's API error body (`services/context/api.go` `APIError`).
pub fn api_error(base: &str, message: &str) -> Value {
    json!({"message": message, "url": format!("{base}/api/swagger")})
}

impl Directory {
    fn next(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Adds (or updates) a user or organisation.
    pub fn account(&mut self, name: &str, is_org: bool, visibility: Visibility) -> &mut Account {
        if let Some(i) = self.accounts.iter().position(|a| a.name == name) {
            return &mut self.accounts[i];
        }
        let id = self.next();
        self.accounts.push(Account {
            id,
            name: name.to_string(),
            is_org,
            is_admin: false,
            active: true,
            prohibit_login: false,
            visibility,
        });
        self.accounts.last_mut().expect("just pushed")
    }

    /// Adds a team. Besides `repo.packages` it gets a `repo.code` unit at
    /// its own level (read at least, write at most), so `units_map` reads
    /// like a real team's; only `repo.packages` decides anything here.
    pub fn team(
        &mut self,
        org: &str,
        name: &str,
        permission: Access,
        packages: Access,
        members: &[&str],
    ) {
        let id = self.next();
        let units = [
            ("repo.code", permission.min(Access::Write).max(Access::Read)),
            ("repo.packages", packages),
        ]
        .into_iter()
        .map(|(u, a)| (u.to_string(), a))
        .collect();
        self.teams.push(Team {
            id,
            org: org.to_string(),
            name: name.to_string(),
            permission,
            units,
            members: members.iter().map(|m| m.to_string()).collect(),
        });
    }

    /// `GetUserByName`: names compare case-insensitively (`lower_name`).
    pub fn by_name(&self, name: &str) -> Option<&Account> {
        self.accounts
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    fn is_member(&self, org: &str, user: &str) -> bool {
        self.teams
            .iter()
            .any(|t| t.org == org && t.members.iter().any(|m| m == user))
    }

    /// `determineAccessMode` (services/context/package.go) for `doer` on
    /// `owner`'s packages. Site admins are let through later, by
    /// `reqPackageAccess` (routers/api/v1/api.go), not here.
    pub fn package_access(&self, owner: &Account, doer: &Account) -> Access {
        if !doer.active || doer.prohibit_login {
            return Access::None;
        }
        if owner.is_org {
            let teams: Vec<&Team> = self
                .teams
                .iter()
                .filter(|t| t.org == owner.name && t.members.contains(&doer.name))
                .collect();
            // GetOrgUserMaxAuthorizeLevel: the highest team `authorize`.
            let mut mode = teams
                .iter()
                .map(|t| t.permission)
                .max()
                .unwrap_or(Access::None);
            // Below write, each team's Packages unit may grant more.
            if mode < Access::Write {
                for t in &teams {
                    mode = mode.max(
                        t.units
                            .get("repo.packages")
                            .copied()
                            .unwrap_or(Access::None),
                    );
                }
            }
            // HasOrgOrUserVisible (models/organization/org.go).
            let visible = doer.is_admin
                || owner.visibility != Visibility::Private
                || self.is_member(&owner.name, &doer.name);
            if mode == Access::None && visible {
                mode = Access::Read;
            }
            mode
        } else if doer.id == owner.id {
            Access::Owner
        } else if owner.visibility != Visibility::Private {
            Access::Read
        } else {
            Access::None
        }
    }

    /// `convert.ToUser` (services/convert/user.go): the private fields only
    /// when the doer is the user or a site admin.
    pub fn user_json(&self, base: &str, a: &Account, doer: &Account) -> Value {
        let authed = doer.id == a.id || doer.is_admin;
        let lower = a.name.to_lowercase();
        json!({
            "id": a.id,
            "login": a.name,
            "login_name": "",
            "source_id": 0,
            "full_name": "",
            "email": format!("{lower}@example.invalid"),
            "avatar_url": format!("{base}/avatars/{lower}"),
            "html_url": format!("{base}/{}", a.name),
            "language": if authed { "en-US" } else { "" },
            "is_admin": authed && a.is_admin,
            "last_login": if authed { "2026-11-01T00:00:00Z" } else { "0001-01-01T00:00:00Z" },
            "created": "2026-01-01T00:00:00Z",
            "restricted": false,
            "active": authed && a.active,
            "prohibit_login": authed && a.prohibit_login,
            "location": "",
            "pronouns": "",
            "website": "",
            "description": "",
            "visibility": a.visibility.name(),
            "followers_count": 0,
            "following_count": 0,
            "starred_repos_count": 0,
        })
    }

    /// `convert.ToTeams` with the organisation loaded (`GET /user/teams`).
    pub fn team_json(&self, base: &str, t: &Team) -> Value {
        let org = self.by_name(&t.org);
        let units_map: serde_json::Map<String, Value> = t
            .units
            .iter()
            .map(|(u, a)| (u.clone(), Value::from(a.name())))
            .collect();
        json!({
            "id": t.id,
            "name": t.name,
            "description": "",
            "organization": org.map(|o| json!({
                "id": o.id,
                "name": o.name,
                "full_name": "",
                "email": "",
                "avatar_url": format!("{base}/avatars/{}", o.name.to_lowercase()),
                "description": "",
                "website": "",
                "location": "",
                "visibility": o.visibility.name(),
                "repo_admin_change_team_access": false,
                "username": o.name,
            })),
            "includes_all_repositories": false,
            "permission": t.permission.name(),
            "units": t.units.keys().collect::<Vec<_>>(),
            "units_map": units_map,
            "can_create_org_repo": false,
        })
    }
}
