//! A customer's erasure reaches every copy of their data: a customer orders for delivery, the
//! order goes through the outlet's till and kitchen to their door, they erase themselves, and
//! then every table of the cloud's database (on SQLite and on PostgreSQL), every table of the
//! outlet's database and every Kafka record are searched for their name, email, street, phone and
//! notes: nothing is found. Before the erasure, HQ's event feed still shows the delivery address
//! (authorised readers open what the events seal) while the stored events do not hold it.

use patty_tests::chain::{Agent, CloudOptions, HOME, OUTLET, deliver, job_of, linked_outlet, move_at_till};
use patty_tests::chain::{north, sample_item};
use patty_tests::fixtures::eventually;
use patty_tests::kafka::Broker;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sqlx::{Connection, Row};

/// What the customer told the chain about themselves, each unlike anything else in the tests.
const NAME: &str = "Wilhelmina Quackenbush";
const EMAIL: &str = "w.quackenbush@example.org";
const STREET: &str = "Zeedijk 77";
const PHONE: &str = "+31 6 1357 9246";
const NOTES: &str = "ring the yellow bell twice";

/// Where each secret was found, as `table.column` (or `topic`), for the assertion's message.
fn found(place: String, text: &str, hits: &mut Vec<String>) {
    for secret in [NAME, EMAIL, STREET, PHONE, NOTES] {
        if text.contains(secret) {
            hits.push(format!("{secret:?} in {place}"));
        }
    }
}

/// The first column of every row `sql` reads.
async fn names(conn: &mut sqlx::SqliteConnection, sql: &str) -> Vec<String> {
    sqlx::query(sql).fetch_all(conn).await.unwrap().iter().map(|r| r.get(0)).collect()
}

/// Every text (or blob) cell of every table of the SQLite database at `path`.
async fn sqlite_hits(path: &std::path::Path, hits: &mut Vec<String>) {
    let url = format!("sqlite://{}?mode=ro", path.display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let tables =
        names(&mut conn, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").await;
    assert!(tables.len() >= 5, "the catalog lists the tables: {tables:?}");
    for t in tables {
        let columns = names(&mut conn, &format!("SELECT name FROM pragma_table_info('{t}')")).await;
        for c in columns {
            // Blobs too (the outlet's change log is postcard): cast every cell to bytes.
            let rows = sqlx::query(&format!("SELECT CAST(\"{c}\" AS BLOB) FROM \"{t}\" WHERE \"{c}\" IS NOT NULL"))
                .fetch_all(&mut conn)
                .await
                .unwrap();
            for r in rows {
                let bytes: Vec<u8> = r.get(0);
                found(format!("{}: {t}.{c}", path.display()), &String::from_utf8_lossy(&bytes), hits);
            }
        }
    }
}

/// Every text column of every table of the PostgreSQL schema `url` uses.
async fn postgres_hits(url: &str, hits: &mut Vec<String>) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let columns = sqlx::query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(columns.len() >= 20, "the catalog lists the columns: {}", columns.len());
    for col in columns {
        let (t, c): (String, String) = (col.get(0), col.get(1));
        let rows = sqlx::query(&format!("SELECT \"{c}\"::text FROM \"{t}\" WHERE \"{c}\" IS NOT NULL"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for r in rows {
            found(format!("postgres: {t}.{c}"), &r.get::<String, _>(0), hits);
        }
    }
}

/// The customer orders for delivery, it reaches their door, they erase themselves; then nothing
/// of them is left anywhere. `postgres` is the cloud's database URL (none: SQLite).
async fn erasure_reaches_every_copy(postgres: Option<String>) {
    let kafka = Broker::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut envs = vec![];
    if let Some(url) = &postgres {
        envs.push(("PATTY_DATABASE__URL", url.clone()));
    }
    let opts = CloudOptions { kafka: Some(kafka.addr.clone()), envs, ..CloudOptions::default() };
    let (cloud, outlet, edge) = linked_outlet(dir.path(), opts, &[]).await;
    let (_, fay_device) = cloud.driver("fay").await;
    let mut fay = Agent::start(&fay_device, cloud.mqtt_port, dir.path());
    fay.at(north(OUTLET, 300.0));
    cloud.drivers_online(1).await;

    // Wilhelmina registers, gives her phone and her door, and orders with a note.
    let api = &cloud.api;
    let reg = json!({ "email": EMAIL, "password": "s3cret-pass", "name": NAME });
    let token = api.post_ok("", "/api/v1/auth/register", reg).await["access_token"].as_str().unwrap().to_owned();
    api.ok(Method::PATCH, &token, "/api/v1/me", Some(json!({ "phone": PHONE }))).await;
    let door = json!({ "label": "home", "line1": STREET, "city": "Amsterdam", "postcode": "1012 AB", "position": { "lat": HOME.0, "lon": HOME.1 } });
    let home = api.post_ok(&token, "/api/v1/me/addresses", door).await["id"].as_str().unwrap().to_owned();
    let basket = json!({ "outlet_id": outlet, "fulfilment": "delivery", "address_id": home, "notes": NOTES,
        "lines": [{ "item_id": sample_item("Classic Patty"), "quantity": 1, "notes": NOTES }] });
    let id = api.place(&token, "/api/v1/orders", "app-erase-1", &basket).await["id"].as_str().unwrap().to_owned();

    // The outlet makes it, Fay takes it to the door.
    let (cashier, kitchen) = (edge.api.pin("1111").await, edge.api.pin("2222").await);
    let at_till = edge.api.when_ok("the online order at the till", &cashier, &format!("/api/v1/orders/{id}")).await;
    assert_eq!(at_till["delivery_address"]["line1"], STREET, "the outlet reads the sealed order whole: {at_till}");
    move_at_till(&edge.api, &cashier, &id, "accepted").await;
    for status in ["preparing", "ready"] {
        move_at_till(&edge.api, &kitchen, &id, status).await;
    }
    let mine = api.when_ok("her delivery with its code", &token, &format!("/api/v1/orders/{id}/delivery")).await;
    let (job, code, delivery) = job_of(&mine);
    deliver(&cloud, &mut fay, job, delivery, code).await;
    eventually("her order completed", 30, || async {
        let v = api.ok(Method::GET, &token, &format!("/api/v1/orders/{id}"), None).await;
        (v["status"] == "completed").then_some(())
    })
    .await;

    // HQ's feed shows her address while her key exists.
    let events = api.get(&cloud.admin, "/api/v1/events?limit=5000").await;
    let placed = events.as_array().unwrap().iter().find(|e| e["kind"] == "order.placed").unwrap();
    assert_eq!(placed["payload"]["data"]["delivery_address"]["line1"], STREET, "{placed}");

    // She erases herself; the outlet hears of it and blanks its copy.
    let (s, v) = api.call(Method::POST, &token, "/api/v1/me/erasure", None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    eventually("the outlet's copy blank", 30, || async {
        let v = edge.api.ok(Method::GET, &cashier, &format!("/api/v1/orders/{id}"), None).await;
        (v["delivery_address"].is_null() && v["notes"] == "").then_some(())
    })
    .await;
    // The erasure's own events are relayed (to Kafka too) before the search.
    let relayed = || async {
        let v = api.get(&cloud.admin, "/api/v1/events?limit=5000").await;
        v.as_array().unwrap().iter().any(|e| e["kind"] == "customer.erased").then_some(v)
    };
    let events = eventually("the erasure relayed", 30, relayed).await;
    let placed = events.as_array().unwrap().iter().find(|e| e["kind"] == "order.placed").unwrap();
    assert!(placed["payload"]["data"]["delivery_address"].is_null(), "unreadable once the key is gone: {placed}");
    assert!(placed["payload"]["data"]["personal"]["enc"].is_string(), "still sealed: {placed}");

    let mut hits = vec![];
    match &postgres {
        Some(url) => postgres_hits(url, &mut hits).await,
        None => sqlite_hits(&dir.path().join("cloud/cloud.db"), &mut hits).await,
    }
    sqlite_hits(&dir.path().join("edge/edge.db"), &mut hits).await;
    let records = kafka.consume(&patty_protocol::topics::Topic::ALL.map(|t| t.name()), 1_000_000, 15);
    assert!(records.iter().any(|r| r["topic"] == "order.events"), "the consumer read the topics");
    for r in &records {
        found(format!("kafka {}", r["topic"]), &r.to_string(), &mut hits);
    }
    assert!(hits.is_empty(), "erased, yet found:\n{}", hits.join("\n"));

    // Her delivery keeps its record but names neither her nor her street.
    let d = api.get(&cloud.admin, &format!("/api/v1/deliveries/{delivery}")).await;
    assert_eq!((d["customer_id"].as_str(), d["dropoff"]["name"].as_str()), (None, Some("")), "{d}");
    assert_eq!(d["status"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_customer_is_found_nowhere_on_sqlite() {
    erasure_reaches_every_copy(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_customer_is_found_nowhere_on_postgres() {
    erasure_reaches_every_copy(Some(patty_tests::postgres::postgres_schema().await)).await;
}
