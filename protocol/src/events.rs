//! The domain events, one type per kind, each with its topic: what the cloud records in its outbox
//! and publishes to Kafka as `{event_id, kind, key, at_ms, data}`, `data` being the type's JSON.
//! Consumers (the edge's downward stream, the delivery event store, other systems) read the same
//! types. Field names are the wire contract: they only ever grow.

use crate::conflict::Conflict;
use crate::delivery::{DeliveryStatus, ZoneKind};
use crate::ids::{DeliveryId, IngredientId, OrderId, OutletId};
use crate::order::{Order, OrderStatus};
use crate::staff::Staff;
use crate::topics::Topic;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A domain event: its topic, its kind as consumers see it, and the aggregate it is about (the
/// Kafka key, so one aggregate's events stay in order in their partition).
pub trait DomainEvent: Serialize {
    /// The topic it is published on.
    const TOPIC: Topic;
    /// Its kind (`order.placed`).
    fn kind(&self) -> String;
    /// The aggregate's id.
    fn key(&self) -> String;
}

/// `catalog.published`: HQ published a catalog version (sent down to every outlet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogPublished {
    /// The version number.
    pub version: i64,
    /// How many menu items it has.
    pub items: usize,
}

impl DomainEvent for CatalogPublished {
    const TOPIC: Topic = Topic::Catalog;
    fn kind(&self) -> String {
        "catalog.published".into()
    }
    fn key(&self) -> String {
        "catalog".into()
    }
}

/// `customer.registered`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerRegistered {
    /// The new account.
    pub user_id: String,
}

impl DomainEvent for CustomerRegistered {
    const TOPIC: Topic = Topic::Customer;
    fn kind(&self) -> String {
        "customer.registered".into()
    }
    fn key(&self) -> String {
        self.user_id.clone()
    }
}

/// `customer.erased`: a customer's personal data is gone; consumers that keep copies act on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerErased {
    /// The erased account.
    pub user_id: String,
}

impl DomainEvent for CustomerErased {
    const TOPIC: Topic = Topic::Customer;
    fn kind(&self) -> String {
        "customer.erased".into()
    }
    fn key(&self) -> String {
        self.user_id.clone()
    }
}

/// `customer.orders_erased`: one outlet is to blank its copies of an erased customer's orders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrdersErased {
    /// The outlet holding them (the key; not in the data).
    #[serde(skip)]
    pub outlet_id: Option<OutletId>,
    /// The orders.
    pub order_ids: Vec<OrderId>,
}

impl DomainEvent for OrdersErased {
    const TOPIC: Topic = Topic::Customer;
    fn kind(&self) -> String {
        "customer.orders_erased".into()
    }
    fn key(&self) -> String {
        self.outlet_id.map(|o| o.to_string()).unwrap_or_default()
    }
}

/// `notification.{purpose}_requested`: a security message (verification, reset) was sent to a
/// user. It names the user and the purpose only: the token goes only to the user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityMessageRequested {
    /// Whom.
    pub user_id: String,
    /// `email_verification` or `password_reset`.
    pub purpose: String,
}

impl DomainEvent for SecurityMessageRequested {
    const TOPIC: Topic = Topic::Notification;
    fn kind(&self) -> String {
        format!("notification.{}_requested", self.purpose)
    }
    fn key(&self) -> String {
        self.user_id.clone()
    }
}

/// `order.placed` (online) or `order.recorded` (first heard of from an outlet): the whole order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderPlaced {
    /// The order.
    pub order: Order,
    /// Whether it was placed here (`order.placed`) or recorded from an outlet's log.
    #[serde(skip)]
    pub recorded: bool,
}

impl DomainEvent for OrderPlaced {
    const TOPIC: Topic = Topic::Order;
    fn kind(&self) -> String {
        if self.recorded { "order.recorded" } else { "order.placed" }.into()
    }
    fn key(&self) -> String {
        self.order.id.to_string()
    }
}

/// `order.{to}`: an order moved from one status to another.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderMoved {
    /// The order.
    pub order_id: OrderId,
    /// Its status before.
    pub from: OrderStatus,
    /// Its status now.
    pub to: OrderStatus,
    /// The order as it is now.
    pub order: Order,
}

impl DomainEvent for OrderMoved {
    const TOPIC: Topic = Topic::Order;
    fn kind(&self) -> String {
        format!("order.{}", self.to.as_str())
    }
    fn key(&self) -> String {
        self.order_id.to_string()
    }
}

/// What an order's news is: first heard of, or moved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrderEvent {
    /// It moved.
    Moved(OrderMoved),
    /// It was placed or recorded.
    Placed(OrderPlaced),
}

impl DomainEvent for OrderEvent {
    const TOPIC: Topic = Topic::Order;
    fn kind(&self) -> String {
        match self {
            Self::Moved(e) => e.kind(),
            Self::Placed(e) => e.kind(),
        }
    }
    fn key(&self) -> String {
        match self {
            Self::Moved(e) => e.key(),
            Self::Placed(e) => e.key(),
        }
    }
}

/// `conflict.raised` / `conflict.resolved`: a sync conflict and its state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConflictChanged {
    /// The conflict.
    pub conflict: Conflict,
    /// Resolved (else raised).
    #[serde(skip)]
    pub resolved: bool,
}

impl DomainEvent for ConflictChanged {
    const TOPIC: Topic = Topic::Sync;
    fn kind(&self) -> String {
        if self.resolved { "conflict.resolved" } else { "conflict.raised" }.into()
    }
    fn key(&self) -> String {
        self.conflict.id.to_string()
    }
}

/// `stock.threshold_set`: HQ set an ingredient's reorder level at an outlet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StockThresholdSet {
    /// The outlet.
    pub outlet_id: OutletId,
    /// The ingredient.
    pub ingredient_id: IngredientId,
    /// The level, in the ingredient's unit.
    pub reorder_level: i64,
}

impl DomainEvent for StockThresholdSet {
    const TOPIC: Topic = Topic::Sync;
    fn kind(&self) -> String {
        "stock.threshold_set".into()
    }
    fn key(&self) -> String {
        self.ingredient_id.to_string()
    }
}

/// `stock.low`: an outlet's level of an ingredient fell below its reorder level (once per
/// crossing), as its synced movements show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StockLow {
    /// The outlet.
    pub outlet_id: OutletId,
    /// The ingredient's id.
    pub ingredient_id: String,
    /// Its name.
    pub name: String,
    /// Its unit.
    pub unit: String,
    /// On hand now.
    pub on_hand: i64,
    /// The reorder level it fell below.
    pub reorder_level: i64,
}

impl DomainEvent for StockLow {
    const TOPIC: Topic = Topic::Sync;
    fn kind(&self) -> String {
        "stock.low".into()
    }
    fn key(&self) -> String {
        self.ingredient_id.clone()
    }
}

/// `staff.upserted`: HQ created or changed an outlet's staff member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StaffUpserted {
    /// The staff member.
    pub staff: Staff,
}

impl DomainEvent for StaffUpserted {
    const TOPIC: Topic = Topic::Sync;
    fn kind(&self) -> String {
        "staff.upserted".into()
    }
    fn key(&self) -> String {
        self.staff.id.to_string()
    }
}

/// `delivery.{what}`: a delivery's status event (created, offered, declined, offer_expired,
/// assigned, at_pickup, picked_up, near_dropoff, delivered, handover_failed, cancelled…).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryChanged {
    /// What happened, after `delivery.`.
    #[serde(skip)]
    pub what: String,
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// Its short job number.
    pub job: u32,
    /// Its order.
    pub order_id: OrderId,
    /// Its outlet.
    pub outlet_id: OutletId,
    /// Its status now.
    pub status: DeliveryStatus,
    /// Its driver, once assigned.
    pub driver_id: Option<String>,
    /// What the event adds (the driver offered, the try's result…).
    pub detail: Value,
}

impl DomainEvent for DeliveryChanged {
    const TOPIC: Topic = Topic::DeliveryStatus;
    fn kind(&self) -> String {
        format!("delivery.{}", self.what)
    }
    fn key(&self) -> String {
        self.delivery_id.to_string()
    }
}

/// `geofence.entered` / `geofence.exited`: a driver crossed a zone's boundary (an outlet's pickup
/// zone, a customer's drop-off zone, a restricted area).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeofenceCrossed {
    /// The delivery it is about, else the device (the key; not in the data).
    #[serde(skip)]
    pub key: String,
    /// Entered (else left); in the kind, not the data.
    #[serde(skip)]
    pub entered: bool,
    /// The zone's id.
    pub zone: String,
    /// What the zone is for.
    pub zone_kind: ZoneKind,
    /// The zone's name (a drop-off zone's is the customer's street: personal).
    pub zone_name: String,
    /// The device.
    pub device_id: String,
    /// Its driver.
    pub driver_id: String,
    /// The delivery under way, if any.
    pub delivery_id: Option<DeliveryId>,
    /// Where, `[lat, lon]`.
    pub at: (f64, f64),
    /// The fix's accuracy, metres.
    pub accuracy_m: u16,
}

impl DomainEvent for GeofenceCrossed {
    const TOPIC: Topic = Topic::GeofenceAlert;
    fn kind(&self) -> String {
        if self.entered { "geofence.entered" } else { "geofence.exited" }.into()
    }
    fn key(&self) -> String {
        self.key.clone()
    }
}

/// `geofence.device_entered` / `geofence.device_exited`: a device's own region monitoring (an
/// OwnTracks region) reported a crossing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeviceCrossed {
    /// The device.
    pub device_id: String,
    /// Its driver.
    pub driver_id: String,
    /// The region's name as the device knows it.
    pub region: String,
    /// Entered (else left).
    pub entered: bool,
}

impl DomainEvent for DeviceCrossed {
    const TOPIC: Topic = Topic::GeofenceAlert;
    fn kind(&self) -> String {
        if self.entered { "geofence.device_entered" } else { "geofence.device_exited" }.into()
    }
    fn key(&self) -> String {
        self.device_id.clone()
    }
}

/// `delivery.eta`: a delivery's ETA changed by a minute or more.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryEta {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// Its job number.
    pub job: u32,
    /// Seconds to the pickup, while before it.
    pub eta_pickup_s: Option<u32>,
    /// Seconds to the drop-off.
    pub eta_dropoff_s: Option<u32>,
    /// From where, `[lat, lon]`.
    pub at: (f64, f64),
}

impl DomainEvent for DeliveryEta {
    const TOPIC: Topic = Topic::DeliveryRoute;
    fn kind(&self) -> String {
        "delivery.eta".into()
    }
    fn key(&self) -> String {
        self.delivery_id.to_string()
    }
}

/// `payment.{what}`: a payment changed (authorised, captured, failed, cancelled, refunded,
/// refund_failed). Amounts and ids only: no card data, no provider secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaymentChanged {
    /// What happened: `authorised`, `captured`, `failed`, `cancelled`, `refunded`, `refund_failed`.
    pub what: String,
    /// The cloud's payment id.
    pub payment_id: String,
    /// The order it pays for, if any (a wallet top-up has none).
    pub order_id: Option<OrderId>,
    /// The paying customer (sealed under their data key).
    pub customer_id: String,
    /// `test`, `stripe`, `razorpay` or `wallet`.
    pub provider: String,
    /// ISO 4217.
    pub currency: String,
    /// The amount this change concerns, minor units (the authorisation, the capture, the refund).
    pub amount: i64,
    /// Captured so far.
    pub captured: i64,
    /// Refunded so far.
    pub refunded: i64,
    /// The refund's id, for refund changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// Why, for a failure or a refund (a provider's code or a manager's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl DomainEvent for PaymentChanged {
    const TOPIC: Topic = Topic::Payment;
    fn kind(&self) -> String {
        format!("payment.{}", self.what)
    }
    fn key(&self) -> String {
        self.payment_id.clone()
    }
}

/// `payment.wallet_moved`: a ledger transaction moved money into or out of a customer's wallet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WalletMoved {
    /// The ledger transaction.
    pub txn_id: String,
    /// Its kind: `top_up`, `hold`, `release`, `spend`, `refund`.
    pub kind: String,
    /// The customer (sealed under their data key).
    pub customer_id: String,
    /// ISO 4217.
    pub currency: String,
    /// Into the wallet (positive) or out of it (negative), minor units.
    pub amount: i64,
    /// The balance after it.
    pub balance: i64,
}

impl DomainEvent for WalletMoved {
    const TOPIC: Topic = Topic::Payment;
    fn kind(&self) -> String {
        "payment.wallet_moved".into()
    }
    fn key(&self) -> String {
        self.txn_id.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_keys_follow_the_data() {
        let r = SecurityMessageRequested { user_id: "u".into(), purpose: "password_reset".into() };
        assert_eq!((r.kind(), r.key()), ("notification.password_reset_requested".into(), "u".into()));
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!({ "user_id": "u", "purpose": "password_reset" })
        );
        let e = OrdersErased { outlet_id: None, order_ids: vec![] };
        assert_eq!(serde_json::to_value(&e).unwrap(), serde_json::json!({ "order_ids": [] }));
        assert_eq!(<CatalogPublished as DomainEvent>::TOPIC, Topic::Catalog);
    }
}
