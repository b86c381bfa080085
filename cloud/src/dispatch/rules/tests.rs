use super::*;

#[test]
fn the_nearest_driver_to_the_pickup_is_chosen() {
    let d = crate::delivery::rules::sample();
    let c = |id: &str, lat: f64| Candidate { driver_id: id.into(), device_id: id.into(), position: (lat, 4.8926) };
    let candidates = [c("far", 52.40), c("near", 52.374), c("middle", 52.38)];
    assert_eq!(Nearest.choose(&d, &candidates), Some(1));
}

fn order(id: OrderId, status: &str, fulfilment: &str) -> Value {
    serde_json::json!({ "id": id, "status": status, "fulfilment": fulfilment, "delivery_address": null })
}

#[test]
fn order_events_are_read_from_a_move_and_from_a_first_record() {
    let id = OrderId::new();
    let moved = serde_json::json!({ "kind": "order.ready", "data": { "order_id": id, "from": "preparing", "to": "ready", "order": order(id, "ready", "delivery") } });
    let recorded = serde_json::json!({ "kind": "order.recorded", "data": order(id, "ready", "takeaway") });
    assert_eq!(seen(&moved, 5), Some(OrderSeen { order: id, status: OrderStatus::Ready, delivery: true, at_ms: 5 }));
    assert_eq!(seen(&recorded, 5).map(|s| (s.status, s.delivery)), Some((OrderStatus::Ready, false)));
    assert_eq!(seen(&serde_json::json!({ "kind": "catalog.published", "data": { "version": 3 } }), 5), None);
}

#[test]
fn each_order_s_latest_event_decides() {
    let now = 100 * 3600 * 1000;
    let (a, b, c, d) = (OrderId::new(), OrderId::new(), OrderId::new(), OrderId::new());
    let s = |order, status, delivery, at_ms| Some(OrderSeen { order, status, delivery, at_ms });
    let run = [
        s(a, OrderStatus::Ready, true, now),
        None,
        s(b, OrderStatus::Ready, true, now),
        s(b, OrderStatus::Cancelled, true, now),
        s(c, OrderStatus::Ready, false, now),
        s(d, OrderStatus::Ready, true, now - LOOK_BACK_MS - 1),
        s(a, OrderStatus::Ready, true, now),
    ];
    assert_eq!(decide(&run, now), vec![Decision::Cancel(b), Decision::Create(6)]);
}
