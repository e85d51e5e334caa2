//! What ConfigureProvider sets up and every resource and data source uses:
//! the Forgejo client, the pause between deletions, and the registry reads
//! one terraform walk shares.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tfplugin::Configured;

use crate::client::Client;
use crate::graph::Package;
use crate::registry_graph;

/// The cell ConfigureProvider fills and every resource and data source reads.
pub type ConnCell = Arc<Configured<Conn>>;

/// The configured provider's connection to Forgejo.
#[derive(Debug)]
pub struct Conn {
    pub client: Client,
    /// Pause between two deletions (`deletes_per_second`).
    pub delete_interval: Duration,
    /// Registry reads already made since this configuration, see [`Conn::snapshot`].
    snapshots: Mutex<Snapshots>,
}

/// Graph reads keyed by (owner, package selector), and a generation that
/// every deletion bumps so a read that raced a deletion is never kept.
#[derive(Debug, Default)]
struct Snapshots {
    generation: u64,
    reads: BTreeMap<(String, Option<String>), Arc<Vec<Package>>>,
}

impl Conn {
    pub fn new(client: Client, delete_interval: Duration) -> Conn {
        Conn {
            client,
            delete_interval,
            snapshots: Mutex::default(),
        }
    }

    /// The registry graph read straight from the registry (apply, and the
    /// verification after it).
    pub fn graphs(&self, owner: &str, package: Option<&str>) -> Result<Vec<Package>, String> {
        registry_graph::graphs(&self.client, owner, package)
    }

    /// The registry graph for reads that only report (refresh, plan, data
    /// sources). Terraform configures the provider afresh for every graph
    /// walk, and a `terraform plan` refreshes and then plans the same
    /// resource in one walk: without this, a plan read the whole registry
    /// twice. A snapshot therefore lives at most one walk, and is dropped
    /// as soon as anything is deleted.
    pub fn snapshot(
        &self,
        owner: &str,
        package: Option<&str>,
    ) -> Result<Arc<Vec<Package>>, String> {
        let key = (owner.to_string(), package.map(str::to_string));
        let generation = {
            let s = self
                .snapshots
                .lock()
                .map_err(|_| "snapshot lock poisoned")?;
            if let Some(hit) = s.reads.get(&key) {
                return Ok(hit.clone());
            }
            s.generation
        };
        let read = Arc::new(self.graphs(owner, package)?);
        let mut s = self
            .snapshots
            .lock()
            .map_err(|_| "snapshot lock poisoned")?;
        if s.generation == generation {
            s.reads.insert(key, read.clone());
        }
        Ok(read)
    }

    /// Forgets every snapshot: called once a deletion run ends, however it
    /// ends. The run's own reads go to the registry ([`Conn::graphs`])
    /// directly; a snapshot read that overlapped the run either was stored
    /// before this and is cleared, or finishes after it with an old
    /// generation and is not stored.
    pub fn forget_snapshots(&self) {
        if let Ok(mut s) = self.snapshots.lock() {
            s.generation += 1;
            s.reads.clear();
        }
    }
}
