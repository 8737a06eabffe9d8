//! Abuse limits, on by default and set in [`Settings`]: a token bucket on
//! each connection's sends, a cap on channels created per identity per
//! minute, on names claimed per IP address per hour, and on open WebSocket
//! connections per IP address.
//!
//! Over a limit, the request is refused with `rate_limited` (or
//! `too_many_connections`); nothing else changes and no connection is
//! closed for it.

use super::settings::Settings;
use crate::model::{ErrorCode, IdentityId, Refusal};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

/// A connection's budget of sends.
pub(crate) struct SendBudget(Option<DefaultDirectRateLimiter>);

impl SendBudget {
    /// Takes one send from the budget, or says how long to wait.
    pub(crate) fn take(&self) -> Result<(), Refusal> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter.check().map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Refusal::new(
                ErrorCode::RateLimited,
                format!(
                    "You are sending messages too fast; wait {:.1} s and try again.",
                    wait.as_secs_f64().max(0.1)
                ),
            )
            .retry_after(wait)
        })
    }
}

/// The server's limits.
pub(crate) struct Limits {
    send_quota: Option<Quota>,
    creations: Option<DefaultKeyedRateLimiter<IdentityId>>,
    /// Edits, reactions and deletions by server function, per identity
    /// (on a socket, the connection's send budget counts them).
    writes: Option<DefaultKeyedRateLimiter<IdentityId>>,
    claims: Option<DefaultKeyedRateLimiter<IpAddr>>,
    connections: Mutex<HashMap<IpAddr, usize>>,
    max_connections_per_ip: usize,
}

/// Takes one from `key`'s budget, or refuses with `refusal(wait)`. Keys
/// whose budget is full again are forgotten, so the map stays as small as
/// the set of recent users.
fn take_keyed<K: Clone + Eq + std::hash::Hash>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
    refusal: impl FnOnce(std::time::Duration) -> Refusal,
) -> Result<(), Refusal> {
    let result = limiter.check_key(key);
    limiter.retain_recent();
    result.map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        refusal(wait).retry_after(wait)
    })
}

/// An open connection's place in the per-address count; dropping it frees
/// the place.
pub(crate) struct Admission {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut connections = self
            .limits
            .connections
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = connections.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                connections.remove(&self.ip);
            }
        }
    }
}

impl Limits {
    pub(crate) fn new(settings: &Settings) -> Self {
        let send_quota = NonZeroU32::new(settings.send_per_second).map(|rate| {
            let burst = NonZeroU32::new(settings.send_burst).unwrap_or(rate);
            Quota::per_second(rate).allow_burst(burst)
        });
        let creations = NonZeroU32::new(settings.channels_per_minute)
            .map(|n| RateLimiter::keyed(Quota::per_minute(n)));
        let claims = NonZeroU32::new(settings.claims_per_hour)
            .map(|n| RateLimiter::keyed(Quota::per_hour(n)));
        Limits {
            send_quota,
            writes: send_quota.map(RateLimiter::keyed),
            creations,
            claims,
            connections: Mutex::new(HashMap::new()),
            max_connections_per_ip: settings.connections_per_ip,
        }
    }

    /// A fresh send budget for a new connection.
    pub(crate) fn send_budget(&self) -> SendBudget {
        SendBudget(self.send_quota.map(RateLimiter::direct))
    }

    /// Counts one name claimed from `ip` (a new identity or a rename).
    pub(crate) fn take_claim(&self, ip: Option<IpAddr>) -> Result<(), Refusal> {
        let (Some(limiter), Some(ip)) = (&self.claims, ip) else {
            return Ok(());
        };
        take_keyed(limiter, &ip, |wait| {
            Refusal::new(
                ErrorCode::TooManyClaims,
                format!(
                    "Too many names were claimed from your address lately; try again in {} min.",
                    wait.as_secs().div_ceil(60).max(1)
                ),
            )
        })
    }

    /// Counts one edit, reaction or deletion by identity `by` through a
    /// server function: the same pace as sends on a connection.
    pub(crate) fn take_write(&self, by: IdentityId) -> Result<(), Refusal> {
        let Some(limiter) = &self.writes else {
            return Ok(());
        };
        take_keyed(limiter, &by, |wait| {
            Refusal::new(
                ErrorCode::RateLimited,
                format!(
                    "You are changing messages too fast; try again in {} ms.",
                    wait.as_millis().max(1)
                ),
            )
        })
    }

    /// Counts one channel creation by identity `by`.
    pub(crate) fn take_channel_creation(&self, by: IdentityId) -> Result<(), Refusal> {
        let Some(limiter) = &self.creations else {
            return Ok(());
        };
        take_keyed(limiter, &by, |wait| {
            Refusal::new(
                ErrorCode::RateLimited,
                format!(
                    "You have created too many channels in the last minute; try again in {} s.",
                    wait.as_secs().max(1)
                ),
            )
        })
    }

    /// Admits one more connection from `ip`, unless it has too many open.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admission, Refusal> {
        let mut connections = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        let count = connections.entry(ip).or_insert(0);
        if self.max_connections_per_ip > 0 && *count >= self.max_connections_per_ip {
            return Err(Refusal::new(
                ErrorCode::TooManyConnections,
                format!(
                    "Your address already has {} connections open, the most allowed; close some tabs and reload.",
                    self.max_connections_per_ip
                ),
            ));
        }
        *count += 1;
        Ok(Admission {
            limits: Arc::clone(self),
            ip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(adjust: impl FnOnce(&mut Settings)) -> Settings {
        let mut settings = Settings::default();
        adjust(&mut settings);
        settings
    }

    #[test]
    fn sends_beyond_the_burst_are_refused() {
        let limits = Limits::new(&settings(|s| {
            s.send_burst = 3;
            s.send_per_second = 1;
        }));
        let budget = limits.send_budget();
        for _ in 0..3 {
            budget.take().unwrap();
        }
        let refusal = budget.take().unwrap_err();
        assert_eq!(refusal.code, ErrorCode::RateLimited);
        assert!(refusal.message.contains("too fast"), "{}", refusal.message);
        // Each connection has its own bucket.
        limits.send_budget().take().unwrap();
    }

    #[test]
    fn a_rate_of_zero_turns_the_send_limit_off() {
        let limits = Limits::new(&settings(|s| s.send_per_second = 0));
        let budget = limits.send_budget();
        for _ in 0..1000 {
            budget.take().unwrap();
        }
    }

    #[test]
    fn channel_creations_are_capped_per_identity() {
        let limits = Limits::new(&settings(|s| s.channels_per_minute = 2));
        let (ada, bob) = (1, 2);
        limits.take_channel_creation(ada).unwrap();
        limits.take_channel_creation(ada).unwrap();
        assert_eq!(
            limits.take_channel_creation(ada).unwrap_err().code,
            ErrorCode::RateLimited
        );
        limits.take_channel_creation(bob).unwrap();
    }

    #[test]
    fn name_claims_are_capped_per_address() {
        let limits = Limits::new(&settings(|s| s.claims_per_hour = 3));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            limits.take_claim(Some(ip)).unwrap();
        }
        let refusal = limits.take_claim(Some(ip)).unwrap_err();
        assert_eq!(refusal.code, ErrorCode::TooManyClaims);
        assert!(refusal.retry_after_ms.unwrap() > 0);
        limits.take_claim(Some(other)).unwrap();
    }

    #[test]
    fn connections_per_address_are_capped_and_freed_on_drop() {
        let limits = Arc::new(Limits::new(&settings(|s| s.connections_per_ip = 2)));
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let first = limits.admit(ip).unwrap();
        let _second = limits.admit(ip).unwrap();
        assert_eq!(
            limits.admit(ip).err().unwrap().code,
            ErrorCode::TooManyConnections
        );
        let _elsewhere = limits.admit(other).unwrap();
        drop(first);
        assert!(limits.admit(ip).is_ok());
    }
}
