//! Per-stack results, the summary table, and JSON / JUnit reports.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    Ok,
    Skipped,
    Failed,
    Drift,
    /// Running when a SIGINT/SIGTERM stopped `tg ci`; its state handling
    /// finished, its apply did not.
    Interrupted,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Ok => "OK",
            Outcome::Skipped => "SKIPPED",
            Outcome::Failed => "FAILED",
            Outcome::Drift => "DRIFT",
            Outcome::Interrupted => "INTERRUPTED",
        })
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StackResult {
    pub stack: String,
    pub outcome: Outcome,
    pub attempts: u32,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// Why (skips, failures with the last 50 lines) or the last lines.
    pub detail: String,
    #[serde(skip)]
    pub output: String,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 10.0).round() / 10.0)
}

impl StackResult {
    pub fn skipped(stack: &str, why: String) -> StackResult {
        StackResult {
            stack: stack.to_string(),
            outcome: Outcome::Skipped,
            attempts: 0,
            duration: Duration::ZERO,
            detail: why,
            output: String::new(),
        }
    }

    /// The block printed when a stack finishes (its output kept together).
    pub fn block(&self) -> String {
        let retried = if self.attempts > 1 {
            format!(", {} attempts", self.attempts)
        } else {
            String::new()
        };
        format!(
            "{}\n[{}] {} ({:.1}s{retried})",
            self.detail,
            self.stack,
            self.outcome,
            self.duration.as_secs_f64()
        )
    }
}

pub fn print_summary(results: &[StackResult], mode: super::Mode) {
    let title = if mode == super::Mode::Apply {
        "apply"
    } else {
        "drift"
    };
    println!("\n=== tg ci {title} summary ===");
    println!(
        "{:<28} {:<11} {:>8} {:>9}",
        "STACK", "RESULT", "ATTEMPTS", "DURATION"
    );
    for r in results {
        println!(
            "{:<28} {:<11} {:>8} {:>8.1}s",
            r.stack,
            r.outcome.to_string(),
            r.attempts,
            r.duration.as_secs_f64()
        );
    }
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    let retried = results.iter().filter(|r| r.attempts > 1).count();
    let interrupted = match count(Outcome::Interrupted) {
        0 => String::new(),
        n => format!("  INTERRUPTED {n}"),
    };
    println!(
        "OK {}  SKIPPED {}  FAILED {}  DRIFT {}{interrupted}  retried {}",
        count(Outcome::Ok),
        count(Outcome::Skipped),
        count(Outcome::Failed),
        count(Outcome::Drift),
        retried
    );
}

pub fn json(results: &[StackResult]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({ "stacks": results })).unwrap_or_default()
}

fn xml_escape(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

pub fn junit(results: &[StackResult], mode: super::Mode) -> String {
    let name = if mode == super::Mode::Apply {
        "tg ci apply"
    } else {
        "tg ci drift"
    };
    let failures = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Drift))
        .count();
    let skipped = results
        .iter()
        .filter(|r| r.outcome == Outcome::Skipped)
        .count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\">\n",
        results.len()
    );
    for r in results {
        out.push_str(&format!(
            "  <testcase classname=\"stacks\" name=\"{}\" time=\"{:.1}\">",
            xml_escape(&r.stack),
            r.duration.as_secs_f64()
        ));
        match r.outcome {
            Outcome::Failed | Outcome::Drift => out.push_str(&format!(
                "<failure message=\"{}\">{}</failure>",
                r.outcome,
                xml_escape(&r.detail)
            )),
            Outcome::Interrupted => out.push_str(&format!(
                "<error message=\"{}\">{}</error>",
                r.outcome,
                xml_escape(&r.detail)
            )),
            Outcome::Skipped => {
                out.push_str(&format!("<skipped message=\"{}\"/>", xml_escape(&r.detail)))
            }
            Outcome::Ok => {}
        }
        out.push_str("</testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}
