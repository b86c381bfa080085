//! Staff: PIN sign-in that yields a short-lived session token, roles, and the staff list.
//!
//! PINs are stored as HMAC-SHA256 under a per-outlet secret key (in the data directory, never in
//! the database), so a copied database alone does not reveal them and a PIN is found by one
//! indexed lookup; a PIN still stored in the older form (SHA-256 of the key and the PIN) is
//! rewritten at its holder's next sign-in. PINs are unique per outlet: the PIN alone identifies
//! who signs in, as on a restaurant POS, so a wrong guess can match anyone's PIN.
//!
//! Guessing is held back per terminal (the client's address), not per outlet, so one terminal
//! cannot keep every till signed out: a terminal's fifth wrong PIN locks it for
//! `session.pin_lock_secs` (429 with `Retry-After`), and each further wrong PIN doubles the lock,
//! up to an hour. A terminal's count is forgotten only after an hour with no wrong PIN (a right PIN
//! does not reset it, so a staff member cannot interleave their own PIN to keep guessing a
//! manager's). Every lock writes an audit entry and raises a `sign_in_alert` on the live alert
//! stream, where a manager sees it. With the defaults a terminal gets about a dozen guesses an
//! hour: against 20 staff among 10,000 four-digit PINs, years to find one.
//!
//! The session table and the wrong-PIN locks live in [`crate::infra::session`].

use crate::infra::error::{Error, Json, Result};
use crate::infra::events::{Event, SignInAlert};
use crate::infra::session::{Lock, Session, Terminal};
use crate::infra::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use patty_protocol::change::ChangeV1;
use patty_protocol::ids::StaffId;
use patty_protocol::staff::{Role, Staff};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// A PIN as stored: HMAC-SHA256 under the outlet's key.
pub fn pin_hash(key: &[u8], pin: &str) -> String {
    patty_service::secret::mac(key, pin.as_bytes())
}

/// A PIN as it was stored before HMAC (SHA-256 of the key and the PIN), still accepted and
/// rewritten at the next sign-in.
pub fn legacy_pin_hash(key: &[u8], pin: &str) -> String {
    patty_service::secret::digest(&[key, pin.as_bytes()])
}

/// Whether `pin` is taken at this outlet by someone other than `except`, in either stored form.
fn pin_taken(conn: &Connection, key: &[u8], pin: &str, except: Option<StaffId>) -> Result<bool> {
    let except = except.map(|id| id.to_string()).unwrap_or_default();
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM staff WHERE pin_hash IN (?1, ?2) AND id <> ?3)",
        params![pin_hash(key, pin), legacy_pin_hash(key, pin), except],
        |r| r.get(0),
    )?)
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
    ctx: &mut crate::infra::store::WriteCtx<'_>,
    key: &[u8],
    name: &str,
    role: Role,
    pin: &str,
) -> Result<Staff> {
    validate_pin(pin)?;
    if patty_protocol::blank(name) || name.chars().count() > 100 {
        return Err(Error::Validation("a staff name is 1 to 100 characters".into()));
    }
    let hash = pin_hash(key, pin);
    if pin_taken(ctx.conn, key, pin, None)? {
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

/// Adds or changes a staff member as HQ sent them (name, role, active; PINs never travel). A new
/// member gets a PIN no digest can equal: they sign in once a manager sets one.
pub fn upsert_from_cloud(conn: &Connection, staff: &Staff) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO staff (id, name, role, pin_hash, active) VALUES (?1, ?2, ?3, 'unset:' || ?1, ?4)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, active = excluded.active",
    )?
    .execute(params![staff.id.to_string(), staff.name, staff.role.as_str(), staff.active])?;
    Ok(())
}

/// The staff member whose PIN is `pin`, and whether it is still stored in the older form.
fn find_by_pin(conn: &Connection, key: &[u8], pin: &str) -> Result<Option<(Staff, bool)>> {
    let find = |hash: &str| {
        conn.query_row("SELECT id, name, role, active FROM staff WHERE pin_hash = ?1", [hash], staff_row).optional()
    };
    if let Some(s) = find(&pin_hash(key, pin))? {
        return Ok(Some((s, false)));
    }
    Ok(find(&legacy_pin_hash(key, pin))?.map(|s| (s, true)))
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
    #[schema(min_length = 1, max_length = 100, pattern = "[^\\s\\u0085]")]
    pub name: String,
    /// Role.
    pub role: Role,
    /// PIN, 4 to 8 digits, unique at this outlet.
    #[schema(pattern = "^[0-9]{4,8}$")]
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
    #[schema(pattern = "^[0-9]{4,8}$")]
    pub pin: Option<String>,
}

/// Sign in with a PIN.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "staff", request_body = SignIn,
    responses((status = 201, body = SessionOut), (status = 401, body = patty_protocol::ErrorBody),
        (status = 429, description = "this terminal is locked after wrong PINs; `Retry-After` says for how long", body = patty_protocol::ErrorBody)))]
async fn sign_in(
    State(state): State<AppState>,
    patty_service::http::Peer(terminal): patty_service::http::Peer,
    Json(req): Json<SignIn>,
) -> Result<(StatusCode, Json<SessionOut>)> {
    state.sessions.check_lockout(terminal)?;
    let found = if validate_pin(&req.pin).is_ok() {
        let (key, pin) = (state.pin_key.clone(), req.pin.clone());
        state.store.read(move |c| find_by_pin(c, &key, &pin)).await?
    } else {
        None
    };
    let staff = match found {
        Some((s, legacy)) if s.active => {
            if legacy {
                let (key, id, pin) = (state.pin_key.clone(), s.id, req.pin);
                state
                    .store
                    .write(move |ctx| {
                        ctx.conn.execute(
                            "UPDATE staff SET pin_hash = ?2 WHERE id = ?1",
                            params![id.to_string(), pin_hash(&key, &pin)],
                        )?;
                        Ok(())
                    })
                    .await?;
            }
            s
        }
        _ => {
            if let Some(lock) = state.sessions.record_failure(terminal)? {
                alert_locked(&state, terminal, &lock).await?;
            }
            return Err(Error::Unauthorized("wrong PIN".into()));
        }
    };
    let (token, idle_timeout_secs) = state.sessions.open(staff.clone())?;
    Ok((StatusCode::CREATED, Json(SessionOut { token, staff, idle_timeout_secs })))
}

/// Tells the manager a terminal was locked: an audit entry (by nobody: no one is signed in) and a
/// `sign_in_alert` on the live alert stream.
async fn alert_locked(state: &AppState, terminal: Terminal, lock: &Lock) -> Result<()> {
    let alert = SignInAlert {
        terminal: terminal.map_or_else(|| "unknown".to_owned(), |t| t.to_string()),
        failures: lock.failures,
        locked_secs: lock.secs,
        at_ms: 0,
    };
    tracing::warn!(terminal = %alert.terminal, failures = lock.failures, locked_secs = lock.secs, "terminal locked after wrong PINs");
    state
        .store
        .write(move |ctx| {
            let detail = format!("{} wrong PINs; locked for {} s", alert.failures, alert.locked_secs);
            crate::audit::record(ctx, crate::audit::NOBODY, "sign_in_locked", &alert.terminal, &detail)?;
            let at_ms = ctx.now_ms;
            ctx.emit(Event::SignInAlert { alert: SignInAlert { at_ms, ..alert } });
            Ok(())
        })
        .await
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
    crate::infra::error::Path(id): crate::infra::error::Path<StaffId>,
    Json(req): Json<StaffPatch>,
) -> Result<Json<Staff>> {
    session.require_manager()?;
    let by = session.staff.id;
    let key = state.pin_key.clone();
    let (staff, changed) = state
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
            let before = (staff.role, staff.active);
            staff.role = req.role.unwrap_or(staff.role);
            staff.active = req.active.unwrap_or(staff.active);
            let changed = before != (staff.role, staff.active);
            ctx.conn.execute(
                "UPDATE staff SET role = ?2, active = ?3 WHERE id = ?1",
                params![id.to_string(), staff.role.as_str(), staff.active],
            )?;
            if let Some(pin) = &req.pin {
                validate_pin(pin)?;
                let hash = pin_hash(&key, pin);
                if pin_taken(ctx.conn, &key, pin, Some(id))? {
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
            Ok((staff, changed))
        })
        .await?;
    // Open sessions carry the old role: sign them out so the change takes effect at once (a new
    // PIN alone leaves them be).
    if changed {
        state.sessions.close_all_of(staff.id)?;
    }
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
