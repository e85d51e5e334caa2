//! The configured connection every resource and data source uses: the API
//! handle, the outpost hosts attach to, and caches of the objects looked up
//! by name (flows, groups, users), refreshed on a miss.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::accounts::{self, Account};
use crate::client::{Api, ApiError, enc};

/// A configured connection plus caches of objects looked up by name.
pub struct Conn {
    pub api: Api,
    pub outpost: String,
    /// Base URL Traefik should call for forward auth (default: `url`).
    pub outpost_address: String,
    pub settle: Duration,
    pub insecure: bool,
    /// slug → pk, refreshed on a miss.
    flows: Cache<String>,
    /// name → pk.
    groups: Cache<String>,
    /// Every account (pk, username, e-mail), refreshed on a miss.
    users: Mutex<Option<Vec<Account>>>,
}

type Cache<K> = Mutex<Option<HashMap<String, K>>>;

impl Conn {
    pub fn new(api: Api, outpost: String, outpost_address: String, insecure: bool) -> Conn {
        Conn {
            api,
            outpost,
            outpost_address,
            settle: Duration::from_millis(60),
            insecure,
            flows: Mutex::default(),
            groups: Mutex::default(),
            users: Mutex::default(),
        }
    }

    fn cached<K: Clone>(
        &self,
        cache: &Cache<K>,
        key: &str,
        load: impl Fn(&Api) -> Result<HashMap<String, K>, ApiError>,
    ) -> Result<Option<K>, ApiError> {
        let mut guard = cache.lock().expect("cache lock");
        if let Some(v) = guard.as_ref().and_then(|m| m.get(key)) {
            return Ok(Some(v.clone()));
        }
        let fresh = load(&self.api)?;
        let hit = fresh.get(key).cloned();
        *guard = Some(fresh);
        Ok(hit)
    }

    fn reverse<K: Clone + PartialEq>(&self, cache: &Cache<K>, pk: &K) -> Option<String> {
        let guard = cache.lock().expect("cache lock");
        guard
            .as_ref()?
            .iter()
            .find(|(_, v)| *v == pk)
            .map(|(k, _)| k.clone())
    }

    /// Drops the caches so the next lookup reloads (after a miss by pk).
    fn forget(&self) {
        *self.flows.lock().expect("lock") = None;
        *self.groups.lock().expect("lock") = None;
        *self.users.lock().expect("lock") = None;
    }

    /// `field` → `pk` of every object of a list endpoint.
    fn index(
        api: &Api,
        collection: &str,
        field: &str,
        what: &str,
    ) -> Result<HashMap<String, String>, ApiError> {
        Ok(api
            .list(collection, "", what)?
            .iter()
            .filter_map(|o| {
                Some((
                    o[field].as_str()?.to_string(),
                    o["pk"].as_str()?.to_string(),
                ))
            })
            .collect())
    }

    pub fn flow_pk(&self, slug: &str) -> Result<Option<String>, ApiError> {
        self.cached(&self.flows, slug, |api| {
            Self::index(api, "flows/instances/", "slug", "flow list")
        })
    }

    pub fn group_pk(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.cached(&self.groups, name, |api| {
            Self::index(api, "core/groups/", "name", "group list")
        })
    }

    /// The accounts that answer to `entry` (username exactly, or e-mail
    /// ignoring case; see [`crate::accounts`]): one is the account meant,
    /// none is "not found", several are ambiguous (an address is neither
    /// unique nor verified in Authentik, and a username may be another
    /// user's address). The list is reloaded when nothing answers.
    pub fn accounts_named(&self, entry: &str) -> Result<Vec<Account>, ApiError> {
        let mut guard = self.users.lock().expect("cache lock");
        if let Some(found) = guard
            .as_ref()
            .map(|all| accounts::answering(all, entry))
            .filter(|f| !f.is_empty())
        {
            return Ok(found);
        }
        let fresh = accounts::all(&self.api)?;
        let found = accounts::answering(&fresh, entry);
        *guard = Some(fresh);
        Ok(found)
    }

    /// Slug of flow `pk` (None when no such flow).
    pub fn flow_slug(&self, pk: &str) -> Result<Option<String>, ApiError> {
        if let Some(s) = self.reverse(&self.flows, &pk.to_string()) {
            return Ok(Some(s));
        }
        let found = self.api.list(
            "flows/instances/",
            &format!("flow_uuid={}", enc(pk)),
            &format!("flow {pk}"),
        )?;
        self.forget();
        Ok(found
            .first()
            .and_then(|f| f["slug"].as_str())
            .map(str::to_string))
    }

    pub fn group_name(&self, pk: &str) -> Result<Option<String>, ApiError> {
        if let Some(s) = self.reverse(&self.groups, &pk.to_string()) {
            return Ok(Some(s));
        }
        let g = self
            .api
            .get_opt(&format!("core/groups/{pk}/"), &format!("group {pk}"))?;
        self.forget();
        Ok(g.and_then(|g| g["name"].as_str().map(str::to_string)))
    }

    /// The username of user `pk`.
    pub fn user_name(&self, pk: i64) -> Result<Option<String>, ApiError> {
        let u = self
            .api
            .get_opt(&format!("core/users/{pk}/"), &format!("user {pk}"))?;
        Ok(u.and_then(|u| u["username"].as_str().map(str::to_string)))
    }
}
