//! Does the state database keep one server session per client connection?
//!
//! Terraform's `pg` backend locks a workspace with a *session* advisory
//! lock (`pg_advisory_lock`) held by its connection until the apply ends.
//! A pooler in transaction or statement mode (PgBouncer
//! `pool_mode = transaction|statement`) gives the server backend back to
//! the pool after every transaction: the lock stays on a server session
//! that other clients' statements then run on, and the apply's own later
//! statements may run on another backend. Two applies then do not exclude
//! each other, and state updates are lost. Nothing in the protocol says a
//! pooler is there, so [`probe`] watches for what such a pooler does:
//!
//! - one client connection's statements reporting different
//!   `pg_backend_pid()`s (a session never changes its backend);
//! - two open client connections reporting the same backend pid (two live
//!   sessions never share one; PgBouncer's default LIFO reuse hands the
//!   second client the backend the first one just released);
//! - a session advisory lock taken on connection A held by the backend
//!   that connection B's statement ran on, or no longer held by A's
//!   session on A's next statement.
//!
//! A direct connection and a session-mode pool show none of these. Every
//! statement is a simple query (one protocol message): a named prepared
//! statement would itself break across a transaction-mode pooler.

use std::time::{SystemTime, UNIX_EPOCH};

use infra_clients::pg_conn;
use postgres::{Client, SimpleQueryMessage};

/// Rounds of A / B / A statements. One round shows a LIFO pooler; more
/// rounds catch a pooler that hands out idle backends round-robin.
const ROUNDS: u32 = 4;

/// First key of the probe's two-key advisory locks ("tg" and 0x0d0c,
/// doctor). Terraform's `pg` backend takes one-key (bigint) locks, which
/// `pg_locks` shows with `objsubid = 1`; two-key locks show `objsubid = 2`,
/// so the probe never touches a workspace lock.
const CLASS: u32 = 0x7467_0d0c;

/// What the probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Every statement of each connection ran in its own session, and the
    /// advisory lock stayed with the session that took it.
    Sessions {
        /// Backend pids of connection A and connection B.
        a: i32,
        b: i32,
        rounds: u32,
    },
    /// Statements did not keep a session: what was seen, one item each.
    Pooled(Vec<String>),
}

/// Opens two connections with `conn` and runs [`ROUNDS`] rounds of
/// statements alternating between them. `Err`: tg cannot tell (connection
/// refused, a statement failed, an answer it does not understand); the
/// message names the step. The connection string is never in the message.
///
/// The connection follows the string's `sslmode` (and `sslrootcert`, or
/// `PGSSLMODE` / `PGSSLROOTCERT`) as libpq and Terraform's `pg` backend
/// do: a state database that requires TLS is probed over TLS.
pub fn probe(conn: &str) -> Result<Finding, String> {
    let target = pg_conn::parse(conn, &|k| std::env::var(k).ok())?;
    let connect = |which: &str| {
        target
            .connect()
            .map_err(|e| format!("connection {which}: {}", pg_error(&e)))
    };
    let mut a = connect("A")?;
    let mut b = connect("B")?;
    let base = fresh_key();
    let mut seen = Vec::new();
    let mut leaked = Vec::new();
    let mut first_a: Option<i32> = None;
    let mut last_b: Option<i32> = None;
    for round in 0..ROUNDS {
        // A fresh key per round: a lock one round leaves on a pooled
        // backend cannot make the next round's try-lock fail.
        let key = (base + round) & 0x7fff_ffff;
        let [pa, got] = row(
            &mut a,
            &format!("SELECT pg_backend_pid(), pg_try_advisory_lock({CLASS}, {key})"),
        )?;
        let pa = pid(&pa)?;
        if !flag(&got)? {
            return Err(format!(
                "pg_try_advisory_lock({CLASS}, {key}) returned false: another session holds the probe's fresh key"
            ));
        }
        let [pb, b_holds] = row(
            &mut b,
            &format!(
                "SELECT pg_backend_pid(), EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
                 AND classid = {CLASS} AND objid = {key} AND objsubid = 2 AND granted \
                 AND pid = pg_backend_pid())"
            ),
        )?;
        let pb = pid(&pb)?;
        let [pa2, released] = row(
            &mut a,
            &format!("SELECT pg_backend_pid(), pg_advisory_unlock({CLASS}, {key})"),
        )?;
        let pa2 = pid(&pa2)?;
        let released = flag(&released)?;

        let start = *first_a.get_or_insert(pa);
        if pa != start || pa2 != pa {
            let mut pids = vec![start];
            for p in [pa, pa2] {
                if pids.last() != Some(&p) {
                    pids.push(p);
                }
            }
            let pids: Vec<String> = pids.iter().map(i32::to_string).collect();
            seen.push(format!(
                "connection A's statements ran on backend pid {} (one session never changes backend)",
                pids.join(", then ")
            ));
        }
        if let Some(prev) = last_b
            && prev != pb
        {
            seen.push(format!(
                "connection B's statements ran on backends pid {prev}, then {pb}"
            ));
        }
        last_b = Some(pb);
        if pb == pa || pb == pa2 {
            seen.push(format!(
                "two open connections ran on the same backend pid {pb}"
            ));
        }
        if flag(&b_holds)? {
            seen.push(format!(
                "the session advisory lock connection A took was held by the backend connection B's statement ran on (pid {pb})"
            ));
        }
        if !released {
            seen.push(format!(
                "the session advisory lock connection A took on backend pid {pa} was no longer held by A's session on its next statement (pid {pa2})"
            ));
            leaked.push(key);
        }
        if !seen.is_empty() {
            break;
        }
    }
    // A lock left on a pooled backend: release it from whichever of the
    // two connections lands there (8 tries cover a rotation through 8 idle
    // server connections). A key nobody else uses, so one that stays only
    // lives as long as the pooler keeps that server connection.
    for key in leaked {
        let unlock = format!("SELECT pg_advisory_unlock({CLASS}, {key})");
        for attempt in 0..8 {
            let c = if attempt % 2 == 0 { &mut a } else { &mut b };
            if matches!(row(c, &unlock), Ok([t]) if t == "t") {
                break;
            }
        }
    }
    if seen.is_empty() {
        Ok(Finding::Sessions {
            a: first_a.unwrap_or_default(),
            b: last_b.unwrap_or_default(),
            rounds: ROUNDS,
        })
    } else {
        seen.dedup();
        Ok(Finding::Pooled(seen))
    }
}

/// The first row of a simple query, as `N` text columns (none NULL).
fn row<const N: usize>(c: &mut Client, sql: &str) -> Result<[String; N], String> {
    let messages = c
        .simple_query(sql)
        .map_err(|e| format!("`{sql}`: {}", pg_error(&e)))?;
    let r = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r),
            _ => None,
        })
        .ok_or_else(|| format!("`{sql}` returned no row"))?;
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = r
            .try_get(i)
            .map_err(|e| format!("`{sql}`: column {i}: {e}"))?
            .ok_or_else(|| format!("`{sql}`: column {i} is NULL"))?
            .to_string();
    }
    Ok(out)
}

/// The error with its causes: the crate's `Display` stops at the kind
/// ("db error", "error communicating with the server"); the server's own
/// words and the I/O error are its sources. None holds the connection
/// string.
fn pg_error(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn pid(s: &str) -> Result<i32, String> {
    s.parse()
        .map_err(|_| format!("pg_backend_pid() answered {s:?}, not a pid"))
}

fn flag(s: &str) -> Result<bool, String> {
    match s {
        "t" => Ok(true),
        "f" => Ok(false),
        other => Err(format!("expected a boolean, got {other:?}")),
    }
}

/// A lock key unlikely to repeat across runs: the clock's nanoseconds
/// mixed with this process's pid.
fn fresh_key() -> u32 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    (nanos ^ std::process::id().rotate_left(16)) & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    #[test]
    fn answers_are_parsed_strictly() {
        assert_eq!(super::flag("t"), Ok(true));
        assert_eq!(super::flag("f"), Ok(false));
        assert!(super::flag("true").is_err());
        assert_eq!(super::pid("4242"), Ok(4242));
        assert!(super::pid("").is_err());
    }
}
