//! Rate limits, on `governor`'s keyed limiters (GCRA). Every request counts against its verified
//! principal, or, without one, against the client's address; a request whose credentials do not
//! verify counts against the address, so invented tokens buy no fresh buckets. Sign-in,
//! registration and password-reset requests also count against stricter limits per address and
//! per account. The client's address is the peer's, or, when the peer is one of
//! `http.trusted_proxies`, the nearest untrusted hop in its `X-Forwarded-For`.

use crate::infra::config::HttpConfig;
use crate::infra::error::Error;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Whom a request counts against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Client {
    /// A caller whose credentials verified: its role and subject.
    Principal(String),
    /// Anyone else, by address.
    Address(IpAddr),
}

/// The cloud's limiters and whom it trusts to name a client's address.
pub struct Limits {
    requests: Keyed<Client>,
    sign_in_address: Keyed<IpAddr>,
    sign_in_account: Keyed<String>,
    trusted_proxies: Vec<IpNet>,
}

/// One keyed limiter that forgets idle keys now and then, so invented keys cannot fill memory.
struct Keyed<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    checks: AtomicU64,
}

/// Checks between two sweeps of idle keys.
const SWEEP_EVERY: u64 = 10_000;

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(per_minute: u32, burst: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)),
            checks: 0.into(),
        }
    }

    /// Takes one cell for `key`; `Err(seconds)` until one is free.
    fn check(&self, key: &K) -> Result<(), u64> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

fn refused(what: &str, secs: u64) -> Error {
    Error::RateLimited { message: format!("{what}; try again in {secs} s"), retry_after_secs: secs.max(1) }
}

impl Limits {
    /// The limits `http` configures; an unparsable trusted proxy is refused.
    pub fn new(http: &HttpConfig) -> Result<Self, String> {
        let trusted_proxies = http
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<IpNet>()
                    .or_else(|_| p.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("http.trusted_proxies: {p:?} is not an address or a CIDR block"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            requests: Keyed::new(http.rate_per_minute, http.rate_burst),
            sign_in_address: Keyed::new(http.sign_in_per_address_per_minute, http.sign_in_per_address_per_minute),
            sign_in_account: Keyed::new(http.sign_in_per_account_per_minute, http.sign_in_per_account_per_minute),
            trusted_proxies,
        })
    }

    /// The client's address: `peer`, unless `peer` is a trusted proxy, in which case the nearest
    /// address in `X-Forwarded-For` that is not a trusted proxy (hops are appended on the right, so
    /// only those a trusted proxy added are believed).
    pub fn client_address(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        if !self.trusted(peer) {
            return peer;
        }
        let hops = forwarded_for.iter().flat_map(|h| h.split(',')).map(str::trim).collect::<Vec<_>>();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Ok(addr) = hop.parse::<IpAddr>() else { break };
            client = addr;
            if !self.trusted(addr) {
                break;
            }
        }
        client
    }

    fn trusted(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        self.trusted_proxies.iter().any(|net| net.contains(&addr))
    }

    /// Counts one request against `client`.
    pub fn request(&self, client: &Client) -> Result<(), Error> {
        self.requests.check(client).map_err(|s| refused("too many requests", s))
    }

    /// Counts one sign-in, registration or reset attempt from `address` for `account` (an email,
    /// compared without case).
    pub fn sign_in(&self, address: IpAddr, account: &str) -> Result<(), Error> {
        self.sign_in_address.check(&address).map_err(|s| refused("too many sign-in attempts from this address", s))?;
        self.sign_in_account
            .check(&account.trim().to_lowercase())
            .map_err(|s| refused("too many sign-in attempts for this account", s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(trusted: &[&str]) -> Limits {
        let http = HttpConfig {
            rate_per_minute: 60,
            rate_burst: 3,
            sign_in_per_address_per_minute: 4,
            sign_in_per_account_per_minute: 2,
            trusted_proxies: trusted.iter().map(|s| (*s).to_owned()).collect(),
            ..HttpConfig::default()
        };
        Limits::new(&http).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_client_has_its_burst_then_waits() {
        let l = limits(&[]);
        let a = Client::Address(ip("192.0.2.1"));
        for _ in 0..3 {
            l.request(&a).unwrap();
        }
        let Err(Error::RateLimited { retry_after_secs, .. }) = l.request(&a) else { panic!("the fourth is refused") };
        assert_eq!(retry_after_secs, 1);
        l.request(&Client::Principal("customer:u1".into())).expect("another client has its own bucket");
    }

    #[test]
    fn sign_in_counts_per_address_and_per_account() {
        let l = limits(&[]);
        l.sign_in(ip("192.0.2.1"), "a@example.com").unwrap();
        l.sign_in(ip("192.0.2.2"), "A@Example.com ").unwrap();
        assert!(l.sign_in(ip("192.0.2.3"), "a@example.com").is_err(), "the account's limit spans addresses");
        l.sign_in(ip("192.0.2.9"), "b@example.com").unwrap();
        l.sign_in(ip("192.0.2.9"), "c@example.com").unwrap();
        l.sign_in(ip("192.0.2.9"), "d@example.com").unwrap();
        l.sign_in(ip("192.0.2.9"), "e@example.com").unwrap();
        assert!(l.sign_in(ip("192.0.2.9"), "f@example.com").is_err(), "the address's limit spans accounts");
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let l = limits(&["10.0.0.0/8", "127.0.0.1"]);
        let untrusted = ip("198.51.100.7");
        assert_eq!(l.client_address(untrusted, &["203.0.113.5"]), untrusted);
        assert_eq!(l.client_address(ip("127.0.0.1"), &["203.0.113.5"]), ip("203.0.113.5"));
        // A client that forges a first hop is named by the hop the trusted proxy appended.
        assert_eq!(l.client_address(ip("10.1.2.3"), &["6.6.6.6, 203.0.113.5", "10.9.9.9"]), ip("203.0.113.5"));
        assert_eq!(l.client_address(ip("10.1.2.3"), &[]), ip("10.1.2.3"));
        assert_eq!(l.client_address(ip("10.1.2.3"), &["garbage"]), ip("10.1.2.3"));
        assert_eq!(l.client_address(ip("::ffff:127.0.0.1"), &["203.0.113.5"]), ip("203.0.113.5"));
        assert!(Limits::new(&HttpConfig { trusted_proxies: vec!["nope".into()], ..HttpConfig::default() }).is_err());
    }
}
