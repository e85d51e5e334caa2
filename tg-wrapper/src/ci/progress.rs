//! How far along a `tg ci apply|drift` run is: after each stack ends,
//!
//! ```text
//! [done/total] running: a, b | left: n | ETA ~m
//! ```
//!
//! (`left`: stacks not started yet). The ETA adds, for every stack not
//! finished, its expected duration (less the time it has already run):
//! that stack's duration in the previous run's JSON report when one is
//! given (`--eta-from`), else the mean of the stacks this run has already
//! timed, else the previous report's mean; the sum is shared out over the
//! `--jobs` workers, but never below the longest single stack still to
//! come. Without any duration yet it says `ETA unknown`.
//!
//! In CI logs (stdout not a terminal) these are plain lines; on a terminal
//! one live line is redrawn in place, and every other line tg prints goes
//! through [`Progress::say`], which clears it first. `TG_PROGRESS=line|
//! live|off` overrides the choice.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::report::{Outcome, StackResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// One plain line per finished stack (CI logs).
    Line,
    /// One line redrawn in place (a terminal).
    Live,
    Off,
}

impl Style {
    /// `TG_PROGRESS`, else live on a terminal and lines elsewhere.
    pub fn from_env() -> Style {
        match std::env::var("TG_PROGRESS").as_deref() {
            Ok("line") => Style::Line,
            Ok("live") => Style::Live,
            Ok("off") => Style::Off,
            _ if std::io::stdout().is_terminal() => Style::Live,
            _ => Style::Line,
        }
    }
}

struct Inner {
    done: usize,
    /// Finished (ran or skipped).
    ended: std::collections::BTreeSet<String>,
    /// Started and not finished, in start order.
    running: Vec<(String, Instant)>,
    /// This run's measured durations (stacks that ran).
    timed: Vec<Duration>,
    /// A live line is on screen (to be cleared before other output).
    drawn: bool,
}

pub struct Progress {
    style: Style,
    jobs: usize,
    /// Every stack of the run, in order.
    stacks: Vec<String>,
    previous: BTreeMap<String, Duration>,
    inner: Mutex<Inner>,
}

/// Per-stack durations of a previous `--json-report`: of the stacks that
/// ran to an end (OK, DRIFT, FAILED).
pub fn previous_durations(path: &Path) -> Result<BTreeMap<String, Duration>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let stacks = v.get("stacks").and_then(|s| s.as_array()).ok_or_else(|| {
        format!(
            "{}: no \"stacks\" list (not a tg ci --json-report)",
            path.display()
        )
    })?;
    let mut out = BTreeMap::new();
    for s in stacks {
        let (Some(name), Some(secs), Some(outcome)) = (
            s.get("stack").and_then(|x| x.as_str()),
            s.get("duration").and_then(|x| x.as_f64()),
            s.get("outcome").and_then(|x| x.as_str()),
        ) else {
            continue;
        };
        // A skipped stack took no time, an interrupted one stopped early.
        let whole = !matches!(outcome, "SKIPPED" | "INTERRUPTED");
        if whole && secs.is_finite() && secs > 0.0 && secs < 1e7 {
            out.insert(name.to_string(), Duration::from_secs_f64(secs));
        }
    }
    Ok(out)
}

/// `~45s`, `~3m`, `~1h05m`: rounded up (an ETA that runs out early is
/// the disappointing kind).
pub fn short(d: Duration) -> String {
    let s = d.as_secs_f64().ceil() as u64;
    if s < 60 {
        format!("~{s}s")
    } else if s < 3600 {
        format!("~{}m", s.div_ceil(60))
    } else {
        let m = s.div_ceil(60);
        format!("~{}h{:02}m", m / 60, m % 60)
    }
}

fn mean(d: &[Duration]) -> Option<Duration> {
    (!d.is_empty()).then(|| d.iter().sum::<Duration>() / d.len() as u32)
}

impl Progress {
    pub fn new(
        style: Style,
        jobs: usize,
        stacks: Vec<String>,
        previous: BTreeMap<String, Duration>,
    ) -> Progress {
        Progress {
            style,
            jobs: jobs.max(1),
            stacks,
            previous,
            inner: Mutex::new(Inner {
                done: 0,
                ended: Default::default(),
                running: Vec::new(),
                timed: Vec::new(),
                drawn: false,
            }),
        }
    }

    /// Prints a line of the run's own output (clearing a live line first).
    pub fn say(&self, text: &str) {
        let mut st = self.inner.lock().expect("progress lock");
        self.clear(&mut st);
        println!("{text}");
        self.redraw(&mut st);
    }

    /// The same on stderr (retry notices).
    pub fn say_err(&self, text: &str) {
        let mut st = self.inner.lock().expect("progress lock");
        self.clear(&mut st);
        let _ = std::io::stdout().flush();
        eprintln!("{text}");
        self.redraw(&mut st);
    }

    pub fn started(&self, stack: &str) {
        let mut st = self.inner.lock().expect("progress lock");
        st.running.push((stack.to_string(), Instant::now()));
        if self.style == Style::Live {
            self.clear(&mut st);
            self.redraw(&mut st);
        }
    }

    /// A stack ended (ran, or was skipped): one progress line.
    pub fn finished(&self, r: &StackResult) {
        let mut st = self.inner.lock().expect("progress lock");
        st.running.retain(|(s, _)| *s != r.stack);
        st.ended.insert(r.stack.clone());
        st.done += 1;
        if r.outcome != Outcome::Skipped && r.attempts > 0 {
            st.timed.push(r.duration);
        }
        match self.style {
            Style::Off => {}
            Style::Line => println!("{}", self.line(&st)),
            Style::Live => {
                self.clear(&mut st);
                self.redraw(&mut st);
            }
        }
    }

    /// Ends a live line with a newline (before the summary).
    pub fn finish(&self) {
        let mut st = self.inner.lock().expect("progress lock");
        if st.drawn {
            println!();
            st.drawn = false;
        }
    }

    fn clear(&self, st: &mut Inner) {
        if st.drawn {
            print!("\r\x1b[2K");
            st.drawn = false;
        }
    }

    fn redraw(&self, st: &mut Inner) {
        if self.style == Style::Live {
            print!("{}", self.line(st));
            let _ = std::io::stdout().flush();
            st.drawn = true;
        }
    }

    /// Expected duration of one stack not run yet.
    fn expected(&self, stack: &str, st: &Inner) -> Option<Duration> {
        self.previous
            .get(stack)
            .copied()
            .or_else(|| mean(&st.timed))
            .or_else(|| mean(&self.previous.values().copied().collect::<Vec<_>>()))
    }

    fn line(&self, st: &Inner) -> String {
        let total = self.stacks.len();
        let running: Vec<&str> = st.running.iter().map(|(s, _)| s.as_str()).collect();
        let waiting: Vec<&String> = self
            .stacks
            .iter()
            .filter(|s| !st.ended.contains(*s) && !running.contains(&s.as_str()))
            .collect();
        let left = waiting.len();
        let remaining: Option<Vec<Duration>> = st
            .running
            .iter()
            .map(|(s, since)| {
                self.expected(s, st)
                    .map(|e| e.saturating_sub(since.elapsed()))
            })
            .chain(waiting.iter().map(|s| self.expected(s, st)))
            .collect();
        let eta = remaining.map(|r| {
            let sum: Duration = r.iter().sum();
            let longest = r.iter().max().copied().unwrap_or_default();
            (sum / self.jobs as u32).max(longest)
        });
        self.format(st.done, total, &running, left, eta)
    }

    fn format(
        &self,
        done: usize,
        total: usize,
        running: &[&str],
        left: usize,
        eta: Option<Duration>,
    ) -> String {
        let running = if running.is_empty() {
            "none".to_string()
        } else {
            running.join(", ")
        };
        let eta = eta
            .map(|d| format!("ETA {}", short(d)))
            .unwrap_or_else(|| "ETA unknown".into());
        format!("[{done}/{total}] running: {running} | left: {left} | {eta}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_durations() {
        assert_eq!(short(Duration::from_millis(200)), "~1s");
        assert_eq!(short(Duration::from_secs(59)), "~59s");
        assert_eq!(short(Duration::from_secs(61)), "~2m");
        assert_eq!(short(Duration::from_secs(3600 + 5 * 60)), "~1h05m");
    }

    #[test]
    fn eta_uses_the_previous_report_then_this_runs_mean() {
        let prev: BTreeMap<String, Duration> = [("b".to_string(), Duration::from_secs(600))].into();
        let p = Progress::new(
            Style::Off,
            1,
            vec!["a".into(), "b".into(), "c".into()],
            prev,
        );
        let st = Inner {
            done: 1,
            ended: ["a".to_string()].into(),
            running: vec![],
            timed: vec![Duration::from_secs(60)],
            drawn: false,
        };
        // b: 600 s from the report; c: this run's mean, 60 s; mean 330 s
        // each over the two not started, one job: 660 s.
        assert_eq!(p.line(&st), "[1/3] running: none | left: 2 | ETA ~11m");
        let p = Progress::new(Style::Off, 2, vec!["a".into(), "b".into()], BTreeMap::new());
        let st = Inner {
            done: 0,
            ended: Default::default(),
            running: vec![("a".into(), Instant::now())],
            timed: vec![],
            drawn: false,
        };
        assert_eq!(p.line(&st), "[0/2] running: a | left: 1 | ETA unknown");
    }
}
