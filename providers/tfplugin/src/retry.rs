//! Transient-only retries with exponential backoff, for providers' API
//! clients. The caller decides what is transient (a 5xx, a connection that
//! never opened); everything else is returned at once, so a real error
//! (401, 403, 404, a validation error) is never retried or masked.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Retries after the first attempt (0 = one attempt only).
    pub retries: u32,
    /// Sleep before the first retry; doubled for each further one (capped at 64×).
    pub base: Duration,
}

impl Backoff {
    /// Calls `attempt(n)` (n = 1, 2, …) until `transient` says its result is
    /// final or the retries are used up; returns the last result and the
    /// number of attempts made.
    pub fn run<T>(
        &self,
        mut attempt: impl FnMut(u32) -> T,
        transient: impl Fn(&T) -> bool,
    ) -> (T, u32) {
        let mut n = 1;
        loop {
            let out = attempt(n);
            if n > self.retries || !transient(&out) {
                return (out, n);
            }
            std::thread::sleep(self.base * (1u32 << (n - 1).min(6)));
            n += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_transient_results_and_counts_attempts() {
        let b = Backoff {
            retries: 3,
            base: Duration::ZERO,
        };
        let (out, n) = b.run(|n| if n < 3 { 503 } else { 200 }, |s| *s >= 500);
        assert_eq!((out, n), (200, 3));
        let (out, n) = b.run(|_| 403, |s| *s >= 500);
        assert_eq!((out, n), (403, 1), "a permanent error is returned at once");
        let (out, n) = b.run(|_| 500, |s| *s >= 500);
        assert_eq!((out, n), (500, 4), "gives up after the retries");
    }
}
