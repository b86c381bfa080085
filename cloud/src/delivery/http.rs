//! Delivery's handlers and their request and response types; the one place a [`DeliveryError`]
//! becomes an HTTP status.

use super::lifecycle::act_on;
use super::live::{self, Live};
use super::rules::{Action, Delivery, DeliveryError};
use super::store::{self, AreaRow, Seen};
use super::{DeliveryState, tracking};
use crate::fleet::DevicePosition;
use crate::infra::access::{Principal, Role};
use crate::infra::db::now_ms;
use crate::infra::error::{Error, Json, Path, Result};
use axum::extract::State;
use axum::response::IntoResponse;
use patty_protocol::ids::{DeliveryId, OrderId};
use patty_protocol::outlet::LatLon;
use serde::{Deserialize, Serialize};

impl From<DeliveryError> for Error {
    fn from(e: DeliveryError) -> Self {
        use DeliveryError as D;
        let text = e.to_string();
        match e {
            D::NotFound(_) | D::NoJob(_) | D::NoneForOrder(_) => Error::NotFound(text),
            D::NotYours(_) => Error::Forbidden(text),
            D::NotOffered(_)
            | D::Status { .. }
            | D::CodeBeforePickup { .. }
            | D::CodeLocked { .. }
            | D::CodeExpired(_)
            | D::NotNow(_)
            | D::Changed(_) => Error::Conflict(text),
            D::NotDigits | D::WrongCode { .. } => Error::Validation(text),
            D::Store(e) => e,
        }
    }
}

/// The delivery `id`, or 404.
async fn load(state: &DeliveryState, id: DeliveryId) -> Result<Delivery> {
    Ok(store::load(&state.db, id).await?.ok_or(DeliveryError::NotFound(id))?)
}

/// Whether `who` may see delivery `d`.
fn may_see(who: &Principal, d: &Delivery) -> Result<()> {
    let ok = match who.role {
        Role::HqAdmin => true,
        Role::Customer => d.customer_id.as_deref() == Some(who.subject.as_str()),
        Role::OutletStaff | Role::OutletManager | Role::Edge => who.outlet_id == Some(d.outlet_id),
        Role::Driver => {
            d.driver_id.as_deref() == Some(who.subject.as_str())
                || d.offered_to.as_deref() == Some(who.subject.as_str())
        }
        Role::Device => false,
    };
    if ok { Ok(()) } else { Err(DeliveryError::NotFound(d.id).into()) }
}

/// A delivery as its customer sees it: with the code to give the driver.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CustomerDelivery {
    /// The delivery.
    #[serde(flatten)]
    pub delivery: Delivery,
    /// The one-time code to tell the driver at the door.
    pub handover_code: String,
}

/// Filter for the deliveries list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `active` (not final, the default) or `all`.
    #[param(pattern = "^(active|all)$")]
    pub scope: Option<String>,
    /// Most rows (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Deliveries: HQ sees all, an outlet its own, a driver theirs.
#[utoipa::path(get, path = "/api/v1/deliveries", tag = "delivery", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = Vec<Delivery>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(role = who.role.as_str()))]
pub(super) async fn list(
    State(state): State<DeliveryState>,
    who: Principal,
    crate::infra::error::Query(q): crate::infra::error::Query<ListQuery>,
) -> Result<Json<Vec<Delivery>>> {
    who.require(&[Role::OutletStaff, Role::OutletManager, Role::Driver])?;
    let active = match q.scope.as_deref() {
        None | Some("active") => true,
        Some("all") => false,
        Some(other) => return Err(Error::Validation(format!("scope is active or all, not {other:?}"))),
    };
    let seen = match who.role {
        Role::HqAdmin => Seen::All,
        Role::Driver => Seen::Driver(who.subject.clone()),
        _ => Seen::Outlet(who.outlet_id.map(|o| o.to_string()).unwrap_or_default()),
    };
    let limit = patty_service::http::page_limit(q.limit, 100, 1000)?;
    Ok(Json(store::list(&state.db, active, seen, limit).await?))
}

/// One delivery (its customer, its outlet, its driver, HQ).
#[utoipa::path(get, path = "/api/v1/deliveries/{id}", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, body = Delivery), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(delivery = %id))]
pub(super) async fn get_one(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
) -> Result<Json<Delivery>> {
    let d = load(&state, id).await?;
    may_see(&who, &d)?;
    Ok(Json(d))
}

/// The delivery of an order, with the hand-over code: for the order's customer; for a delivery
/// taken at the counter (no customer account), for its outlet, which gives the customer the code.
#[utoipa::path(get, path = "/api/v1/orders/{id}/delivery", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "order id")),
    responses((status = 200, body = CustomerDelivery), (status = 403, body = patty_protocol::ErrorBody), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(order = %id))]
pub(super) async fn of_order(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<OrderId>,
) -> Result<Json<CustomerDelivery>> {
    who.require(&[Role::Customer, Role::Edge, Role::OutletStaff, Role::OutletManager])?;
    let (delivery, handover_code) = store::of_order(&state.db, id).await?.ok_or(DeliveryError::NoneForOrder(id))?;
    may_see(&who, &delivery)?;
    if who.role != Role::Customer && delivery.customer_id.is_some() {
        return Err(Error::Forbidden("an online order's code is for its customer alone".into()));
    }
    Ok(Json(CustomerDelivery { delivery, handover_code }))
}

/// A hand-over code, as the customer gave it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The digits.
    pub code: String,
}

async fn driver_act(state: &DeliveryState, who: &Principal, id: DeliveryId, action: Action) -> Result<Json<Delivery>> {
    if who.role != Role::Driver {
        return Err(Error::Forbidden("only a driver acts on a delivery".into()));
    }
    let job = load(state, id).await?.job;
    Ok(Json(act_on(state, &who.subject, None, job, action).await?))
}

/// Take the delivery on offer to me (driver).
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/accept", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, body = Delivery), (status = 409, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(delivery = %id))]
pub(super) async fn accept(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
) -> Result<Json<Delivery>> {
    driver_act(&state, &who, id, Action::Accept).await
}

/// Turn down the delivery on offer to me (driver).
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/decline", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, body = Delivery), (status = 409, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(delivery = %id))]
pub(super) async fn decline(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
) -> Result<Json<Delivery>> {
    driver_act(&state, &who, id, Action::Decline).await
}

/// I have the food (the delivery's driver).
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/pickup", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, body = Delivery), (status = 409, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(delivery = %id))]
pub(super) async fn pickup(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
) -> Result<Json<Delivery>> {
    driver_act(&state, &who, id, Action::PickedUp).await
}

/// The customer's code at the door (the delivery's driver): delivered, or 422 with the tries left.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/handover", tag = "delivery", security(("bearer" = [])), request_body = CodeRequest,
    params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, body = Delivery), (status = 409, body = patty_protocol::ErrorBody), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(delivery = %id))]
pub(super) async fn handover_code(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
    Json(req): Json<CodeRequest>,
) -> Result<Json<Delivery>> {
    driver_act(&state, &who, id, Action::Code(req.code)).await
}

/// A delivery's route: its fixes in order and its events (status, geofence, ETA), for replay.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Route {
    /// The delivery.
    pub delivery: Delivery,
    /// Its fixes, by sequence.
    pub fixes: Vec<DevicePosition>,
    /// Its events, in the order they were relayed.
    pub events: Vec<serde_json::Value>,
}

/// Replays one delivery: its fixes and its events (its customer, outlet, driver, HQ).
#[utoipa::path(get, path = "/api/v1/deliveries/{id}/route", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, body = Route), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(delivery = %id))]
pub(super) async fn route(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
) -> Result<Json<Route>> {
    let delivery = load(&state, id).await?;
    may_see(&who, &delivery)?;
    // With Kafka, from what the store's consumer group read off the delivery topics; without,
    // from the fixes kept as they were accepted and the relayed event log.
    if state.kafka.is_some() {
        let (fixes, events) = super::history::route(&state, &id.to_string()).await?;
        let fixes = fixes.into_iter().map(serde_json::from_value).collect::<std::result::Result<Vec<_>, _>>()?;
        return Ok(Json(Route { delivery, fixes, events }));
    }
    let fixes = store::fixes_of(&state.db, id).await?;
    let events = crate::events::read_after(&state.db, 0, Some(&id.to_string()), 10_000)
        .await?
        .into_iter()
        .map(|e| e.payload)
        .collect();
    Ok(Json(Route { delivery, fixes, events }))
}

/// A restricted area.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestrictedArea {
    /// Its id (ignored on create).
    #[serde(default)]
    pub id: String,
    /// Its name.
    #[schema(min_length = 1, max_length = 100, pattern = "[^\\s\\u0085]")]
    pub name: String,
    /// Its boundary: a ring of [lon, lat] points (GeoJSON order), at least three.
    #[schema(schema_with = area_schema)]
    pub ring: Vec<[f64; 2]>,
}

fn area_schema() -> utoipa::openapi::schema::Array {
    patty_protocol::outlet::ring_schema(3)
}

/// How the dashboard draws its map.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MapSettings {
    /// Tile URL template (`{z}/{x}/{y}`, Web Mercator), when tiles are configured.
    pub tiles: Option<String>,
    /// Their attribution.
    pub attribution: String,
    /// The radius of each outlet's pickup zone (a geofence), metres.
    pub pickup_radius_m: f64,
}

/// The map's settings (HQ and outlet staff): tiles are an optional layer under the cloud's own
/// geography.
#[utoipa::path(get, path = "/api/v1/map", tag = "delivery", security(("bearer" = [])),
    responses((status = 200, body = MapSettings), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub(super) async fn map_settings(State(state): State<DeliveryState>, who: Principal) -> Result<Json<MapSettings>> {
    who.require(&[Role::OutletStaff, Role::OutletManager])?;
    let hq = &state.config.hq;
    Ok(Json(MapSettings {
        tiles: (!hq.tiles.is_empty()).then(|| hq.tiles.clone()),
        attribution: hq.tiles_attribution.clone(),
        pickup_radius_m: state.config.delivery.pickup_radius_m,
    }))
}

/// Areas drivers should stay out of (HQ).
#[utoipa::path(get, path = "/api/v1/restricted-areas", tag = "delivery", security(("bearer" = [])),
    responses((status = 200, body = Vec<RestrictedArea>), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub(super) async fn areas(State(state): State<DeliveryState>, who: Principal) -> Result<Json<Vec<RestrictedArea>>> {
    who.require(&[])?;
    let areas = store::areas(&state.db).await?;
    Ok(Json(
        areas
            .into_iter()
            .map(|a| Ok(RestrictedArea { id: a.id, name: a.name, ring: serde_json::from_str(&a.ring)? }))
            .collect::<Result<_>>()?,
    ))
}

/// Adds a restricted area (HQ); in force on every replica within 30 seconds.
#[utoipa::path(post, path = "/api/v1/restricted-areas", tag = "delivery", security(("bearer" = [])), request_body = RestrictedArea,
    responses((status = 201, body = RestrictedArea), (status = 422, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all)]
pub(super) async fn add_area(
    State(state): State<DeliveryState>,
    who: Principal,
    Json(mut area): Json<RestrictedArea>,
) -> Result<impl IntoResponse> {
    who.require(&[])?;
    let valid = area.ring.len() >= 3
        && area.ring.len() <= 10_000
        && area.ring.iter().all(|[lon, lat]| LatLon { lat: *lat, lon: *lon }.is_valid());
    if !valid || patty_protocol::blank(&area.name) || area.name.chars().count() > 100 {
        return Err(Error::Validation(
            "a restricted area needs a name and a ring of 3 to 10,000 [lon, lat] points in range".into(),
        ));
    }
    area.id = uuid::Uuid::now_v7().to_string();
    let row =
        AreaRow { id: area.id.clone(), name: area.name.trim().to_owned(), ring: serde_json::to_string(&area.ring)? };
    store::insert_area(&state.db, &row, now_ms()).await?;
    // This replica sees it at once.
    tracking::zones_changed(&state);
    Ok((axum::http::StatusCode::CREATED, Json(area)))
}

/// One delivery live: positions with ETAs, milestones, geofence crossings (its customer, its
/// outlet, its driver, HQ).
#[utoipa::path(get, path = "/api/v1/deliveries/{id}/live", tag = "delivery", security(("bearer" = [])), params(("id" = String, Path, description = "delivery id")),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"), (status = 404, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(delivery = %id))]
pub(super) async fn live_one(
    State(state): State<DeliveryState>,
    who: Principal,
    Path(id): Path<DeliveryId>,
) -> Result<impl IntoResponse> {
    let d = load(&state, id).await?;
    may_see(&who, &d)?;
    Ok(live::stream(state, move |l| l.delivery == Some(id)))
}

/// The fleet live: HQ sees every driver; an outlet's staff the drivers on its deliveries; a
/// driver themselves.
#[utoipa::path(get, path = "/api/v1/fleet/live", tag = "fleet", security(("bearer" = [])),
    responses((status = 200, description = "text/event-stream", content_type = "text/event-stream"), (status = 403, body = patty_protocol::ErrorBody)))]
#[tracing::instrument(skip_all, fields(role = who.role.as_str()))]
pub(super) async fn live_fleet(State(state): State<DeliveryState>, who: Principal) -> Result<impl IntoResponse> {
    who.require(&[Role::OutletStaff, Role::OutletManager, Role::Driver])?;
    let keep: Box<dyn Fn(&Live) -> bool + Send> = match who.role {
        Role::HqAdmin => Box::new(|_| true),
        Role::Driver => {
            let me = who.subject.clone();
            Box::new(move |l| l.driver.as_deref() == Some(me.as_str()))
        }
        _ => {
            let outlet = who.outlet_id;
            Box::new(move |l| l.outlet.is_some() && l.outlet == outlet)
        }
    };
    Ok(live::stream(state, keep))
}
