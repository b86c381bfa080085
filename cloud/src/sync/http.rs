//! Sync's handlers and their request and response types: the edge's upload and downward stream,
//! and HQ's (or an outlet manager's) view of outlets' sync, conflicts, stock and staff. No SQL:
//! they call [`super::store`], [`super::rules`], [`super::apply`](mod@super::apply) and [`super::down`]. The only
//! place that turns [`SyncError`] into the shared HTTP error.

use super::apply::{self, conflict_event};
use super::{MAX_INFLATED, SyncError, SyncState, down, rules, store};
use crate::events::NewEvent;
use crate::infra::access::{Principal, Role};
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Json, Path, Query, Result};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use patty_protocol::conflict::{Conflict, Resolution};
use patty_protocol::events::{StaffUpserted, StockThresholdSet};
use patty_protocol::ids::{ConflictId, IngredientId, OutletId, StaffId};
use patty_protocol::staff::Staff;
use patty_sync::Ack;
use serde::{Deserialize, Serialize};

impl From<SyncError> for Error {
    fn from(e: SyncError) -> Self {
        let message = e.to_string();
        match e {
            SyncError::NotAnEdge | SyncError::OtherOutletsLog | SyncError::OtherOutlets => Error::Forbidden(message),
            SyncError::Wire(_)
            | SyncError::TooManyEntries
            | SyncError::SequenceZero
            | SyncError::NegativeAfter
            | SyncError::Note
            | SyncError::ReorderLevel
            | SyncError::StaffName => Error::Validation(message),
            SyncError::NoOpenConflict(_) => Error::NotFound(message),
            SyncError::StaffOfAnotherOutlet => Error::Conflict(message),
        }
    }
}

/// The outlet whose edge node is calling.
fn edge_outlet(who: &Principal) -> std::result::Result<OutletId, SyncError> {
    match (who.role, who.outlet_id) {
        (Role::Edge, Some(o)) => Ok(o),
        _ => Err(SyncError::NotAnEdge),
    }
}

/// The cloud's answer to an upload.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct UploadAck {
    /// Every entry up to and including this sequence is applied.
    pub applied_through: u64,
    /// The batch started past the next expected entry: resend from `applied_through + 1`.
    pub gap: bool,
}

/// Upload a batch of the outlet's change log (its edge node's API key). The body is
/// `application/octet-stream`: a tag byte (0 plain, 1 zstd) and a postcard batch.
#[utoipa::path(post, path = "/api/v1/sync/up", tag = "sync", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = UploadAck), (status = 403, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet = ?who.outlet_id, bytes = body.len()))]
pub async fn up(State(state): State<SyncState>, who: Principal, body: Bytes) -> Result<Json<UploadAck>> {
    let outlet = edge_outlet(&who)?;
    let entries = patty_sync::wire::decode_batch(&body, MAX_INFLATED).map_err(SyncError::from)?;
    rules::admit_batch(outlet, &entries)?;
    let (ack, applied) = apply::apply(&state, outlet, &entries).await?;
    state.figures.applied.fetch_add(applied.entries as u64, std::sync::atomic::Ordering::Relaxed);
    Ok(Json(match ack {
        Ack::AppliedThrough(n) => UploadAck { applied_through: n, gap: false },
        Ack::Gap { applied_through } => UploadAck { applied_through, gap: true },
    }))
}

/// Where the downward stream starts.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DownQuery {
    /// The last position the outlet applied (default 0).
    #[serde(default)]
    pub after: i64,
}

/// The outlet's downward stream (its edge node's API key): length-prefixed postcard frames, each
/// with its position, from `after` on, live; a zero-length frame is a keep-alive.
#[utoipa::path(get, path = "/api/v1/sync/down", tag = "sync", security(("bearer" = [])), params(DownQuery),
    responses((status = 200, description = "a stream of frames", content_type = "application/octet-stream"), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet = ?who.outlet_id, after = q.after))]
pub async fn down(State(state): State<SyncState>, who: Principal, Query(q): Query<DownQuery>) -> Result<Response> {
    let outlet = edge_outlet(&who)?;
    if q.after < 0 {
        return Err(SyncError::NegativeAfter.into());
    }
    let body = down::stream(state, outlet, q.after);
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response())
}

/// One outlet's sync state, for HQ.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutletSync {
    /// The outlet.
    #[schema(value_type = String)]
    pub outlet_id: OutletId,
    /// The highest change-log sequence applied.
    pub applied_through: u64,
    /// The outlet's clock at that entry, Unix ms.
    pub last_change_ms: i64,
    /// Last upload or connection, Unix ms.
    pub seen_ms: i64,
    /// "online" while its downward stream is open on this replica, else "offline".
    pub link: String,
    /// Since when the link is in that state, Unix ms (absent when this replica never saw it).
    pub since_ms: Option<i64>,
    /// Conflicts not settled yet.
    pub open_conflicts: i64,
}

/// Every outlet's sync state (HQ; an outlet's manager sees their own).
#[utoipa::path(get, path = "/api/v1/sync/outlets", tag = "sync", security(("bearer" = [])),
    responses((status = 200, body = Vec<OutletSync>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub async fn outlets(State(state): State<SyncState>, who: Principal) -> Result<Json<Vec<OutletSync>>> {
    who.require(&[Role::OutletManager])?;
    let mut out = Vec::new();
    for p in store::progress(&state.db).await? {
        if who.role != Role::HqAdmin && who.outlet_id != Some(p.outlet_id) {
            continue;
        }
        let (online, since_ms) = state.figures.link(p.outlet_id);
        out.push(OutletSync {
            outlet_id: p.outlet_id,
            applied_through: p.applied_through,
            last_change_ms: p.last_hlc >> 16,
            seen_ms: p.seen_ms,
            link: if online { "online" } else { "offline" }.into(),
            since_ms,
            open_conflicts: p.open_conflicts,
        });
    }
    Ok(Json(out))
}

/// Which conflicts.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ConflictsQuery {
    /// Only this outlet's.
    #[serde(default)]
    pub outlet: Option<OutletId>,
    /// Only open (true) or settled (false) ones; both when absent.
    #[serde(default)]
    pub open: Option<bool>,
}

/// Conflicts, newest first (HQ; an outlet's manager sees their own outlet's).
#[utoipa::path(get, path = "/api/v1/conflicts", tag = "sync", security(("bearer" = [])), params(ConflictsQuery),
    responses((status = 200, body = Vec<Conflict>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(outlet = ?q.outlet, open = ?q.open))]
pub async fn conflicts(
    State(state): State<SyncState>,
    who: Principal,
    Query(q): Query<ConflictsQuery>,
) -> Result<Json<Vec<Conflict>>> {
    who.require(&[Role::OutletManager])?;
    let outlet = match (who.role, q.outlet) {
        (Role::HqAdmin, o) => o,
        (_, Some(o)) if who.outlet_id == Some(o) => Some(o),
        (_, None) => who.outlet_id,
        _ => return Err(SyncError::OtherOutlets.into()),
    };
    Ok(Json(store::conflicts(&state.db, outlet, q.open).await?))
}

/// How a conflict is settled.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// What was decided (refunded, written off, price honoured…).
    #[schema(min_length = 1, max_length = 500, pattern = "[^\\s\\u0085]")]
    pub note: String,
}

/// Settle a conflict (HQ, or the outlet's manager); the outlet hears of it.
#[utoipa::path(post, path = "/api/v1/conflicts/{id}/resolve", tag = "sync", security(("bearer" = [])), request_body = Resolve,
    params(("id" = String, Path, description = "conflict id")),
    responses((status = 200, body = Conflict), (status = 404, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(conflict = %id))]
pub async fn resolve(
    State(state): State<SyncState>,
    who: Principal,
    Path(id): Path<ConflictId>,
    Json(req): Json<Resolve>,
) -> Result<Json<Conflict>> {
    who.require(&[Role::OutletManager])?;
    let note = req.note.trim();
    if patty_protocol::blank(note) || note.chars().count() > 500 {
        return Err(SyncError::Note.into());
    }
    let outlet = if who.role == Role::HqAdmin { None } else { who.outlet_id };
    let r = Resolution { at_ms: now_ms(), by: format!("hq:{}", who.subject), note: note.to_owned() };
    let mut tx = state.db.begin().await?;
    let c = store::settle(&mut tx, id, outlet, &r).await?.ok_or(SyncError::NoOpenConflict(id))?;
    conflict_event(&c, true)?.down_to(c.outlet_id).insert(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(c))
}

/// One ingredient's stock at an outlet, as the cloud sums it.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutletStock {
    /// The ingredient.
    pub ingredient_id: String,
    /// Its name.
    pub name: String,
    /// Its unit.
    pub unit: String,
    /// The sum of every movement heard of.
    pub on_hand: i64,
    /// The reorder level.
    pub reorder_level: i64,
}

/// An outlet's stock, as the sum of the movements it uploaded (HQ, its manager).
#[utoipa::path(get, path = "/api/v1/outlets/{outlet}/stock", tag = "sync", security(("bearer" = [])),
    params(("outlet" = String, Path, description = "outlet id")),
    responses((status = 200, body = Vec<OutletStock>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(outlet = %outlet))]
pub async fn stock(
    State(state): State<SyncState>,
    who: Principal,
    Path(outlet): Path<OutletId>,
) -> Result<Json<Vec<OutletStock>>> {
    who.require_outlet(&[Role::OutletManager], outlet)?;
    let levels = store::levels(&state.db, outlet).await?;
    Ok(Json(
        levels
            .into_iter()
            .map(|l| OutletStock {
                ingredient_id: l.ingredient_id,
                name: l.name,
                unit: l.unit,
                on_hand: l.on_hand,
                reorder_level: l.reorder_level,
            })
            .collect(),
    ))
}

/// A reorder level set by HQ.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// The level at or below which the outlet raises a low-stock alert.
    pub reorder_level: i64,
}

/// Set an ingredient's reorder level at an outlet (HQ); the outlet applies it when it hears of it.
#[utoipa::path(put, path = "/api/v1/outlets/{outlet}/stock/{ingredient}/reorder-level", tag = "sync", security(("bearer" = [])), request_body = Threshold,
    params(("outlet" = String, Path, description = "outlet id"), ("ingredient" = String, Path, description = "ingredient id")),
    responses((status = 204), (status = 403, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet = %outlet, ingredient = %ingredient))]
pub async fn set_threshold(
    State(state): State<SyncState>,
    who: Principal,
    Path((outlet, ingredient)): Path<(OutletId, IngredientId)>,
    Json(req): Json<Threshold>,
) -> Result<StatusCode> {
    who.require(&[])?;
    if !(0..=1_000_000_000).contains(&req.reorder_level) {
        return Err(SyncError::ReorderLevel.into());
    }
    let mut tx = state.db.begin().await?;
    store::set_reorder_level(&mut tx, outlet, ingredient, req.reorder_level).await?;
    let event = StockThresholdSet { outlet_id: outlet, ingredient_id: ingredient, reorder_level: req.reorder_level };
    NewEvent::of(&event)?.down_to(outlet).insert(&mut tx).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A staff member of an outlet as HQ sets it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffIn {
    /// Display name (1 to 100 characters).
    #[schema(min_length = 1, max_length = 100, pattern = "[^\\s\\u0085]")]
    pub name: String,
    /// What they may do at the outlet.
    pub role: patty_protocol::staff::Role,
    /// Whether they may sign in (default true).
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Add or change a staff member of an outlet (HQ, that outlet's manager); the outlet applies it
/// when it hears of it. PINs are not set here: a manager sets a new member's PIN at the outlet.
#[utoipa::path(put, path = "/api/v1/outlets/{outlet}/staff/{id}", tag = "sync", security(("bearer" = [])), request_body = StaffIn,
    params(("outlet" = String, Path, description = "outlet id"), ("id" = String, Path, description = "staff id")),
    responses((status = 200, body = patty_protocol::staff::Staff), (status = 403, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, err(level = "warn"), fields(outlet = %outlet, staff = %id))]
pub async fn put_staff(
    State(state): State<SyncState>,
    who: Principal,
    Path((outlet, id)): Path<(OutletId, StaffId)>,
    Json(req): Json<StaffIn>,
) -> Result<Json<Staff>> {
    who.require_outlet(&[Role::OutletManager], outlet)?;
    let name = req.name.trim();
    if patty_protocol::blank(name) || name.chars().count() > 100 {
        return Err(SyncError::StaffName.into());
    }
    let staff = Staff { id, name: name.to_owned(), role: req.role, active: req.active };
    let mut tx = state.db.begin().await?;
    let taken = store::staff_outlet(&mut tx, id).await?;
    if taken.is_some_and(|o| o != outlet.to_string()) {
        return Err(SyncError::StaffOfAnotherOutlet.into());
    }
    store::put_staff(&mut tx, outlet, &staff).await?;
    NewEvent::of(&StaffUpserted { staff: staff.clone() })?.down_to(outlet).insert(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(staff))
}

/// An outlet's staff as the cloud knows them: set by HQ or reported by the outlet (HQ, its manager).
#[utoipa::path(get, path = "/api/v1/outlets/{outlet}/staff", tag = "sync", security(("bearer" = [])),
    params(("outlet" = String, Path, description = "outlet id")),
    responses((status = 200, body = Vec<patty_protocol::staff::Staff>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(outlet = %outlet))]
pub async fn list_staff(
    State(state): State<SyncState>,
    who: Principal,
    Path(outlet): Path<OutletId>,
) -> Result<Json<Vec<Staff>>> {
    who.require_outlet(&[Role::OutletManager], outlet)?;
    Ok(Json(store::staff_of(&state.db, outlet).await?))
}
