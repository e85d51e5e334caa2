//! Benchmark driver for `bench/goldmane.sh`: times the provider's allowlist
//! and matrix reads against the same SQL run by `psql`, interleaved so both
//! see the same machine state. Connection settings come from `PG*` env.
//!
//! Each provider read is a cold one, as in a `terraform plan`: a fresh
//! connection (password auth), the READ ONLY transaction with its statement
//! timeout, the query, and the conversion to result rows. Each psql run is
//! one process that connects (same auth), prepares the same SQL text and
//! executes it with the same parameters.
//!
//! A second, warm comparison leaves connection set-up out on both sides: the
//! provider's read on an already open (pooled) connection against the time
//! psql's `\timing` reports for the same EXECUTE inside one session. It shows
//! the provider's own per-query overhead (READ ONLY transaction, statement
//! timeout, row conversion) and is reported without a target.
//!
//! Usage: goldmane_bench <iterations> <namespace>

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use goldmane_edges::db::{ALLOWLIST_SQL, Db, MATRIX_SQL};
use goldmane_edges::settings::{self, Input};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn psql(prepare: &str, execute: &str) -> Duration {
    let start = Instant::now();
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            prepare,
            "-c",
            execute,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .expect("run psql");
    let elapsed = start.elapsed();
    assert!(out.success(), "psql failed");
    elapsed
}

/// Runs `execute` `n` times in one psql session and returns the `\timing` figures.
fn psql_timed(prepare: &str, execute: &str, n: usize) -> Vec<Duration> {
    let mut script = format!("\\timing on\n{prepare};\n");
    for _ in 0..n {
        script.push_str(execute);
        script.push_str(";\n");
    }
    let out = Command::new("psql")
        .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("psql stdin")
                .write_all(script.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run psql session");
    assert!(out.status.success(), "psql session failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let times: Vec<Duration> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Time: "))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|ms| ms.parse::<f64>().ok())
        .map(|ms| Duration::from_secs_f64(ms / 1e3))
        .collect();
    // The first timing line is the PREPARE.
    times.into_iter().skip(1).collect()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("usage: goldmane_bench <iterations> <namespace>");
    let ns = args
        .next()
        .expect("usage: goldmane_bench <iterations> <namespace>");
    let settings = settings::resolve(
        &Input {
            sslmode: Some("disable".into()),
            ..Input::default()
        },
        &|k| std::env::var(k).ok(),
    )
    .expect("connection settings from PG* env");

    let allow_prepare = format!("PREPARE q(text, text, float8, text[]) AS {ALLOWLIST_SQL}");
    let allow_exec = format!("EXECUTE q('{ns}', 'allow', NULL, '{{}}')");
    let matrix_prepare = format!("PREPARE q(text, float8, text[]) AS {MATRIX_SQL}");
    let matrix_exec = "EXECUTE q('allow', NULL, '{}')".to_string();

    let (mut ours_a, mut base_a, mut ours_m, mut base_m) = (vec![], vec![], vec![], vec![]);
    let mut sizes = (0, 0);
    for i in 0..n {
        let t = Instant::now();
        let rows = Db::new(settings.clone())
            .allowlist(&ns, "allow", None, &[])
            .expect("allowlist read");
        ours_a.push(t.elapsed());
        sizes.0 = rows.len();
        base_a.push(psql(&allow_prepare, &allow_exec));

        let t = Instant::now();
        let m = Db::new(settings.clone())
            .matrix("allow", None, &[])
            .expect("matrix read");
        ours_m.push(t.elapsed());
        sizes.1 = m.len();
        base_m.push(psql(&matrix_prepare, &matrix_exec));
        eprintln!("  iteration {}/{n} done", i + 1);
    }
    let report = |what: &str, ours: Vec<Duration>, base: Vec<Duration>| {
        let (o, b) = (median(ours), median(base));
        let ratio = o.as_secs_f64() / b.as_secs_f64();
        println!(
            "{what}: provider read {:.2} ms, psql {:.2} ms (medians of {n}), ratio {ratio:.2}x",
            o.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3
        );
        println!(
            "BENCH|goldmane|{what} read, 1M edge rows (ms)|{:.2}|{:.2}|{ratio:.2}|<= 1.2x",
            o.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3
        );
    };
    // Warm: one open connection on our side, one psql session on the other.
    let warm = Db::new(settings.clone());
    warm.allowlist(&ns, "allow", None, &[])
        .expect("allowlist read");
    let (mut warm_a, mut warm_m) = (vec![], vec![]);
    for _ in 0..n {
        let t = Instant::now();
        warm.allowlist(&ns, "allow", None, &[])
            .expect("allowlist read");
        warm_a.push(t.elapsed());
        let t = Instant::now();
        warm.matrix("allow", None, &[]).expect("matrix read");
        warm_m.push(t.elapsed());
    }
    let timed_a = psql_timed(&allow_prepare, &allow_exec, n);
    let timed_m = psql_timed(&matrix_prepare, &matrix_exec, n);
    let warm_report = |what: &str, ours: Vec<Duration>, base: Vec<Duration>| {
        let (o, b) = (median(ours), median(base));
        let ratio = o.as_secs_f64() / b.as_secs_f64();
        println!(
            "{what} (warm, no connection set-up): provider {:.2} ms, psql \\timing {:.2} ms, ratio {ratio:.2}x",
            o.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3
        );
        println!(
            "BENCH|goldmane|{what} read on an open connection, 1M rows (ms)|{:.2}|{:.2}|{ratio:.2}|-",
            o.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3
        );
    };
    println!(
        "allowlist of {ns}: {} destinations; matrix: {} sources",
        sizes.0, sizes.1
    );
    report("allowlist", ours_a, base_a);
    report("matrix", ours_m, base_m);
    warm_report("allowlist", warm_a, timed_a);
    warm_report("matrix", warm_m, timed_m);
}
