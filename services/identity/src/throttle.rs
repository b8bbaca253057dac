//! Failed-login throttling, per login and per client address, in a sliding window. Unknown logins
//! count exactly like known ones, and a throttled login answers 429 even with the right password,
//! so neither the answer nor its timing tells whether a login exists or a guess was right.
//! State is per process: with several identity replicas the limits apply per replica.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::ThrottleConfig;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Login(String),
    Address(IpAddr),
}

#[derive(Debug, Clone)]
pub struct Throttle {
    config: ThrottleConfig,
    failures: Arc<Mutex<HashMap<Key, Vec<Instant>>>>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            failures: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn window(&self) -> Duration {
        Duration::from_secs(self.config.window_secs)
    }

    /// `Some(retry_after)` when `login` or `address` has used up its failures.
    pub fn blocked(&self, login: &str, address: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let checks = [
            (
                Key::Login(login.to_owned()),
                self.config.max_failures_per_login,
            ),
            (Key::Address(address), self.config.max_failures_per_address),
        ];
        checks
            .into_iter()
            .filter_map(|(key, limit)| {
                let times = failures.get_mut(&key)?;
                times.retain(|t| now.duration_since(*t) < self.window());
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                (times.len() >= limit).then(|| {
                    self.window()
                        .saturating_sub(now.duration_since(times[times.len() - limit]))
                })
            })
            .max()
    }

    pub fn record_failure(&self, login: &str, address: IpAddr) {
        let now = Instant::now();
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() > 100_000 {
            // Bound memory under a spray of random logins: forget windows that have passed.
            let window = self.window();
            failures.retain(|_, times| {
                times
                    .last()
                    .is_some_and(|t| now.duration_since(*t) < window)
            });
        }
        for key in [Key::Login(login.to_owned()), Key::Address(address)] {
            failures.entry(key).or_default().push(now);
        }
    }

    /// A successful login clears its login's failures (not the address's).
    pub fn record_success(&self, login: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&Key::Login(login.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_per_login_and_per_address() {
        let throttle = Throttle::new(ThrottleConfig {
            window_secs: 60,
            max_failures_per_login: 3,
            max_failures_per_address: 5,
        });
        let here: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..3 {
            assert!(throttle.blocked("alice", here).is_none());
            throttle.record_failure("alice", here);
        }
        let retry = throttle.blocked("alice", here).expect("alice is throttled");
        assert!(retry <= Duration::from_secs(60) && retry > Duration::from_secs(50));
        assert!(throttle.blocked("bob", here).is_none());
        throttle.record_failure("bob", here);
        throttle.record_failure("carol", here);
        assert!(
            throttle.blocked("dave", here).is_some(),
            "the address is throttled too"
        );
    }
}
