//! Who hears of an event, and with which values: each event kind the notifier follows becomes
//! zero or more [`Notice`]s (a kind of message for one person, with its template's values). What
//! the event itself does not carry is read from its owning room (the order, the delivery and its
//! hand-over code, the payment, the outlet's name, who manages the outlet), so a sealed event
//! needs no opening and the message says what is true when it is planned.

use super::NotifyState;
use super::rules::Kind;
use super::templates::Vars;
use crate::events::store::OutboxEvent;
use crate::infra::access::Role;
use crate::infra::error::Result;
use patty_protocol::ids::{DeliveryId, OrderId, OutletId};
use patty_protocol::order::{Fulfilment, Order};
use serde_json::Value;

/// The event kinds the notifier follows.
pub const KINDS: [&str; 12] = [
    "order.accepted",
    "order.cancelled",
    "order.voided",
    "delivery.picked_up",
    "delivery.delivered",
    "delivery.offered",
    "delivery.cancelled",
    "payment.refunded",
    "conflict.raised",
    "stock.low",
    "loyalty.points_earned",
    "loyalty.points_expiring",
];

/// A message of `kind` for `recipient`, rendered from `vars`.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    /// What kind.
    pub kind: Kind,
    /// The user it is for.
    pub recipient: String,
    /// The template's values (the recipient's name is added when it is sent).
    pub vars: Vars,
}

fn vars<const N: usize>(pairs: [(&str, String); N]) -> Vars {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// `EUR 12.50` (`EUR 12,50` in Dutch).
pub fn money(minor: i64, currency: &str, lang: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let (major, cents) = (minor.abs() / 100, minor.abs() % 100);
    let sep = if lang == "nl" { ',' } else { '.' };
    format!("{currency} {sign}{major}{sep}{cents:02}")
}

fn items(order: &Order) -> String {
    order.lines.iter().map(|l| format!("{} × {}", l.quantity, l.name)).collect::<Vec<_>>().join("\n")
}

/// What `event` means for whom.
pub async fn notices(state: &NotifyState, event: &OutboxEvent) -> Result<Vec<Notice>> {
    let data = event.payload.get("data").cloned().unwrap_or(Value::Null);
    let base = state.config.notify.public_url.trim_end_matches('/').to_owned();
    match event.kind.as_str() {
        "order.accepted" | "order.cancelled" | "order.voided" => {
            let Ok(id) = event.key.parse::<OrderId>() else { return Ok(vec![]) };
            let order = crate::ordering::store::load(&state.db, id).await?;
            let Some(customer) = order.customer_id.clone() else { return Ok(vec![]) };
            let kind = if event.kind == "order.accepted" { Kind::OrderAccepted } else { Kind::OrderRefused };
            let outlet = outlet_name(state, order.outlet_id).await;
            Ok(vec![Notice {
                kind,
                recipient: customer,
                vars: vars([
                    ("outlet", outlet),
                    ("order_no", order.number.to_string()),
                    ("items", items(&order)),
                    ("total", money(order.total, order.currency.as_str(), "en")),
                    ("link", format!("{base}/orders/{id}")),
                ]),
            }])
        }
        "delivery.picked_up" | "delivery.delivered" => {
            let Ok(id) = event.key.parse::<DeliveryId>() else { return Ok(vec![]) };
            let Some(d) = crate::delivery::store::load(&state.db, id).await? else { return Ok(vec![]) };
            let order = crate::ordering::store::load(&state.db, d.order_id).await?;
            let Some(customer) = order.customer_id.clone() else { return Ok(vec![]) };
            if order.fulfilment != Fulfilment::Delivery {
                return Ok(vec![]);
            }
            let mut v = vars([
                ("outlet", outlet_name(state, order.outlet_id).await),
                ("order_no", order.number.to_string()),
                ("link", format!("{base}/track/{}", d.order_id)),
            ]);
            let kind = if event.kind == "delivery.picked_up" {
                v.insert("code".into(), crate::delivery::store::code_of(&state.db, id).await?);
                Kind::OutForDelivery
            } else {
                v.insert("review_link".into(), format!("{base}/orders/{}/review", d.order_id));
                Kind::Delivered
            };
            Ok(vec![Notice { kind, recipient: customer, vars: v }])
        }
        "delivery.offered" | "delivery.cancelled" => {
            let driver = data.get("detail").and_then(|d| d.get("driver_id")).and_then(Value::as_str).map(str::to_owned);
            let driver = driver.or_else(|| data.get("driver_id").and_then(Value::as_str).map(str::to_owned));
            let Some(driver) = driver else { return Ok(vec![]) };
            let job = data.get("job").and_then(Value::as_u64).unwrap_or(0);
            let outlet = match data.get("outlet_id").and_then(Value::as_str).and_then(|o| o.parse().ok()) {
                Some(o) => outlet_name(state, o).await,
                None => String::from("the outlet"),
            };
            let mut v = vars([
                ("job", job.to_string()),
                ("outlet", outlet),
                ("link", format!("{base}/driver/jobs/{}", event.key)),
            ]);
            let kind = if event.kind == "delivery.offered" {
                let deadline = data.get("detail").and_then(|d| d.get("deadline_ms")).and_then(Value::as_i64);
                let at = event.payload.get("at_ms").and_then(Value::as_i64).unwrap_or(event.created_ms);
                v.insert("seconds".into(), deadline.map_or(60, |d| ((d - at) / 1000).max(1)).to_string());
                Kind::NewOffer
            } else {
                Kind::JobCancelled
            };
            Ok(vec![Notice { kind, recipient: driver, vars: v }])
        }
        "payment.refunded" => {
            let payment = crate::payments::store::load(&state.db, &event.key).await?;
            let amount = data.get("amount").and_then(Value::as_i64).unwrap_or(0);
            let (order_no, link) = match payment.order_id {
                Some(o) => {
                    let order = crate::ordering::store::load(&state.db, o).await?;
                    (order.number.to_string(), format!("{base}/orders/{o}"))
                }
                None => ("-".into(), format!("{base}/wallet")),
            };
            Ok(vec![Notice {
                kind: Kind::RefundMade,
                recipient: payment.customer_id.clone(),
                vars: vars([
                    ("amount", money(amount, &payment.currency, "en")),
                    ("order_no", order_no),
                    ("link", link),
                ]),
            }])
        }
        "conflict.raised" => {
            let Some(outlet) = data.get("outlet_id").and_then(Value::as_str).and_then(|o| o.parse::<OutletId>().ok())
            else {
                return Ok(vec![]);
            };
            let name = outlet_name(state, outlet).await;
            let v = vars([
                ("outlet", name),
                ("subject", data.get("subject").and_then(Value::as_str).unwrap_or("a change").to_owned()),
                ("detail", data.get("cloud_side").and_then(Value::as_str).unwrap_or("see the conflict").to_owned()),
                ("link", format!("{base}/hq/conflicts/{}", event.key)),
            ]);
            managers(state, outlet, false, Kind::SyncConflict, v).await
        }
        "stock.low" => {
            let Some(outlet) = data.get("outlet_id").and_then(Value::as_str).and_then(|o| o.parse::<OutletId>().ok())
            else {
                return Ok(vec![]);
            };
            let text = |k: &str| {
                data.get(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).unwrap_or_default()
            };
            let v = vars([
                ("outlet", outlet_name(state, outlet).await),
                ("ingredient", text("name")),
                ("on_hand", text("on_hand")),
                ("unit", unit(&text("unit"))),
                ("reorder_level", text("reorder_level")),
                ("link", format!("{base}/hq/outlets/{outlet}/stock")),
            ]);
            managers(state, outlet, false, Kind::LowStock, v).await
        }
        // The loyalty room's events carry their values; the customer is sealed, so opened here.
        "loyalty.points_earned" | "loyalty.points_expiring" => {
            let mut payload = event.payload.clone();
            state.vault.open(&state.db.pool, vec![&mut payload]).await?;
            let d = payload.get("data").cloned().unwrap_or(Value::Null);
            let Some(customer) = d.get("customer_id").and_then(Value::as_str).filter(|c| !c.is_empty()) else {
                return Ok(vec![]);
            };
            let kind = if event.kind == "loyalty.points_earned" { Kind::PointsEarned } else { Kind::PointsExpiring };
            let mut v: Vars = d
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| k.as_str() != "customer_id" && k.as_str() != "personal")
                        .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                        .collect()
                })
                .unwrap_or_default();
            v.insert("link".into(), format!("{base}/loyalty"));
            Ok(vec![Notice { kind, recipient: customer.to_owned(), vars: v }])
        }
        _ => Ok(vec![]),
    }
}

/// A unit as a manager writes it.
fn unit(stored: &str) -> String {
    match stored.trim_matches('"') {
        "piece" => "pcs".into(),
        "gram" => "g".into(),
        "millilitre" => "ml".into(),
        other => other.into(),
    }
}

/// The outlet's name ("an outlet" when it cannot be read: a message is better than none).
pub async fn outlet_name(state: &NotifyState, id: OutletId) -> String {
    match crate::outlets::store::load(&state.db, id).await {
        Ok(o) => o.name,
        Err(_) => "an outlet".into(),
    }
}

/// The message for each manager of `outlet` (and each HQ admin when `hq`, or when the outlet has
/// no manager).
pub async fn managers(state: &NotifyState, outlet: OutletId, hq: bool, kind: Kind, v: Vars) -> Result<Vec<Notice>> {
    let outlet = outlet.to_string();
    let mut people = crate::identity::store::users_with_role(&state.db, Role::OutletManager, Some(&outlet)).await?;
    if hq || people.is_empty() {
        people.extend(crate::identity::store::users_with_role(&state.db, Role::HqAdmin, None).await?);
    }
    Ok(people.into_iter().map(|u| Notice { kind, recipient: u.id, vars: v.clone() }).collect())
}
