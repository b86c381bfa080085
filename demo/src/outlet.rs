//! Staff at one outlet, through its edge's HTTP API with their PIN sessions, as the POS and the
//! kitchen screen would: the cashier takes counter orders and their payment and accepts online
//! orders as they come down from the cloud (or cancels one that stock cannot cover), the kitchen
//! starts each order and bumps it when it is made, the cashier hands over what is collected or
//! eaten in, and the manager receives stock when an ingredient runs low. Delivery orders wait at
//! ready for their driver; the cloud moves them on.

use crate::api::Staff;
use crate::sim::{DayClock, PEAK_DEMAND, Rng, basket};
use crate::stats::Stats;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The sample staff's PINs.
pub const MANAGER_PIN: &str = "1234";
/// The sample cashier's PIN.
pub const CASHIER_PIN: &str = "1111";
/// The sample kitchen's PIN.
pub const KITCHEN_PIN: &str = "2222";

/// The next thing staff will do to an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Accept an online order.
    Accept,
    /// Start making it.
    Cook,
    /// Bump it on the kitchen screen: ready.
    Bump,
    /// Hand it over at the counter (collected, or served to eat in): completed.
    HandOver,
}

/// One outlet's staff.
pub struct OutletStaff {
    /// The outlet's place in the chain (for the bookkeeping).
    pub index: usize,
    /// Signed in with the cashier's PIN.
    pub cashier: Staff,
    /// Signed in with the kitchen's PIN.
    pub kitchen: Staff,
    /// Signed in with the manager's PIN.
    pub manager: Staff,
    /// The demo's day.
    pub clock: DayClock,
    /// Counter orders a minute here at the quiet times.
    pub counter_rate: f64,
    /// How much faster than life the kitchen works.
    pub pace: f64,
    /// The bookkeeping.
    pub stats: Arc<Stats>,
    /// The orders the kitchen had already started when the run began ([`Customers::open`]): a
    /// few seconds of cooking left, so the first deliveries reach the door in the first minute.
    ///
    /// [`Customers::open`]: crate::customers::Customers::open
    pub opening: Arc<HashSet<String>>,
}

impl OutletStaff {
    /// Works until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut rng = Rng::from_entropy();
        let mut due: HashMap<String, (Step, Instant)> = HashMap::new();
        let mut menu = (Instant::now(), Value::Null);
        let mut next_counter = Instant::now() + rng.arrival_gap(self.counter_rate * PEAK_DEMAND / 60.0);
        let mut next_restock = Instant::now() + Duration::from_secs(10);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut taken = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {},
                _ = stop.changed() => return,
            }
            if menu.1.is_null() || menu.0.elapsed() > Duration::from_secs(20) {
                match self.cashier.get("/api/v1/menu").await.and_then(|r| r.ok("the menu")) {
                    Ok(m) => menu = (Instant::now(), m),
                    Err(e) => tracing::debug!(error = %e, "reading the menu"),
                }
            }
            // Customers at the counter (drawn at the peak rate, kept with the demand now); a few
            // at most per tick, however far behind.
            for _ in 0..3 {
                if Instant::now() < next_counter {
                    break;
                }
                next_counter = Instant::now() + rng.arrival_gap(self.counter_rate * PEAK_DEMAND / 60.0);
                if !self.clock.arrives(&mut rng) {
                    continue;
                }
                taken += 1;
                if let Err(e) = self.counter_order(&menu.1, &mut rng, taken).await {
                    tracing::debug!(error = %e, "a counter order");
                }
            }
            if let Err(e) = self.look(&mut due, &mut rng).await {
                tracing::debug!(error = %e, "the kitchen");
            }
            self.act(&mut due).await;
            if Instant::now() >= next_restock {
                next_restock = Instant::now() + Duration::from_secs(15);
                if let Err(e) = self.restock().await {
                    tracing::debug!(error = %e, "restocking");
                }
            }
        }
    }

    /// A customer at the counter: the order, then payment by card or cash.
    async fn counter_order(&self, menu: &Value, rng: &mut Rng, n: u64) -> anyhow::Result<()> {
        let lines = basket(menu, rng);
        if lines.is_empty() {
            return Ok(());
        }
        let fulfilment = if rng.chance(0.6) { "takeaway" } else { "dine_in" };
        let body = json!({ "channel": "counter", "fulfilment": fulfilment, "lines": lines });
        let key = uuid::Uuid::now_v7().to_string();
        let r = self.cashier.call(reqwest::Method::POST, "/api/v1/orders", Some(&body), Some(&key)).await?;
        if !r.status.is_success() {
            self.stats.refused();
            anyhow::bail!("counter order refused: {} {}", r.status, r.body);
        }
        self.stats.counter();
        let (id, total) = (r.body["id"].as_str().unwrap_or_default().to_owned(), r.body["total"].as_i64().unwrap_or(0));
        let tender = if rng.chance(0.35) {
            json!({ "method": "cash", "tendered": (total + 499) / 500 * 500 })
        } else {
            json!({ "method": "card", "amount": total, "reference": format!("demo-{}-{n}", self.index + 1) })
        };
        self.cashier.post(&format!("/api/v1/orders/{id}/tenders"), &tender).await?.ok("a tender")?;
        Ok(())
    }

    /// Looks at the kitchen queue and the orders ready at the counter, and plans the next step
    /// for each.
    async fn look(&self, due: &mut HashMap<String, (Step, Instant)>, rng: &mut Rng) -> anyhow::Result<()> {
        let queue = self.kitchen.get("/api/v1/kitchen/queue").await?.ok("the kitchen queue")?;
        let ready = self.cashier.get("/api/v1/orders?status=ready&limit=200").await?.ok("orders ready")?;
        let (mut new, mut cooking) = (0, 0);
        let mut seen = Vec::new();
        let now = Instant::now();
        let pace = self.pace;
        let mut plan = |id: &str, step: Step, after: Duration| {
            seen.push(id.to_owned());
            match due.get(id) {
                Some((s, _)) if *s == step => {}
                _ => {
                    due.insert(id.to_owned(), (step, now + after));
                }
            }
        };
        for ticket in queue.as_array().into_iter().flatten().filter(|t| t["recalled"] != true) {
            let order = &ticket["order"];
            let id = order["id"].as_str().unwrap_or_default();
            if self.opening.contains(id) {
                match order["status"].as_str() {
                    Some("placed") => plan(id, Step::Accept, Duration::ZERO),
                    Some("accepted") => plan(id, Step::Cook, Duration::ZERO),
                    Some("preparing") => plan(id, Step::Bump, rng.paced(20.0, 60.0, pace)),
                    _ => {}
                }
                cooking += 1;
                continue;
            }
            match order["status"].as_str() {
                // Seconds of life before someone looks at the screen; minutes to make the food.
                Some("placed") => {
                    new += 1;
                    plan(id, Step::Accept, rng.paced(20.0, 60.0, pace));
                }
                Some("accepted") => {
                    cooking += 1;
                    plan(id, Step::Cook, rng.paced(15.0, 45.0, pace));
                }
                Some("preparing") => {
                    cooking += 1;
                    plan(id, Step::Bump, rng.paced(120.0, 300.0, pace));
                }
                _ => {}
            }
        }
        for order in ready.as_array().into_iter().flatten().filter(|o| o["fulfilment"] != "delivery") {
            plan(order["id"].as_str().unwrap_or_default(), Step::HandOver, rng.paced(30.0, 180.0, pace));
        }
        due.retain(|id, _| seen.contains(id));
        self.stats.kitchen(self.index, new, cooking);
        Ok(())
    }

    /// Takes every step that is due.
    async fn act(&self, due: &mut HashMap<String, (Step, Instant)>) {
        let now = Instant::now();
        let ready: Vec<(String, Step)> =
            due.iter().filter(|(_, (_, at))| *at <= now).map(|(id, (s, _))| (id.clone(), *s)).collect();
        for (id, step) in ready {
            due.remove(&id);
            let status = |s: &str| json!({ "status": s });
            let path = format!("/api/v1/orders/{id}/status");
            let done = match step {
                Step::Accept => match self.cashier.post(&path, &status("accepted")).await {
                    // Stock cannot cover it, or an item is sold out here: the customer is told.
                    Ok(r) if r.status == reqwest::StatusCode::CONFLICT => {
                        self.stats.refused();
                        let reason = json!({ "reason": "sorry, sold out" });
                        self.cashier.post(&format!("/api/v1/orders/{id}/cancel"), &reason).await
                    }
                    r => r,
                },
                Step::Cook => self.kitchen.post(&path, &status("preparing")).await,
                Step::Bump => self.kitchen.post(&format!("/api/v1/kitchen/orders/{id}/bump"), &json!({})).await,
                Step::HandOver => self.cashier.post(&path, &status("completed")).await,
            };
            match done {
                Ok(r) if !r.status.is_success() => {
                    tracing::debug!(%id, ?step, status = %r.status, body = %r.body, "step refused")
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(%id, ?step, error = %e, "step failed"),
            }
        }
    }

    /// The manager receives a delivery of whatever is low.
    async fn restock(&self) -> anyhow::Result<()> {
        let levels = self.manager.get("/api/v1/inventory").await?.ok("stock levels")?;
        for level in levels.as_array().into_iter().flatten().filter(|l| l["low"] == true) {
            let reorder = level["ingredient"]["reorder_level"].as_i64().unwrap_or(10).max(10);
            let body = json!({ "ingredient_id": level["ingredient"]["id"], "quantity": reorder * 10, "note": "delivery from the warehouse" });
            self.manager.post("/api/v1/inventory/receive", &body).await?.ok("receiving stock")?;
        }
        Ok(())
    }
}
