//! Staff PINs: a terminal that guesses is locked on its own, for longer each time, and the manager
//! hears of it; PINs are stored as an HMAC under the outlet's key, and older digests are rewritten
//! at the next sign-in.

mod common;

use common::{CASHIER_PIN, Edge, MANAGER_PIN};
use futures::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const WRONG_PIN: &str = "9876";

/// A client whose requests come from `addr`, another terminal on the loopback network.
fn terminal(addr: &str) -> Client {
    Client::builder().local_address(addr.parse::<std::net::IpAddr>().unwrap()).build().unwrap()
}

async fn sign_in(edge: &Edge, from: &Client, pin: &str) -> reqwest::Response {
    from.post(edge.url("/api/v1/sessions")).json(&json!({ "pin": pin })).send().await.unwrap()
}

async fn retry_after(r: reqwest::Response) -> u64 {
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let secs = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "rate_limited");
    secs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guessing_terminal_is_locked_alone_for_longer_each_time_and_the_manager_hears_of_it() {
    let edge = Edge::start_with(|c| c.session.pin_lock_secs = 1).await;
    let manager = edge.login(MANAGER_PIN).await;
    // The manager's screen follows the live alerts.
    let stream = edge.get(&manager, "/api/v1/inventory/alerts/stream").await;
    assert_eq!(stream.status(), StatusCode::OK);
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut body = stream.bytes_stream();
        let mut text = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = text.find("\n\n") {
                let event: String = text.drain(..end + 2).collect();
                if seen_tx.send(event).is_err() {
                    return;
                }
            }
        }
    });

    let guesser = terminal("127.0.0.2");
    for _ in 0..5 {
        assert_eq!(sign_in(&edge, &guesser, WRONG_PIN).await.status(), StatusCode::UNAUTHORIZED);
    }
    // Locked: even a right PIN is not looked at.
    assert_eq!(retry_after(sign_in(&edge, &guesser, CASHIER_PIN).await).await, 1);
    // Another terminal signs in as usual.
    assert_eq!(sign_in(&edge, &terminal("127.0.0.3"), CASHIER_PIN).await.status(), StatusCode::CREATED);

    // After the lock, one more wrong PIN locks the terminal for twice as long.
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = loop {
        let r = sign_in(&edge, &guesser, WRONG_PIN).await;
        if r.status() != StatusCode::TOO_MANY_REQUESTS {
            break r;
        }
        assert!(Instant::now() < deadline, "the lock never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(retry_after(sign_in(&edge, &guesser, CASHIER_PIN).await).await, 2);
    // A right PIN from the terminal, once it may try again, does not wipe its record.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = sign_in(&edge, &guesser, CASHIER_PIN).await;
        if r.status() == StatusCode::CREATED {
            break;
        }
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(Instant::now() < deadline, "the second lock never ended");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sign_in(&edge, &guesser, WRONG_PIN).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(retry_after(sign_in(&edge, &guesser, CASHIER_PIN).await).await, 4);

    // Each lock is in the audit trail, by nobody, naming the terminal.
    let audit = edge.get_json(&manager, "/api/v1/audit").await;
    let locks: Vec<&Value> = audit.as_array().unwrap().iter().filter(|e| e["action"] == "sign_in_locked").collect();
    assert_eq!(locks.len(), 3, "{audit}");
    assert!(locks.iter().all(|e| e["target"] == "127.0.0.2" && e["staff_id"] == uuid::Uuid::nil().to_string()));
    assert_eq!(locks[0]["detail"], "7 wrong PINs; locked for 4 s");
    // And on the live stream.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut alerts = Vec::new();
    while alerts.len() < 3 {
        let event = tokio::time::timeout_at(deadline, seen.recv()).await.expect("three sign-in alerts").unwrap();
        if event.contains("event: sign_in_alert") {
            alerts.push(event);
        }
    }
    assert!(alerts[0].contains(r#""terminal":"127.0.0.2""#) && alerts[0].contains(r#""locked_secs":1"#), "{alerts:?}");
    edge.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_are_an_hmac_and_older_digests_are_rewritten_at_the_next_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let edge = Edge::start_with(|c| c.data_dir = data.clone()).await;
    edge.login(MANAGER_PIN).await;
    edge.stop().await;

    let key = std::fs::read(data.join("pin.key")).unwrap();
    let db = rusqlite::Connection::open(data.join("edge.db")).unwrap();
    let stored = |db: &rusqlite::Connection| -> String {
        db.query_row("SELECT pin_hash FROM staff WHERE name = 'Maya Manager'", [], |r| r.get(0)).unwrap()
    };
    assert_eq!(stored(&db), patty_edge::staff::pin_hash(&key, MANAGER_PIN), "stored as an HMAC");
    assert_ne!(stored(&db), patty_edge::staff::legacy_pin_hash(&key, MANAGER_PIN));
    // A store from before: the manager's PIN as the older SHA-256 digest.
    let legacy = patty_edge::staff::legacy_pin_hash(&key, MANAGER_PIN);
    db.execute("UPDATE staff SET pin_hash = ?1 WHERE name = 'Maya Manager'", [&legacy]).unwrap();
    drop(db);

    let edge = Edge::start_with(|c| c.data_dir = data.clone()).await;
    let manager = edge.login(MANAGER_PIN).await;
    // The PIN stays taken for anyone else.
    let r =
        edge.post(&manager, "/api/v1/staff", &json!({ "name": "Ola", "role": "cashier", "pin": MANAGER_PIN })).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    edge.stop().await;
    let db = rusqlite::Connection::open(data.join("edge.db")).unwrap();
    assert_eq!(stored(&db), patty_edge::staff::pin_hash(&key, MANAGER_PIN), "rewritten as an HMAC");
}
