//! Staff: PIN sign-in that yields a short-lived session token, roles, and the staff list.
//!
//! PINs are stored as SHA-256 of a per-outlet secret key (in the data directory, never in the
//! database) followed by the PIN, so a copied database alone does not reveal them and a PIN is
//! found by one indexed lookup. PINs are unique per outlet: the PIN alone identifies who signs in,
//! as on a restaurant POS. Sessions live in memory: a restart signs everyone out, which a
//! terminal handles by showing the PIN pad again. Five failed sign-ins within a minute lock
//! sign-in for the rest of that minute (429), which makes guessing a 4-digit PIN take days.

use crate::error::{Error, Json, Result};
use crate::state::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::StaffId;
use patty_protocol::staff::{Role, Staff};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Signed-in staff, by token.
pub struct Sessions {
    idle: Duration,
    max: Duration,
    inner: Mutex<SessionsInner>,
}

#[derive(Default)]
struct SessionsInner {
    by_token: HashMap<String, SessionEntry>,
    failures: Vec<Instant>,
}

struct SessionEntry {
    staff: Staff,
    created: Instant,
    last_seen: Instant,
}

const FAILURE_WINDOW: Duration = Duration::from_secs(60);
const MAX_FAILURES: usize = 5;

impl Sessions {
    /// Sessions that end after `idle` without use, or `max` after sign-in.
    pub fn new(idle: Duration, max: Duration) -> Self {
        Self { idle, max, inner: Mutex::new(SessionsInner::default()) }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, SessionsInner>> {
        self.inner.lock().map_err(|_| Error::Internal("session table poisoned".into()))
    }

    fn check_lockout(&self) -> Result<()> {
        let mut s = self.lock()?;
        let now = Instant::now();
        s.failures.retain(|t| now.duration_since(*t) < FAILURE_WINDOW);
        if s.failures.len() >= MAX_FAILURES {
            return Err(Error::RateLimited("too many failed sign-ins; wait a minute".into()));
        }
        Ok(())
    }

    fn record_failure(&self) -> Result<()> {
        self.lock()?.failures.push(Instant::now());
        Ok(())
    }

    fn open(&self, staff: Staff) -> Result<(String, u64)> {
        let token = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let now = Instant::now();
        let mut s = self.lock()?;
        let (idle, max) = (self.idle, self.max);
        s.by_token.retain(|_, e| now.duration_since(e.last_seen) < idle && now.duration_since(e.created) < max);
        s.by_token.insert(token.clone(), SessionEntry { staff, created: now, last_seen: now });
        Ok((token, self.idle.as_secs()))
    }

    fn touch(&self, token: &str) -> Result<Option<Staff>> {
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

    fn close(&self, token: &str) -> Result<bool> {
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
    token: String,
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

impl FromRequestParts<AppState> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Error::Unauthorized("sign in first: no session token".into()))?;
        let staff = state
            .sessions
            .touch(header)?
            .ok_or_else(|| Error::Unauthorized("the session has expired or does not exist; sign in again".into()))?;
        Ok(Self { staff, token: header.to_owned() })
    }
}

/// Hashes a PIN with the outlet's key.
pub fn pin_hash(key: &[u8], pin: &str) -> String {
    patty_service::secret::digest(&[key, pin.as_bytes()])
}

/// Checks a PIN's shape: 4 to 8 digits.
pub fn validate_pin(pin: &str) -> Result<()> {
    if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::Validation("a PIN is 4 to 8 digits".into()))
    }
}

fn staff_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Staff> {
    let id: String = r.get(0)?;
    let role: String = r.get(2)?;
    Ok(Staff {
        id: id
            .parse()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))?,
        name: r.get(1)?,
        role: Role::parse(&role).unwrap_or(Role::Cashier),
        active: r.get(3)?,
    })
}

/// Inserts a staff member and logs it; the PIN must not be taken.
pub fn insert_staff(
    ctx: &mut crate::store::WriteCtx<'_>,
    key: &[u8],
    name: &str,
    role: Role,
    pin: &str,
) -> Result<Staff> {
    validate_pin(pin)?;
    if name.trim().is_empty() || name.len() > 100 {
        return Err(Error::Validation("a staff name is 1 to 100 characters".into()));
    }
    let hash = pin_hash(key, pin);
    let taken: bool =
        ctx.conn.query_row("SELECT EXISTS (SELECT 1 FROM staff WHERE pin_hash = ?1)", [&hash], |r| r.get(0))?;
    if taken {
        return Err(Error::Conflict("that PIN is already in use at this outlet".into()));
    }
    let staff = Staff { id: StaffId::new(), name: name.trim().to_owned(), role, active: true };
    ctx.conn.execute(
        "INSERT INTO staff (id, name, role, pin_hash, active) VALUES (?1, ?2, ?3, ?4, 1)",
        params![staff.id.to_string(), staff.name, role.as_str(), hash],
    )?;
    ctx.log(ChangeV1::StaffUpserted { staff: staff.clone() })?;
    Ok(staff)
}

fn find_by_pin(conn: &Connection, hash: &str) -> Result<Option<Staff>> {
    Ok(conn.query_row("SELECT id, name, role, active FROM staff WHERE pin_hash = ?1", [hash], staff_row).optional()?)
}

/// Sign-in request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The staff member's PIN.
    pub pin: String,
}

/// A new session.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionOut {
    /// Send as `Authorization: Bearer TOKEN`.
    pub token: String,
    /// Who signed in.
    pub staff: Staff,
    /// The session ends after this many seconds without a request.
    pub idle_timeout_secs: u64,
}

/// A staff member to add.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// PIN, 4 to 8 digits, unique at this outlet.
    pub pin: String,
}

/// A change to a staff member.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffPatch {
    /// New role.
    #[serde(default)]
    pub role: Option<Role>,
    /// Deactivate (false) or reactivate (true).
    #[serde(default)]
    pub active: Option<bool>,
    /// A new PIN (4 to 8 digits), as for a member HQ added, who has none yet.
    #[serde(default)]
    pub pin: Option<String>,
}

/// Sign in with a PIN.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "staff", request_body = SignIn,
    responses((status = 201, body = SessionOut), (status = 401, body = patty_protocol::ErrorBody), (status = 429, body = patty_protocol::ErrorBody)))]
async fn sign_in(State(state): State<AppState>, Json(req): Json<SignIn>) -> Result<(StatusCode, Json<SessionOut>)> {
    state.sessions.check_lockout()?;
    validate_pin(&req.pin).map_err(|_| Error::Unauthorized("wrong PIN".into()))?;
    let hash = pin_hash(&state.pin_key, &req.pin);
    let found = state.store.read(move |c| find_by_pin(c, &hash)).await?;
    let staff = match found {
        Some(s) if s.active => s,
        _ => {
            state.sessions.record_failure()?;
            return Err(Error::Unauthorized("wrong PIN".into()));
        }
    };
    let (token, idle_timeout_secs) = state.sessions.open(staff.clone())?;
    Ok((StatusCode::CREATED, Json(SessionOut { token, staff, idle_timeout_secs })))
}

/// Sign out.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "staff", security(("pin_session" = [])),
    responses((status = 204), (status = 401, body = patty_protocol::ErrorBody)))]
async fn sign_out(State(state): State<AppState>, session: Session) -> Result<StatusCode> {
    state.sessions.close(&session.token)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who is signed in on this token.
#[utoipa::path(get, path = "/api/v1/sessions/current", tag = "staff", security(("pin_session" = [])),
    responses((status = 200, body = Staff), (status = 401, body = patty_protocol::ErrorBody)))]
async fn whoami(session: Session) -> Json<Staff> {
    Json(session.staff)
}

/// List staff (manager).
#[utoipa::path(get, path = "/api/v1/staff", tag = "staff", security(("pin_session" = [])),
    responses((status = 200, body = Vec<Staff>), (status = 403, body = patty_protocol::ErrorBody)))]
async fn list_staff(State(state): State<AppState>, session: Session) -> Result<Json<Vec<Staff>>> {
    session.require_manager()?;
    let staff = state
        .store
        .read(|c| {
            let mut st = c.prepare("SELECT id, name, role, active FROM staff ORDER BY name")?;
            let rows = st.query_map([], staff_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
    Ok(Json(staff))
}

/// Add a staff member (manager; audited).
#[utoipa::path(post, path = "/api/v1/staff", tag = "staff", security(("pin_session" = [])), request_body = NewStaff,
    responses((status = 201, body = Staff), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
async fn add_staff(
    State(state): State<AppState>,
    session: Session,
    Json(req): Json<NewStaff>,
) -> Result<(StatusCode, Json<Staff>)> {
    session.require_manager()?;
    let key = state.pin_key.clone();
    let by = session.staff.id;
    let staff = state
        .store
        .write(move |ctx| {
            let staff = insert_staff(ctx, &key, &req.name, req.role, &req.pin)?;
            crate::audit::record(
                ctx,
                by,
                "staff_added",
                &staff.id.to_string(),
                &format!("{} as {}", staff.name, staff.role.as_str()),
            )?;
            Ok(staff)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(staff)))
}

/// Change a staff member's role, deactivate them, or set their PIN (manager; audited).
#[utoipa::path(patch, path = "/api/v1/staff/{id}", tag = "staff", security(("pin_session" = [])), request_body = StaffPatch,
    params(("id" = String, Path, description = "staff id")),
    responses((status = 200, body = Staff), (status = 404, body = patty_protocol::ErrorBody)))]
async fn patch_staff(
    State(state): State<AppState>,
    session: Session,
    crate::error::Path(id): crate::error::Path<StaffId>,
    Json(req): Json<StaffPatch>,
) -> Result<Json<Staff>> {
    session.require_manager()?;
    let by = session.staff.id;
    let key = state.pin_key.clone();
    let staff = state
        .store
        .write(move |ctx| {
            let mut staff = ctx
                .conn
                .query_row("SELECT id, name, role, active FROM staff WHERE id = ?1", [id.to_string()], staff_row)
                .optional()?
                .ok_or_else(|| Error::NotFound("no such staff member".into()))?;
            if id == by && (req.active == Some(false) || req.role.is_some_and(|r| r != Role::Manager)) {
                return Err(Error::Conflict("a manager cannot demote or deactivate themselves".into()));
            }
            staff.role = req.role.unwrap_or(staff.role);
            staff.active = req.active.unwrap_or(staff.active);
            ctx.conn.execute(
                "UPDATE staff SET role = ?2, active = ?3 WHERE id = ?1",
                params![id.to_string(), staff.role.as_str(), staff.active],
            )?;
            if let Some(pin) = &req.pin {
                validate_pin(pin)?;
                let hash = pin_hash(&key, pin);
                let taken: bool = ctx.conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM staff WHERE pin_hash = ?1 AND id <> ?2)",
                    params![hash, id.to_string()],
                    |r| r.get(0),
                )?;
                if taken {
                    return Err(Error::Conflict("that PIN is already in use at this outlet".into()));
                }
                ctx.conn.execute("UPDATE staff SET pin_hash = ?2 WHERE id = ?1", params![id.to_string(), hash])?;
                crate::audit::record(ctx, by, "pin_set", &id.to_string(), &staff.name)?;
            }
            ctx.log(ChangeV1::StaffUpserted { staff: staff.clone() })?;
            crate::audit::record(
                ctx,
                by,
                "staff_changed",
                &id.to_string(),
                &format!("role {} active {}", staff.role.as_str(), staff.active),
            )?;
            Ok(staff)
        })
        .await?;
    // Open sessions carry the old role: sign them out so the change takes effect at once.
    state.sessions.close_all_of(staff.id)?;
    Ok(Json(staff))
}

/// The staff routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(sign_out, whoami))
        .routes(routes!(list_staff, add_staff))
        .routes(routes!(patch_staff))
}
