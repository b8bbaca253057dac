//! Failed-login throttling with growing delays. Three counters, each allowing some failures and
//! then making the next attempt wait, twice as long after every further failure, up to a ceiling:
//!
//! * one login at one address: a guesser slows down on the account it guesses, without touching
//!   that account at other addresses or other accounts at that address;
//! * one address, across logins: password spraying from one place;
//! * one login, across addresses: guessing one account from many places.
//!
//! The last two do not apply to a login at an address it has logged in from successfully
//! before: a noisy address (a shared proxy, a NAT) does not lock out its regular users, and
//! failures from elsewhere do not lock an administrator out of the address it works from. While
//! a counter makes attempts wait they are answered 429 without checking the password and are
//! not counted, so neither the answer nor its timing tells whether a guess was right. Unknown
//! logins count exactly like known ones. State is per process: with several identity replicas
//! the limits apply per replica.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::ThrottleConfig;

/// Above this many entries, forgotten ones are swept (a spray of random logins must not grow
/// memory without bound).
const SWEEP_ABOVE: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, IpAddr),
    Address(IpAddr),
    Login(String),
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    failures: u32,
    last: Instant,
}

#[derive(Debug, Default)]
struct State {
    counters: HashMap<Key, Counter>,
    /// Login and address pairs that logged in successfully, and when they last did.
    known: HashMap<(String, IpAddr), Instant>,
}

#[derive(Debug, Clone)]
pub struct Throttle {
    config: ThrottleConfig,
    state: Arc<Mutex<State>>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            state: Arc::default(),
        }
    }

    /// `Some(retry_after)` when an attempt of `login` from `address` must wait.
    pub fn blocked(&self, login: &str, address: IpAddr) -> Option<Duration> {
        self.blocked_at(login, address, Instant::now())
    }

    pub fn record_failure(&self, login: &str, address: IpAddr) {
        self.record_failure_at(login, address, Instant::now());
    }

    /// A successful login clears its own counter at this address and makes the pair known;
    /// the address's and the login's counters stay (others may still be guessing).
    pub fn record_success(&self, login: &str, address: IpAddr) {
        self.record_success_at(login, address, Instant::now());
    }

    fn blocked_at(&self, login: &str, address: IpAddr, now: Instant) -> Option<Duration> {
        let state = self.lock();
        let mut checks = vec![(
            Key::Pair(login.to_owned(), address),
            self.config.free_failures_per_login_and_address,
        )];
        if !self.is_known(&state, login, address, now) {
            checks.push((Key::Address(address), self.config.free_failures_per_address));
            checks.push((
                Key::Login(login.to_owned()),
                self.config.free_failures_per_login,
            ));
        }
        checks
            .into_iter()
            .filter_map(|(key, free)| {
                let counter = state.counters.get(&key)?;
                let until = counter.last + self.delay(counter, free, now)?;
                (until > now).then(|| until - now)
            })
            .max()
    }

    fn record_failure_at(&self, login: &str, address: IpAddr, now: Instant) {
        let mut state = self.lock();
        if state.counters.len() > SWEEP_ABOVE {
            let forget = self.forget_after();
            state
                .counters
                .retain(|_, c| now.saturating_duration_since(c.last) < forget);
        }
        let keys = [
            Key::Pair(login.to_owned(), address),
            Key::Address(address),
            Key::Login(login.to_owned()),
        ];
        for key in keys {
            let forgotten =
                |c: &Counter| now.saturating_duration_since(c.last) >= self.forget_after();
            let counter = state.counters.entry(key).or_insert(Counter {
                failures: 0,
                last: now,
            });
            if forgotten(counter) {
                counter.failures = 0;
            }
            counter.failures = counter.failures.saturating_add(1);
            counter.last = now;
        }
    }

    fn record_success_at(&self, login: &str, address: IpAddr, now: Instant) {
        let mut state = self.lock();
        state.counters.remove(&Key::Pair(login.to_owned(), address));
        if state.known.len() > SWEEP_ABOVE {
            let known_for = Duration::from_secs(self.config.known_address_secs);
            state
                .known
                .retain(|_, at| now.saturating_duration_since(*at) < known_for);
        }
        state.known.insert((login.to_owned(), address), now);
    }

    fn is_known(&self, state: &State, login: &str, address: IpAddr, now: Instant) -> bool {
        let known_for = Duration::from_secs(self.config.known_address_secs);
        state
            .known
            .get(&(login.to_owned(), address))
            .is_some_and(|at| now.saturating_duration_since(*at) < known_for)
    }

    /// How long after its last failure `counter` makes attempts wait, if at all.
    fn delay(&self, counter: &Counter, free: u32, now: Instant) -> Option<Duration> {
        if now.saturating_duration_since(counter.last) >= self.forget_after() {
            return None;
        }
        let over = counter.failures.checked_sub(free)?;
        let first = Duration::from_secs(self.config.first_delay_secs);
        let ceiling = Duration::from_secs(self.config.max_delay_secs);
        let factor = 1u32.checked_shl(over.min(31)).unwrap_or(u32::MAX);
        Some(first.saturating_mul(factor).min(ceiling))
    }

    fn forget_after(&self) -> Duration {
        Duration::from_secs(self.config.forget_after_secs)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(ThrottleConfig {
            free_failures_per_login_and_address: 3,
            free_failures_per_address: 10,
            free_failures_per_login: 6,
            first_delay_secs: 1,
            max_delay_secs: 8,
            forget_after_secs: 600,
            known_address_secs: 3600,
            trusted_proxies: vec![],
        })
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn delays_double_with_every_failure_up_to_the_ceiling_and_are_forgotten() {
        let (t, here, start) = (throttle(), IpAddr::from([10, 0, 0, 1]), Instant::now());
        let mut now = start;
        for _ in 0..3 {
            assert_eq!(t.blocked_at("alice", here, now), None, "free failures");
            t.record_failure_at("alice", here, now);
        }
        let mut waits = Vec::new();
        for _ in 0..5 {
            let wait = t.blocked_at("alice", here, now).expect("waits");
            waits.push(wait.as_secs());
            now += wait;
            assert_eq!(
                t.blocked_at("alice", here, now),
                None,
                "free again after the wait"
            );
            t.record_failure_at("alice", here, now);
        }
        assert_eq!(waits, [1, 2, 4, 8, 8]);
        assert_eq!(
            t.blocked_at("alice", here, now + secs(600)),
            None,
            "forgotten"
        );
        t.record_failure_at("alice", here, now + secs(600));
        assert_eq!(
            t.blocked_at("alice", here, now + secs(600)),
            None,
            "counting anew"
        );
    }

    #[test]
    fn one_login_at_one_address_does_not_hold_up_others() {
        let (t, here, there, now) = (
            throttle(),
            IpAddr::from([10, 0, 0, 1]),
            IpAddr::from([10, 0, 0, 2]),
            Instant::now(),
        );
        for _ in 0..4 {
            t.record_failure_at("alice", here, now);
        }
        assert!(t.blocked_at("alice", here, now).is_some());
        assert_eq!(
            t.blocked_at("alice", there, now),
            None,
            "same login elsewhere"
        );
        assert_eq!(t.blocked_at("bob", here, now), None, "other login here");
    }

    #[test]
    fn address_and_login_counters_spare_known_pairs() {
        let (t, noisy, now) = (throttle(), IpAddr::from([10, 0, 0, 9]), Instant::now());
        t.record_success_at("regular", noisy, now);
        for n in 0..11 {
            t.record_failure_at(&format!("guess{n}"), noisy, now);
        }
        assert!(
            t.blocked_at("stranger", noisy, now).is_some(),
            "spraying slows down"
        );
        assert_eq!(
            t.blocked_at("regular", noisy, now),
            None,
            "a known pair is spared"
        );

        let home = IpAddr::from([10, 0, 1, 1]);
        t.record_success_at("admin", home, now);
        for n in 0..7u8 {
            t.record_failure_at("admin", IpAddr::from([192, 0, 2, n]), now);
        }
        assert!(t
            .blocked_at("admin", IpAddr::from([192, 0, 2, 99]), now)
            .is_some());
        assert_eq!(
            t.blocked_at("admin", home, now),
            None,
            "the admin's own address"
        );
    }

    #[test]
    fn success_clears_the_pair_only() {
        let (t, here, now) = (throttle(), IpAddr::from([10, 0, 0, 1]), Instant::now());
        for _ in 0..3 {
            t.record_failure_at("alice", here, now);
        }
        t.record_success_at("alice", here, now);
        t.record_failure_at("alice", here, now);
        assert_eq!(t.blocked_at("alice", here, now), None, "counting from zero");
    }
}
