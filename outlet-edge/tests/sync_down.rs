//! The downward stream's messages applied at the outlet: a catalog whole or not at all, sold-out
//! marks kept, open orders keeping their prices (a conflict each), online orders taken once,
//! customer cancels, thresholds, and frames replayed after a reconnect changing nothing.

mod common;

use patty_edge::sync::apply_frames;
use patty_protocol::change::{DownFrame, DownV1};
use patty_protocol::ids::OrderId;
use patty_protocol::menu::Menu;
use patty_protocol::order::Order;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn frame(position: u64, msg: DownV1) -> DownFrame {
    DownFrame { position, msg }
}

struct Outlet {
    state: patty_edge::infra::state::AppState,
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Outlet {
    async fn start() -> Self {
        let (state, base, dir) = common::in_process().await;
        Self { state, base, http: reqwest::Client::new(), _dir: dir }
    }

    async fn call(&self, pin: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let token = patty_tests::fixtures::pin_session(&self.http, &self.base, pin).await;
        let mut r = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b).header("idempotency-key", uuid::Uuid::new_v4().to_string());
        }
        let r = r.send().await.unwrap();
        let s = r.status();
        (s, r.json().await.unwrap_or(Value::Null))
    }

    async fn status(&self) -> Value {
        self.call("1234", reqwest::Method::GET, "/api/v1/sync/status", None).await.1
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downward_messages_apply_once_and_whole() {
    use reqwest::Method;
    let outlet = Outlet::start().await;
    let before = outlet.state.menu();
    let item = |m: &Menu, name: &str| m.items.iter().find(|i| i.name == name).unwrap().clone();
    let burger = item(&before, "Classic Patty");
    let water = item(&before, "Water");
    let cola = item(&before, "Cola");
    let status = outlet.status().await;
    assert_eq!((status["enabled"].clone(), status["link"].clone()), (json!(false), json!("disabled")));

    // A burger order stays open at the counter; cola is sold out here.
    let (s, open) = outlet
        .call("1111", Method::POST, "/api/v1/orders", Some(json!({ "channel": "counter", "fulfilment": "dine_in", "lines": [{ "item_id": burger.id, "quantity": 1 }] })))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{open}");
    let (s, _) = outlet
        .call(
            "1234",
            Method::PUT,
            &format!("/api/v1/menu/items/{}/sold-out", cola.id),
            Some(json!({ "sold_out": true })),
        )
        .await;
    assert!(s.is_success());

    // A version that does not check out is skipped whole; the position still moves on.
    apply_frames(&outlet.state, vec![frame(3, DownV1::Catalog { version: 1, menu_json: "{\"items\": 3}".into() })])
        .await
        .unwrap();
    assert_eq!(*outlet.state.menu(), *before);
    let mut bad = before.as_ref().clone();
    bad.items[0].category_id = patty_protocol::ids::CategoryId::new();
    apply_frames(
        &outlet.state,
        vec![frame(4, DownV1::Catalog { version: 1, menu_json: serde_json::to_string(&bad).unwrap() })],
    )
    .await
    .unwrap();
    assert_eq!(*outlet.state.menu(), *before, "a menu naming an unknown category is refused whole");
    assert_eq!(outlet.status().await["down_position"], 4);
    assert!(outlet.status().await["catalog_version"].is_null());

    // Version 2: the burger costs more and water is gone.
    let mut next = before.as_ref().clone();
    next.version = 2;
    next.items.retain(|i| i.id != water.id);
    next.items.iter_mut().filter(|i| i.id == burger.id).for_each(|i| i.price = 850);
    let catalog = DownV1::Catalog { version: 2, menu_json: serde_json::to_string(&next).unwrap() };
    apply_frames(&outlet.state, vec![frame(5, catalog.clone())]).await.unwrap();
    assert_eq!(*outlet.state.menu(), next);
    assert_eq!(outlet.status().await["catalog_version"], 2);
    let (_, menu) = outlet.call("1111", Method::GET, "/api/v1/menu", None).await;
    let items = menu["items"].as_array().unwrap();
    assert!(items.iter().all(|i| i["id"] != water.id.to_string().as_str()));
    let cola_now = items.iter().find(|i| i["id"] == cola.id.to_string().as_str()).unwrap();
    assert_eq!(cola_now["sold_out"], true, "a sold-out mark set here survives a new catalog");
    let (_, kept) =
        outlet.call("1111", Method::GET, &format!("/api/v1/orders/{}", open["id"].as_str().unwrap()), None).await;
    assert_eq!(kept["lines"][0]["unit_price"], 790);
    let (_, conflicts) = outlet.call("1234", Method::GET, "/api/v1/conflicts", None).await;
    assert_eq!(conflicts.as_array().unwrap().len(), 1, "{conflicts}");
    assert_eq!(conflicts[0]["kind"], "price_changed_while_open");
    assert_eq!(conflicts[0]["subject"], open["id"]);
    // The conflict travels up like any other change.
    let (_, changes) = outlet.call("1234", Method::GET, "/api/v1/changes?after=0&limit=5000", None).await;
    assert!(
        changes
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["change"]["conflict_raised"]["conflict"]["id"] == conflicts[0]["id"])
    );

    // A replay after a reconnect (positions already applied) changes nothing.
    apply_frames(&outlet.state, vec![frame(5, catalog)]).await.unwrap();
    let (_, again) = outlet.call("1234", Method::GET, "/api/v1/conflicts", None).await;
    assert_eq!(again.as_array().unwrap().len(), 1);

    // An online order arrives once, however often it is sent; a customer's cancel applies while it
    // is still placed.
    let mut online: Value = open.clone();
    let id = OrderId::new();
    online["id"] = json!(id);
    online["channel"] = json!("online");
    online["status"] = json!("placed");
    online["customer_id"] = json!("customer-1");
    let online: Order = serde_json::from_value(online).unwrap();
    let msg = DownV1::OnlineOrder { order: Box::new(online) };
    apply_frames(&outlet.state, vec![frame(6, msg.clone()), frame(7, msg)]).await.unwrap();
    let (_, orders) = outlet.call("1111", Method::GET, "/api/v1/orders?status=placed", None).await;
    assert_eq!(orders.as_array().unwrap().len(), 1, "{orders}");
    let cancel = DownV1::OrderCancelled { order_id: id, reason: Some("changed my mind".into()) };
    apply_frames(&outlet.state, vec![frame(8, cancel)]).await.unwrap();
    let (_, o) = outlet.call("1111", Method::GET, &format!("/api/v1/orders/{id}"), None).await;
    assert_eq!((o["status"].clone(), o["closed_reason"].clone()), (json!("cancelled"), json!("changed my mind")));

    // HQ's threshold.
    let ingredient = burger.recipe[0].ingredient_id;
    apply_frames(
        &outlet.state,
        vec![frame(9, DownV1::Threshold { ingredient_id: ingredient, reorder_level: 123_456 })],
    )
    .await
    .unwrap();
    let (_, levels) = outlet.call("1234", Method::GET, "/api/v1/inventory", None).await;
    let level =
        levels.as_array().unwrap().iter().find(|l| l["ingredient"]["id"] == ingredient.to_string().as_str()).unwrap();
    assert_eq!(level["ingredient"]["reorder_level"], 123_456);
    assert_eq!(level["low"], true);
    assert_eq!(outlet.status().await["down_position"], 9);

    // A cashier HQ added: listed at once, signs in once a manager sets a PIN here; HQ's
    // deactivation ends their session and their sign-ins.
    let noor = patty_protocol::staff::Staff {
        id: patty_protocol::ids::StaffId::new(),
        name: "Noor".into(),
        role: patty_protocol::staff::Role::Cashier,
        active: true,
    };
    apply_frames(&outlet.state, vec![frame(10, DownV1::Staff { staff: noor.clone() })]).await.unwrap();
    let (_, staff) = outlet.call("1234", Method::GET, "/api/v1/staff", None).await;
    assert!(staff.as_array().unwrap().iter().any(|s| s["name"] == "Noor" && s["role"] == "cashier"), "{staff}");
    let path = format!("/api/v1/staff/{}", noor.id);
    for (pin, status) in
        [("12", StatusCode::UNPROCESSABLE_ENTITY), ("1111", StatusCode::CONFLICT), ("5678", StatusCode::OK)]
    {
        let (s, e) = outlet.call("1234", Method::PATCH, &path, Some(json!({ "pin": pin }))).await;
        assert_eq!(s, status, "{pin}: {e}");
    }
    let sign_in = |pin: &'static str| {
        let (http, base) = (outlet.http.clone(), outlet.base.clone());
        async move {
            http.post(format!("{base}/api/v1/sessions")).json(&json!({ "pin": pin })).send().await.unwrap().status()
        }
    };
    assert_eq!(sign_in("5678").await, StatusCode::CREATED);
    let gone = patty_protocol::staff::Staff { active: false, ..noor };
    apply_frames(&outlet.state, vec![frame(11, DownV1::Staff { staff: gone })]).await.unwrap();
    assert_ne!(sign_in("5678").await, StatusCode::CREATED, "a member HQ deactivated cannot sign in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_for_managers_and_need_a_note() {
    use reqwest::Method;
    let outlet = Outlet::start().await;
    let (s, e) = outlet.call("1111", Method::GET, "/api/v1/conflicts", None).await;
    assert_eq!((s, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    let unknown = patty_protocol::ids::ConflictId::new();
    for (pin, body, status) in [
        ("1111", json!({ "note": "mine" }), StatusCode::FORBIDDEN),
        ("1234", json!({ "note": "" }), StatusCode::UNPROCESSABLE_ENTITY),
        ("1234", json!({ "note": 5 }), StatusCode::UNPROCESSABLE_ENTITY),
        ("1234", json!({ "note": "settled" }), StatusCode::NOT_FOUND),
    ] {
        let (s, e) =
            outlet.call(pin, Method::POST, &format!("/api/v1/conflicts/{unknown}/resolve"), Some(body.clone())).await;
        assert_eq!(s, status, "{body}: {e}");
        assert!(e["message"].is_string(), "{e}");
    }
    let (s, _) =
        outlet.call("1234", Method::POST, "/api/v1/conflicts/not-an-id/resolve", Some(json!({ "note": "x" }))).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "an id that cannot exist names nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_the_cloud_moves_along_finishes_at_the_outlet_and_never_moves_back() {
    use patty_protocol::order::{Channel, Fulfilment, OrderStatus};
    use reqwest::Method;
    let outlet = Outlet::start().await;
    let burger = outlet.state.menu().items.iter().find(|i| i.name == "Classic Patty").unwrap().id;
    let (s, taken) = outlet
        .call("1111", Method::POST, "/api/v1/orders", Some(json!({ "channel": "counter", "fulfilment": "takeaway", "lines": [{ "item_id": burger, "quantity": 1 }] })))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{taken}");
    let mut online: Order = serde_json::from_value(taken).unwrap();
    online.id = OrderId::new();
    online.channel = Channel::Online;
    online.status = OrderStatus::Placed;
    online.fulfilment = Fulfilment::Delivery;
    online.customer_id = Some("customer-1".into());
    let id = online.id;
    apply_frames(&outlet.state, vec![frame(1, DownV1::OnlineOrder { order: Box::new(online) })]).await.unwrap();
    let (s, o) = outlet.call("1234", Method::POST, &format!("/api/v1/kitchen/orders/{id}/bump"), None).await;
    assert_eq!((s, o["order"]["status"].clone()), (StatusCode::OK, json!("ready")), "{o}");

    let moved = |p, status| frame(p, DownV1::OrderMoved { order_id: id, status });
    apply_frames(&outlet.state, vec![moved(2, OrderStatus::OutForDelivery)]).await.unwrap();
    let (_, o) = outlet.call("1111", Method::GET, &format!("/api/v1/orders/{id}"), None).await;
    assert_eq!(o["status"], "out_for_delivery");
    apply_frames(&outlet.state, vec![moved(3, OrderStatus::Completed)]).await.unwrap();
    // A report behind what the outlet holds (a replay, a stale move) changes nothing.
    apply_frames(&outlet.state, vec![moved(4, OrderStatus::Ready)]).await.unwrap();
    let (_, o) = outlet.call("1111", Method::GET, &format!("/api/v1/orders/{id}"), None).await;
    assert_eq!(o["status"], "completed");
    // The outlet's log says so too, so the cloud's merge sees the same order.
    let (_, changes) = outlet.call("1234", Method::GET, "/api/v1/changes?after=0&limit=5000", None).await;
    let reported: Vec<_> = changes
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"]["order_status"]["order_id"] == json!(id))
        .map(|c| c["change"]["order_status"]["status"].clone())
        .collect();
    assert_eq!(reported, vec![json!("ready"), json!("out_for_delivery"), json!("completed")]);
}
