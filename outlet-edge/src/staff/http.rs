//! Staff's HTTP face: sign-in and sign-out, who am I, the staff list; no SQL. The only place a
//! [`StaffError`] becomes an HTTP status.

use super::error::StaffError;
use super::store::{self, validate_pin};
use crate::infra::error::{Error, Json, Path, Result};
use crate::infra::events::SignInAlert;
use crate::infra::session::{Lock, Session, Terminal};
use crate::infra::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use patty_protocol::ids::StaffId;
use patty_protocol::staff::{Role, Staff};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

impl From<StaffError> for Error {
    fn from(e: StaffError) -> Self {
        match e {
            StaffError::BadPin | StaffError::BadName => Error::Validation(e.to_string()),
            StaffError::PinTaken | StaffError::SelfDemotion => Error::Conflict(e.to_string()),
            StaffError::NotFound => Error::NotFound(e.to_string()),
            StaffError::Other(e) => e,
        }
    }
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
#[tracing::instrument(skip_all)]
async fn sign_in(
    State(state): State<AppState>,
    patty_service::http::Peer(terminal): patty_service::http::Peer,
    Json(req): Json<SignIn>,
) -> Result<(StatusCode, Json<SessionOut>)> {
    state.sessions.check_lockout(terminal)?;
    let found = if validate_pin(&req.pin).is_ok() {
        let (key, pin) = (state.pin_key.clone(), req.pin.clone());
        state.store.read(move |c| store::find_by_pin(c, &key, &pin)).await?
    } else {
        None
    };
    let staff = match found {
        Some((s, legacy)) if s.active => {
            if legacy {
                store::rehash_pin(&state.store, state.pin_key.clone(), s.id, req.pin).await?;
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
    store::record_lock(&state.store, alert).await
}

/// Sign out.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "staff", security(("pin_session" = [])),
    responses((status = 204), (status = 401, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(staff.id = %session.staff.id))]
async fn sign_out(State(state): State<AppState>, session: Session) -> Result<StatusCode> {
    state.sessions.close(&session.token)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who is signed in on this token.
#[utoipa::path(get, path = "/api/v1/sessions/current", tag = "staff", security(("pin_session" = [])),
    responses((status = 200, body = Staff), (status = 401, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(staff.id = %session.staff.id))]
async fn whoami(session: Session) -> Json<Staff> {
    Json(session.staff)
}

/// List staff (manager).
#[utoipa::path(get, path = "/api/v1/staff", tag = "staff", security(("pin_session" = [])),
    responses((status = 200, body = Vec<Staff>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all)]
async fn list_staff(State(state): State<AppState>, session: Session) -> Result<Json<Vec<Staff>>> {
    session.require_manager()?;
    Ok(Json(state.store.read(store::list).await?))
}

/// Add a staff member (manager; audited).
#[utoipa::path(post, path = "/api/v1/staff", tag = "staff", security(("pin_session" = [])), request_body = NewStaff,
    responses((status = 201, body = Staff), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(by = %session.staff.id))]
async fn add_staff(
    State(state): State<AppState>,
    session: Session,
    Json(req): Json<NewStaff>,
) -> Result<(StatusCode, Json<Staff>)> {
    session.require_manager()?;
    let staff = store::add(&state.store, state.pin_key.clone(), session.staff.id, req.name, req.role, req.pin).await?;
    Ok((StatusCode::CREATED, Json(staff)))
}

/// Change a staff member's role, deactivate them, or set their PIN (manager; audited).
#[utoipa::path(patch, path = "/api/v1/staff/{id}", tag = "staff", security(("pin_session" = [])), request_body = StaffPatch,
    params(("id" = String, Path, description = "staff id")),
    responses((status = 200, body = Staff), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(staff.id = %id))]
async fn patch_staff(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<StaffId>,
    Json(req): Json<StaffPatch>,
) -> Result<Json<Staff>> {
    session.require_manager()?;
    let change = store::Change { role: req.role, active: req.active, pin: req.pin };
    let (staff, changed) = store::change(&state.store, state.pin_key.clone(), session.staff.id, id, change).await?;
    // Open sessions carry the old role: sign them out so the change takes effect at once (a new
    // PIN alone leaves them be).
    if changed {
        state.sessions.close_all_of(staff.id)?;
    }
    Ok(Json(staff))
}

/// The staff routes.
pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(sign_out, whoami))
        .routes(routes!(list_staff, add_staff))
        .routes(routes!(patch_staff))
}
