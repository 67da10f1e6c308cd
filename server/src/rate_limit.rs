//! Sign-in rate limits: failed attempts per account and all attempts per
//! client address, each in a sliding window. In memory: a restart forgives,
//! which is acceptable for a brake on guessing.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    window: Duration,
    max_per_account: u32,
    max_per_client: u32,
    accounts: Mutex<HashMap<String, VecDeque<Instant>>>,
    clients: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(window: Duration, max_per_account: u32, max_per_client: u32) -> Self {
        RateLimiter {
            window,
            max_per_account,
            max_per_client,
            accounts: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt from `client`; `Err(seconds)` when the client or the
    /// account is over its limit (then nothing is checked or counted for the account).
    pub fn attempt(&self, client: &str, account: &str, now: Instant) -> Result<(), u64> {
        let client_wait = Self::hit(
            &self.clients,
            client,
            self.max_per_client,
            self.window,
            now,
            true,
        );
        let account_wait = Self::hit(
            &self.accounts,
            account,
            self.max_per_account,
            self.window,
            now,
            false,
        );
        match (client_wait, account_wait) {
            (Some(a), Some(b)) => Err(a.max(b)),
            (Some(a), None) | (None, Some(a)) => Err(a),
            (None, None) => Ok(()),
        }
    }

    /// Records a failed sign-in against the account.
    pub fn failed(&self, account: &str, now: Instant) {
        if let Ok(mut map) = self.accounts.lock() {
            map.entry(account.to_string()).or_default().push_back(now);
        }
    }

    /// A successful sign-in forgives the account's failures.
    pub fn succeeded(&self, account: &str) {
        if let Ok(mut map) = self.accounts.lock() {
            map.remove(account);
        }
    }

    fn hit(
        map: &Mutex<HashMap<String, VecDeque<Instant>>>,
        key: &str,
        max: u32,
        window: Duration,
        now: Instant,
        record: bool,
    ) -> Option<u64> {
        let Ok(mut map) = map.lock() else {
            return None;
        };
        // Keep memory bounded: drop keys whose attempts have all expired.
        if map.len() > 100_000 {
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let q = map.entry(key.to_string()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
            q.pop_front();
        }
        if q.len() >= max as usize {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = window.saturating_sub(now.duration_since(oldest));
            return Some(wait.as_secs().max(1));
        }
        if record {
            q.push_back(now);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_locks_after_failures_and_unlocks_after_the_window() {
        let l = RateLimiter::new(Duration::from_secs(60), 3, 100);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.attempt("ip", "anna", t0).is_ok());
            l.failed("anna", t0);
        }
        assert!(l.attempt("ip", "anna", t0).is_err());
        assert!(
            l.attempt("ip", "bob", t0).is_ok(),
            "other accounts are not affected"
        );
        assert!(
            l.attempt("ip", "anna", t0 + Duration::from_secs(61))
                .is_ok()
        );
    }

    #[test]
    fn client_limit_counts_all_attempts() {
        let l = RateLimiter::new(Duration::from_secs(60), 100, 2);
        let t0 = Instant::now();
        assert!(l.attempt("ip", "a", t0).is_ok());
        assert!(l.attempt("ip", "b", t0).is_ok());
        assert_eq!(l.attempt("ip", "c", t0), Err(60));
        assert!(l.attempt("other-ip", "c", t0).is_ok());
    }
}
