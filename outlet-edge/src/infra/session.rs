//! Signed-in staff: the in-memory session table (token to staff member, idle and absolute
//! expiry), each terminal's wrong-PIN count and lock, and the [`Session`] extractor every handler
//! uses. It knows nothing of PINs or the staff table: the staff domain checks a PIN and then
//! opens a session here. It lives in `infra` because every domain's handlers need the extractor,
//! and the shared state may only hold leaf types.
//!
//! Sessions live in memory: a restart signs everyone out, which a terminal handles by showing
//! the PIN pad again.

use crate::infra::error::{Error, Result};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use patty_protocol::ids::StaffId;
use patty_protocol::staff::{Role, Staff};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Signed-in staff, by token.
pub struct Sessions {
    idle: Duration,
    max: Duration,
    lock: Duration,
    inner: Mutex<SessionsInner>,
}

#[derive(Default)]
struct SessionsInner {
    by_token: HashMap<String, SessionEntry>,
    terminals: HashMap<Terminal, Failures>,
}

/// Where a sign-in comes from: the client's address (unknown for in-process requests).
pub type Terminal = Option<IpAddr>;

/// A terminal's wrong PINs.
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Instant,
}

/// A terminal locked after wrong PINs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lock {
    /// Wrong PINs counted.
    pub failures: u32,
    /// How long it is locked.
    pub secs: u64,
}

struct SessionEntry {
    staff: Staff,
    created: Instant,
    last_seen: Instant,
}

/// Wrong PINs a terminal may make before it is locked.
const FREE_FAILURES: u32 = 4;
/// The longest lock.
const MAX_LOCK: Duration = Duration::from_secs(3600);
/// A terminal's wrong PINs are forgotten after this long without one.
const FORGET_AFTER: Duration = Duration::from_secs(3600);

impl Sessions {
    /// Sessions that end after `idle` without use, or `max` after sign-in; a terminal's first
    /// lock lasts `lock`.
    pub fn new(idle: Duration, max: Duration, lock: Duration) -> Self {
        Self { idle, max, lock, inner: Mutex::new(SessionsInner::default()) }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, SessionsInner>> {
        self.inner.lock().map_err(|_| Error::Internal("session table poisoned".into()))
    }

    /// Refuses a locked terminal (429), without looking at its PIN.
    pub fn check_lockout(&self, terminal: Terminal) -> Result<()> {
        let s = self.lock()?;
        let now = Instant::now();
        match s.terminals.get(&terminal) {
            Some(f) if f.locked_until > now => {
                let wait = f.locked_until - now;
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(Error::RateLimited {
                    message: format!("too many wrong PINs at this terminal; try again in {secs} s"),
                    retry_after_secs: secs,
                })
            }
            _ => Ok(()),
        }
    }

    /// Counts a wrong PIN at `terminal`; the lock it now gets, if any.
    pub fn record_failure(&self, terminal: Terminal) -> Result<Option<Lock>> {
        let now = Instant::now();
        let first = self.lock;
        let mut s = self.lock()?;
        if s.terminals.len() > 10_000 {
            s.terminals.retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
        }
        let f = s.terminals.entry(terminal).or_insert(Failures { count: 0, last: now, locked_until: now });
        if now.duration_since(f.last) >= FORGET_AFTER {
            f.count = 0;
        }
        f.count += 1;
        f.last = now;
        if f.count <= FREE_FAILURES {
            return Ok(None);
        }
        let doublings = (f.count - FREE_FAILURES - 1).min(16);
        let wait = first.saturating_mul(1 << doublings).min(MAX_LOCK);
        f.locked_until = now + wait;
        Ok(Some(Lock { failures: f.count, secs: wait.as_secs().max(1) }))
    }

    /// Opens a session for `staff`: its token and idle timeout in seconds.
    pub fn open(&self, staff: Staff) -> Result<(String, u64)> {
        let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let now = Instant::now();
        let mut s = self.lock()?;
        let (idle, max) = (self.idle, self.max);
        s.by_token.retain(|_, e| now.duration_since(e.last_seen) < idle && now.duration_since(e.created) < max);
        s.by_token.insert(token.clone(), SessionEntry { staff, created: now, last_seen: now });
        Ok((token, self.idle.as_secs()))
    }

    /// The staff member signed in on `token`, if the session is live; marks it used.
    pub fn touch(&self, token: &str) -> Result<Option<Staff>> {
        let now = Instant::now();
        let mut s = self.lock()?;
        let live = match s.by_token.get_mut(token) {
            Some(e) if now.duration_since(e.last_seen) < self.idle && now.duration_since(e.created) < self.max => {
                e.last_seen = now;
                Some(e.staff.clone())
            }
            _ => None,
        };
        if live.is_none() {
            s.by_token.remove(token);
        }
        Ok(live)
    }

    /// Ends the session on `token`; whether there was one.
    pub fn close(&self, token: &str) -> Result<bool> {
        Ok(self.lock()?.by_token.remove(token).is_some())
    }

    /// Signs out every session of `staff_id` (when they are deactivated).
    pub fn close_all_of(&self, staff_id: StaffId) -> Result<()> {
        self.lock()?.by_token.retain(|_, e| e.staff.id != staff_id);
        Ok(())
    }
}

/// The signed-in staff member making a request (`Authorization: Bearer TOKEN`).
#[derive(Clone, Debug)]
pub struct Session {
    /// Who.
    pub staff: Staff,
    /// The token it came with, so sign-out can end it.
    pub token: String,
}

impl Session {
    /// Refuses unless the staff member has one of `roles` (a manager may do everything).
    pub fn require(&self, roles: &[Role]) -> Result<()> {
        if self.staff.role == Role::Manager || roles.contains(&self.staff.role) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("a {} may not do this", self.staff.role.as_str())))
        }
    }

    /// Refuses unless the staff member is a manager.
    pub fn require_manager(&self) -> Result<()> {
        self.require(&[])
    }

    /// Whether the staff member is a manager.
    pub fn is_manager(&self) -> bool {
        self.staff.role == Role::Manager
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session
where
    Arc<Sessions>: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Error::Unauthorized("sign in first: no session token".into()))?;
        let staff = Arc::<Sessions>::from_ref(state)
            .touch(header)?
            .ok_or_else(|| Error::Unauthorized("the session has expired or does not exist; sign in again".into()))?;
        Ok(Self { staff, token: header.to_owned() })
    }
}
