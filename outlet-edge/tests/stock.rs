//! Stock along the order state machine, against a real edge: every path an order can take (an
//! in-store order, or an online one arriving `placed`; every fulfilment; staff moves, the kitchen's
//! bump and recall, cancel, void, and the cloud's reports) takes the order's stock exactly once when
//! the outlet takes it on, and gives it back exactly as the cancel and void rules say.

mod common;

use patty_edge::sync::apply_frames;
use patty_protocol::change::{DownFrame, DownV1};
use patty_protocol::ids::{IngredientId, OrderId};
use patty_protocol::order::{Channel, Fulfilment, Order, OrderStatus};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where an order starts.
#[derive(Clone, Copy, Debug)]
enum Start {
    /// Taken at a till (phone for a delivery): `accepted`, its stock taken at once.
    Till(Fulfilment),
    /// From the cloud: `placed`, nothing taken yet.
    Online(Fulfilment),
}

/// What can happen to an order.
#[derive(Clone, Copy, Debug)]
enum Action {
    /// `POST /orders/{id}/status` with this status.
    Status(OrderStatus),
    /// The kitchen display's bump.
    Bump,
    /// The kitchen display's recall.
    Recall,
    /// Cancel with a reason.
    Cancel,
    /// A manager's void.
    Void,
}

fn fulfilment() -> impl Strategy<Value = Fulfilment> {
    prop::sample::select(vec![Fulfilment::DineIn, Fulfilment::Takeaway, Fulfilment::Delivery])
}

fn start() -> impl Strategy<Value = Start> {
    prop_oneof![fulfilment().prop_map(Start::Till), fulfilment().prop_map(Start::Online)]
}

fn action() -> impl Strategy<Value = Action> {
    use OrderStatus::*;
    prop_oneof![
        prop::sample::select(vec![Accepted, Preparing, Ready, OutForDelivery, Completed]).prop_map(Action::Status),
        Just(Action::Bump),
        Just(Action::Recall),
        Just(Action::Cancel),
        Just(Action::Void),
    ]
}

struct Outlet {
    state: patty_edge::infra::state::AppState,
    base: String,
    http: reqwest::Client,
    manager: String,
    /// An order whose lines the online orders copy (two Classic Patty), once taken.
    template: Option<Order>,
    /// What one order of the template uses.
    usage: BTreeMap<IngredientId, i64>,
    position: AtomicU64,
    _dir: tempfile::TempDir,
}

impl Outlet {
    async fn start() -> Self {
        let (state, base, dir) = common::in_process().await;
        let http = reqwest::Client::new();
        let manager = patty_tests::fixtures::pin_session(&http, &base, "1234").await;
        let menu = state.menu();
        let burger = menu.items.iter().find(|i| i.name == "Classic Patty").unwrap().clone();
        let mut usage = BTreeMap::new();
        for r in &burger.recipe {
            *usage.entry(r.ingredient_id).or_insert(0) += 2 * r.quantity;
        }
        let mut outlet =
            Self { state, base, http, manager, template: None, usage, position: AtomicU64::new(0), _dir: dir };
        // Enough of everything that no path is refused for want of stock.
        for ing in outlet.usage.clone().keys() {
            let (s, body) = outlet
                .call("POST", "/api/v1/inventory/receive", Some(json!({ "ingredient_id": ing, "quantity": 1_000_000 })))
                .await;
            assert!(s.is_success(), "{body}");
        }
        let (s, body) = outlet.call("POST", "/api/v1/orders", Some(outlet.till_order(Fulfilment::Takeaway))).await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        outlet.template = Some(serde_json::from_value(body).unwrap());
        outlet
    }

    fn till_order(&self, fulfilment: Fulfilment) -> Value {
        let burger = self.state.menu().items.iter().find(|i| i.name == "Classic Patty").unwrap().id;
        let mut body = json!({
            "channel": if fulfilment == Fulfilment::Delivery { "phone" } else { "counter" },
            "fulfilment": fulfilment,
            "lines": [{ "item_id": burger, "quantity": 2 }],
        });
        if fulfilment == Fulfilment::Delivery {
            body["delivery_address"] = json!({ "line1": "1 Main St", "city": "Amsterdam", "postcode": "1011", "position": { "lat": 52.37, "lon": 4.89 } });
        }
        body
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.manager);
        if let Some(b) = body {
            r = r.json(&b).header("idempotency-key", uuid::Uuid::new_v4().to_string());
        }
        let r = r.send().await.unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn down(&self, msg: DownV1) {
        let position = self.position.fetch_add(1, Ordering::Relaxed) + 1;
        apply_frames(&self.state, vec![DownFrame { position, msg }]).await.unwrap();
    }

    /// A new order that starts as `start` says.
    async fn begin(&self, start: Start) -> Order {
        match start {
            Start::Till(f) => {
                let (s, body) = self.call("POST", "/api/v1/orders", Some(self.till_order(f))).await;
                assert_eq!(s, StatusCode::CREATED, "{body}");
                serde_json::from_value(body).unwrap()
            }
            Start::Online(f) => {
                let mut o = self.template.clone().unwrap();
                o.id = OrderId::new();
                o.channel = Channel::Online;
                o.status = OrderStatus::Placed;
                o.fulfilment = f;
                o.customer_id = Some("customer-1".into());
                if f == Fulfilment::Delivery {
                    o.delivery_address = Some(
                        serde_json::from_value(json!({ "line1": "1 Main St", "city": "Amsterdam", "postcode": "1011", "position": { "lat": 52.37, "lon": 4.89 } }))
                            .unwrap(),
                    );
                }
                self.down(DownV1::OnlineOrder { order: Box::new(o.clone()) }).await;
                o
            }
        }
    }

    /// Does `action` to order `id`; the order afterwards if it was allowed.
    async fn act(&self, id: OrderId, action: Action) -> Option<Order> {
        let (s, body) = match action {
            Action::Status(to) => {
                self.call("POST", &format!("/api/v1/orders/{id}/status"), Some(json!({ "status": to }))).await
            }
            Action::Bump => self.call("POST", &format!("/api/v1/kitchen/orders/{id}/bump"), None).await,
            Action::Recall => self.call("POST", &format!("/api/v1/kitchen/orders/{id}/recall"), None).await,
            Action::Cancel => {
                self.call("POST", &format!("/api/v1/orders/{id}/cancel"), Some(json!({ "reason": "test" }))).await
            }
            Action::Void => {
                self.call("POST", &format!("/api/v1/orders/{id}/void"), Some(json!({ "reason": "test" }))).await
            }
        };
        match s {
            StatusCode::OK => {
                let order = if body.get("order").is_some() { body["order"].clone() } else { body };
                Some(serde_json::from_value(order).unwrap())
            }
            StatusCode::CONFLICT => None,
            other => panic!("{action:?}: {other} {body}"),
        }
    }

    /// What order `id`'s sale movements have taken, per ingredient (positive).
    async fn taken(&self, id: OrderId) -> BTreeMap<IngredientId, i64> {
        self.state
            .store
            .read(move |c| {
                let mut st = c.prepare(
                    "SELECT ingredient_id, -SUM(delta) FROM stock_movements WHERE order_id = ?1 AND kind = 'sale'
                     GROUP BY ingredient_id HAVING SUM(delta) != 0",
                )?;
                let rows = st.query_map([id.to_string()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
                let mut out = BTreeMap::new();
                for row in rows {
                    let (ing, q) = row?;
                    out.insert(ing.parse().unwrap(), q);
                }
                Ok(out)
            })
            .await
            .unwrap()
    }
}

/// The rule, as the kitchen sees it: an order holds its stock once the outlet has taken it on (any
/// status past `placed`) until it is cancelled, or voided before the kitchen started on it.
fn holds(held: bool, from: OrderStatus, to: OrderStatus) -> bool {
    use OrderStatus::*;
    match to {
        Placed | Cancelled => false,
        Voided => held && !matches!(from, Placed | Accepted),
        _ => true,
    }
}

#[test]
fn every_path_of_the_state_machine_takes_stock_exactly_once() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let outlet = rt.block_on(Outlet::start());
    let mut runner = TestRunner::new(RunnerConfig { cases: 96, failure_persistence: None, ..RunnerConfig::default() });
    runner
        .run(&(start(), prop::collection::vec(action(), 0..8)), |(start, actions)| {
            rt.block_on(async {
                let mut order = outlet.begin(start).await;
                let mut held = order.status != OrderStatus::Placed;
                let expect = |held: bool| if held { outlet.usage.clone() } else { BTreeMap::new() };
                assert_eq!(outlet.taken(order.id).await, expect(held), "{start:?} at the start");
                for (n, a) in actions.iter().enumerate() {
                    if let Some(next) = outlet.act(order.id, *a).await {
                        held = holds(held, order.status, next.status);
                        order = next;
                    }
                    assert_eq!(
                        outlet.taken(order.id).await,
                        expect(held),
                        "{start:?} then {:?}: now {:?}",
                        &actions[..=n],
                        order.status
                    );
                }
            });
            Ok(())
        })
        .unwrap();
}
