use super::*;

fn waiting() -> Delivery {
    sample()
}

fn offered(to: &str) -> Delivery {
    apply(&waiting(), Step::Offer { driver: to.into(), device: format!("{to}-phone"), deadline_ms: 5_000 }, 1_000)
        .unwrap()
        .next
}

fn on_the_way() -> Delivery {
    let d = offered("ann");
    let d = apply(&d, Step::Accept { driver: "ann".into(), device: Some("ann-phone".into()) }, 2_000).unwrap().next;
    apply(&d, Step::PickedUp { driver: "ann".into() }, 3_000).unwrap().next
}

fn code(given: &str, d: &Delivery, now: i64) -> Result<Transition, DeliveryError> {
    let step = Step::Code {
        driver: "ann".into(),
        device: Some("ann-phone".into()),
        given: given.into(),
        expected: "0420".into(),
        max_attempts: 2,
    };
    apply(d, step, now)
}

#[test]
fn an_offer_goes_to_the_driver_s_device_and_only_they_may_take_it() {
    let t = apply(&waiting(), Step::Offer { driver: "ann".into(), device: "p1".into(), deadline_ms: 5_000 }, 1_000)
        .unwrap();
    assert_eq!(t.next.offered_to.as_deref(), Some("ann"));
    assert_eq!(t.events[0].kind, "delivery.offered");
    assert!(
        matches!(&t.commands[..], [Effect::Tell(Recipient::Device(p), Command::Offer { job: 7, deadline_s: 5, .. })] if p == "p1")
    );
    let d = t.next;
    assert!(matches!(
        apply(&d, Step::Accept { driver: "bob".into(), device: None }, 2_000),
        Err(DeliveryError::NotOffered(7))
    ));
    assert!(
        matches!(
            apply(&d, Step::Accept { driver: "ann".into(), device: None }, 6_000),
            Err(DeliveryError::NotOffered(7))
        ),
        "a lapsed offer is not open"
    );
    assert!(matches!(
        apply(&d, Step::Offer { driver: "bob".into(), device: "p2".into(), deadline_ms: 1 }, 2_000),
        Err(DeliveryError::NotNow(_))
    ));
}

#[test]
fn accepting_assigns_the_driver_and_tells_their_device() {
    let t = apply(&offered("ann"), Step::Accept { driver: "ann".into(), device: Some("p1".into()) }, 2_000).unwrap();
    assert_eq!(t.next.status, DeliveryStatus::Assigned);
    assert_eq!((t.next.driver_id.as_deref(), t.next.device_id.as_deref()), (Some("ann"), Some("p1")));
    assert_eq!((t.next.offered_to.clone(), t.next.offer_deadline_ms), (None, None));
    assert_eq!(t.next.milestones.last().map(|m| (m.status, m.at_ms)), Some((DeliveryStatus::Assigned, 2_000)));
    assert_eq!(t.events[0].kind, "delivery.assigned");
    assert_eq!(t.commands, vec![Effect::Tell(Recipient::Device("p1".into()), Command::Assigned { job: 7 })]);
}

#[test]
fn declining_or_letting_it_lapse_passes_it_on() {
    let t = apply(&offered("ann"), Step::Decline { driver: "ann".into() }, 2_000).unwrap();
    assert_eq!((t.next.offered_to.clone(), t.next.passed.clone()), (None, vec!["ann".to_owned()]));
    assert_eq!(t.events[0].kind, "delivery.declined");
    assert_eq!(t.commands, vec![Effect::WakeDispatch]);
    let t = apply(&offered("ann"), Step::Lapse, 6_000).unwrap();
    assert_eq!(t.next.passed, vec!["ann".to_owned()]);
    assert_eq!(t.events[0].kind, "delivery.offer_expired");
    assert_eq!(t.commands, vec![Effect::Tell(Recipient::DriverOf("ann".into()), Command::Withdrawn { job: 7 })]);
    let round = apply(&t.next, Step::NewRound, 70_000).unwrap();
    assert!(round.next.passed.is_empty() && round.events.is_empty() && round.next.round_started_ms == 70_000);
}

#[test]
fn the_driver_on_it_picks_it_up_and_the_order_follows() {
    let d = apply(&offered("ann"), Step::Accept { driver: "ann".into(), device: None }, 2_000).unwrap().next;
    assert!(matches!(apply(&d, Step::PickedUp { driver: "bob".into() }, 3_000), Err(DeliveryError::NotYours(7))));
    let t = apply(&d, Step::PickedUp { driver: "ann".into() }, 3_000).unwrap();
    assert_eq!(t.next.status, DeliveryStatus::PickedUp);
    assert_eq!(t.commands, vec![Effect::MoveOrder(OrderStatus::OutForDelivery)]);
    assert!(matches!(
        apply(&t.next, Step::PickedUp { driver: "ann".into() }, 4_000),
        Err(DeliveryError::Status { job: 7, status: DeliveryStatus::PickedUp })
    ));
}

#[test]
fn the_code_delivers_a_wrong_one_counts_and_locks() {
    let d = on_the_way();
    assert!(matches!(code("0420", &waiting(), 4_000), Err(DeliveryError::NotYours(7))));
    assert!(matches!(code("12a4", &d, 4_000), Err(DeliveryError::NotDigits)));
    assert!(matches!(code("0420", &d, 20_000), Err(DeliveryError::CodeExpired(7))));
    let right = code(" 0420 ", &d, 4_000).unwrap();
    assert_eq!(right.next.status, DeliveryStatus::Delivered);
    assert!(right.answer.is_none());
    assert_eq!(
        right.commands,
        vec![
            Effect::MoveOrder(OrderStatus::Completed),
            Effect::Tell(
                Recipient::Device("ann-phone".into()),
                Command::CodeResult { job: 7, ok: true, attempts_left: 0 }
            )
        ]
    );
    let wrong = code("1111", &d, 4_000).unwrap();
    assert_eq!((wrong.next.status, wrong.next.code_attempts), (DeliveryStatus::PickedUp, 1));
    assert_eq!(wrong.events[0].kind, "delivery.handover_failed");
    assert!(matches!(wrong.answer, Some(DeliveryError::WrongCode { job: 7, left: 1 })));
    let again = code("2222", &wrong.next, 4_000).unwrap();
    assert!(matches!(code("0420", &again.next, 4_000), Err(DeliveryError::CodeLocked { job: 7, max: 2 })));
}

#[test]
fn zones_reach_milestones_in_order_only() {
    let d =
        apply(&offered("ann"), Step::Accept { driver: "ann".into(), device: Some("p1".into()) }, 2_000).unwrap().next;
    let entered = |zone: String, kind| Crossing { zone, kind, name: String::new(), entered: true };
    let own = entered(format!("pickup:{}", d.outlet_id), ZoneKind::Pickup);
    assert_eq!(milestone_of(&d, &own), Some(DeliveryStatus::AtPickup));
    assert_eq!(milestone_of(&d, &entered("pickup:another".into(), ZoneKind::Pickup)), None);
    assert_eq!(milestone_of(&d, &entered("dropoff:x".into(), ZoneKind::Dropoff)), None, "not picked up yet");
    let near = |d: &Delivery| {
        apply(d, Step::Reached { to: DeliveryStatus::NearDropoff, zone: "dropoff:x".into(), max_attempts: 5 }, 4_000)
    };
    let picked = apply(&d, Step::PickedUp { driver: "ann".into() }, 3_000).unwrap().next;
    let t = near(&picked).unwrap();
    assert_eq!(t.next.status, DeliveryStatus::NearDropoff);
    assert_eq!(
        t.commands,
        vec![Effect::Tell(Recipient::Device("p1".into()), Command::Handover { job: 7, attempts_left: 5 })]
    );
    assert!(matches!(near(&t.next), Err(DeliveryError::NotNow(_))), "a milestone is reached once");
}

#[test]
fn a_withdrawn_order_cancels_and_whoever_holds_it_hears() {
    let t = apply(&offered("ann"), Step::Cancel { reason: "the order was withdrawn".into() }, 2_000).unwrap();
    assert_eq!(t.next.status, DeliveryStatus::Cancelled);
    assert_eq!(t.events[0].kind, "delivery.cancelled");
    assert_eq!(
        t.commands,
        vec![Effect::Tell(
            Recipient::DriverOf("ann".into()),
            Command::Cancel { job: 7, reason: "the order was withdrawn".into() }
        )]
    );
    assert!(apply(&t.next, Step::Cancel { reason: String::new() }, 3_000).is_err(), "once");
}
