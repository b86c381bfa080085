//! The conformance stories: the same scenarios against SQLite (the embedded default) and
//! PostgreSQL, through the real HTTP API.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn identity(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let admin = cloud.admin().await;
    let reg = cloud.register("Ada@Example.com").await;
    assert_eq!(reg["user"]["email"], "ada@example.com", "emails are normalised");
    assert_eq!(reg["user"]["role"], "customer");
    // The same email again is a conflict; bad input is refused.
    let again = cloud
        .send(
            Method::POST,
            None,
            "/api/v1/auth/register",
            Some(&json!({ "email": "ada@example.com", "password": "another-pass", "name": "A" })),
        )
        .await;
    assert_eq!(cloud.json(again, StatusCode::CONFLICT).await["code"], "conflict");
    let short = cloud
        .send(
            Method::POST,
            None,
            "/api/v1/auth/register",
            Some(&json!({ "email": "b@example.com", "password": "short", "name": "B" })),
        )
        .await;
    assert_eq!(cloud.json(short, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "validation");
    let bad_email = cloud
        .send(
            Method::POST,
            None,
            "/api/v1/auth/register",
            Some(&json!({ "email": "nobody", "password": "long enough", "name": "B" })),
        )
        .await;
    assert_eq!(bad_email.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let wrong = cloud
        .send(
            Method::POST,
            None,
            "/api/v1/auth/login",
            Some(&json!({ "email": "ada@example.com", "password": "not-it-at-all" })),
        )
        .await;
    assert_eq!(cloud.json(wrong, StatusCode::UNAUTHORIZED).await["code"], "unauthorized");

    // Refresh rotates; the old token used again revokes the family.
    let first = reg["refresh_token"].as_str().unwrap();
    let r = cloud.send(Method::POST, None, "/api/v1/auth/refresh", Some(&json!({ "refresh_token": first }))).await;
    let second = cloud.json(r, StatusCode::OK).await;
    let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first);
    let who = cloud
        .json(cloud.get(second["access_token"].as_str().unwrap(), "/api/v1/auth/whoami").await, StatusCode::OK)
        .await;
    assert_eq!(who["email"], "ada@example.com");
    let reuse = cloud.send(Method::POST, None, "/api/v1/auth/refresh", Some(&json!({ "refresh_token": first }))).await;
    assert_eq!(reuse.status(), StatusCode::UNAUTHORIZED);
    let after =
        cloud.send(Method::POST, None, "/api/v1/auth/refresh", Some(&json!({ "refresh_token": second_refresh }))).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "the whole family is revoked after a reuse");

    // Email verification and password reset are notification events; their single-use tokens
    // arrive only in the message mailed to the customer.
    let events = cloud.events(&admin, 2).await;
    let verify =
        events.iter().find(|e| e["kind"] == "notification.email_verification_requested").expect("a verification event");
    assert_eq!(verify["topic"], "notification.events");
    let token = &cloud.mailed_token("ada@example.com", "email_verification").await;
    let ok = cloud.send(Method::POST, None, "/api/v1/auth/verify-email", Some(&json!({ "token": token }))).await;
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    let twice = cloud.send(Method::POST, None, "/api/v1/auth/verify-email", Some(&json!({ "token": token }))).await;
    assert_eq!(twice.status(), StatusCode::UNPROCESSABLE_ENTITY, "single use");
    let login = cloud.login("ada@example.com", "s3cret-pass").await;
    assert_eq!(login["user"]["email_verified"], true);

    let r = cloud
        .send(Method::POST, None, "/api/v1/auth/password-reset", Some(&json!({ "email": "nobody@example.com" })))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED, "no hint whether an account exists");
    let r = cloud
        .send(Method::POST, None, "/api/v1/auth/password-reset", Some(&json!({ "email": "ada@example.com" })))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let events = cloud.events(&admin, 3).await;
    assert!(events.iter().any(|e| e["kind"] == "notification.password_reset_requested"), "a reset event");
    let token = &cloud.mailed_token("ada@example.com", "password_reset").await;
    let r = cloud
        .send(
            Method::POST,
            None,
            "/api/v1/auth/password-reset/confirm",
            Some(&json!({ "token": token, "password": "brand-new-pass" })),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let old = cloud
        .send(Method::POST, None, "/api/v1/auth/refresh", Some(&json!({ "refresh_token": login["refresh_token"] })))
        .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED, "a reset revokes every refresh token");
    cloud.login("ada@example.com", "brand-new-pass").await;
    cloud.stop().await;
}

/// A token that lets someone act as a user reaches only the message sent to that user: after a
/// registration (email verification) and a password reset, no event payload holds a token.
async fn no_token_in_the_event_feed(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let admin = cloud.admin().await;
    let reg = cloud.register("ada@example.com").await;
    let user_id = reg["user"]["id"].as_str().unwrap();
    let r = cloud
        .send(Method::POST, None, "/api/v1/auth/password-reset", Some(&json!({ "email": "ada@example.com" })))
        .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let events = cloud.events(&admin, 3).await;
    for (kind, purpose) in [
        ("notification.email_verification_requested", "email_verification"),
        ("notification.password_reset_requested", "password_reset"),
    ] {
        let e = events.iter().find(|e| e["kind"] == kind).unwrap_or_else(|| panic!("a {kind} event"));
        assert_eq!(
            e["payload"]["data"],
            json!({ "user_id": user_id, "purpose": purpose }),
            "the user and purpose only"
        );
    }
    let mailed = [
        cloud.mailed_token("ada@example.com", "email_verification").await,
        cloud.mailed_token("ada@example.com", "password_reset").await,
    ];
    for e in &events {
        assert_no_token(&e["payload"], &e["kind"]);
        let text = e.to_string();
        assert!(mailed.iter().all(|t| !text.contains(t.as_str())), "a mailed token in {text}");
    }
    // The mailed reset token is the one that works.
    let r = cloud
        .send(
            Method::POST,
            None,
            "/api/v1/auth/password-reset/confirm",
            Some(&json!({ "token": mailed[1], "password": "brand-new-pass" })),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    cloud.stop().await;
}

/// Events stored before tokens were kept out of them lose their token (and address) in the
/// migration, in the event log and in the outbox; the exposed, unused reset tokens stop working.
async fn stored_tokens_are_scrubbed(backend: Backend) {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let (url, mut migrator) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}?mode=rwc", dir.path().join("cloud.db").display()),
            sqlx::migrate!("./migrations/sqlite"),
        ),
        Backend::Postgres => (postgres_schema().await, sqlx::migrate!("./migrations/postgres")),
    };
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    let all = migrator.migrations.clone();
    migrator.migrations = all.iter().filter(|m| m.version < 7).cloned().collect::<Vec<_>>().into();
    migrator.run(&pool).await.unwrap();
    let old = |kind: &str, purpose: &str, token: &str| {
        json!({ "event_id": token, "kind": kind, "key": "u1", "at_ms": 1,
                "data": { "user_id": "u1", "email": "ada@example.com", "purpose": purpose, "token": token } })
        .to_string()
    };
    let statements = [
        "INSERT INTO users (id, email, name, password_hash, role, created_ms) VALUES ('u1', 'ada@example.com', 'Ada', 'x', 'customer', 1)".to_owned(),
        format!(
            "INSERT INTO one_time_tokens (hash, user_id, purpose, expires_ms) VALUES ('{}', 'u1', 'password_reset', 99999999999999)",
            patty_service::secret::digest(&[b"reset-in-the-log"])
        ),
        format!(
            "INSERT INTO events (position, event_id, topic, key, kind, payload, created_ms, relayed_ms) VALUES (1, 'e1', 'notification.events', 'u1', 'notification.email_verification_requested', '{}', 1, 1)",
            old("notification.email_verification_requested", "email_verification", "verify-in-the-log")
        ),
        format!(
            "INSERT INTO events (position, event_id, topic, key, kind, payload, created_ms, relayed_ms) VALUES (2, 'e2', 'notification.events', 'u1', 'notification.password_reset_requested', '{}', 1, 1)",
            old("notification.password_reset_requested", "password_reset", "reset-in-the-log")
        ),
        format!(
            "INSERT INTO outbox (event_id, topic, key, kind, payload, created_ms) VALUES ('e3', 'notification.events', 'u1', 'notification.password_reset_requested', '{}', 1)",
            old("notification.password_reset_requested", "password_reset", "reset-waiting")
        ),
    ];
    for q in &statements {
        sqlx::query(q).execute(&pool).await.unwrap();
    }
    migrator.migrations = all;
    migrator.run(&pool).await.unwrap();
    let mut payloads = Vec::new();
    for q in ["SELECT payload FROM events", "SELECT payload FROM outbox"] {
        for r in sqlx::query(q).fetch_all(&pool).await.unwrap() {
            payloads.push(serde_json::from_str::<Value>(&r.get::<String, _>("payload")).unwrap());
        }
    }
    assert_eq!(payloads.len(), 3);
    for p in &payloads {
        assert_eq!(p["data"].as_object().unwrap().len(), 2, "only the user and the purpose are left: {p}");
        assert_eq!(p["data"]["user_id"], "u1");
        assert_no_token(p, &p["kind"]);
    }
    let expires: i64 =
        sqlx::query("SELECT expires_ms FROM one_time_tokens").fetch_one(&pool).await.unwrap().get("expires_ms");
    assert_eq!(expires, 0, "the exposed reset token no longer works");
    pool.close().await;
}

async fn catalog_outlets_and_ordering(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let admin = cloud.admin().await;
    let outlet_id = "01900000-0000-7000-8000-00000000a001";
    // A zone that is not closed is refused; a good outlet is created.
    let mut open_ring = outlet(outlet_id);
    open_ring["delivery_zone"].as_array_mut().unwrap().pop();
    let r = cloud.post(&admin, "/api/v1/outlets", &open_ring).await;
    assert!(cloud.json(r, StatusCode::UNPROCESSABLE_ENTITY).await["message"].as_str().unwrap().contains("not closed"));
    let mut bad_zone = outlet(outlet_id);
    bad_zone["timezone"] = json!("Europe/Amstrdam");
    let r = cloud.post(&admin, "/api/v1/outlets", &bad_zone).await;
    let e = cloud.json(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(e["message"].as_str().unwrap().contains("Europe/Amstrdam"), "{e}");
    cloud.json(cloud.post(&admin, "/api/v1/outlets", &outlet(outlet_id)).await, StatusCode::CREATED).await;
    assert_eq!(cloud.post(&admin, "/api/v1/outlets", &outlet(outlet_id)).await.status(), StatusCode::CONFLICT);

    // Nothing published yet: the menu is not available.
    assert_eq!(
        cloud.send(Method::GET, None, &format!("/api/v1/outlets/{outlet_id}/menu"), None).await.status(),
        StatusCode::CONFLICT
    );
    // Draft with an outlet price, then publish.
    cloud
        .json(cloud.put(&admin, "/api/v1/catalog/draft", &catalog(Some((outlet_id, 850)))).await, StatusCode::OK)
        .await;
    let mut bad = catalog(None);
    bad["menu"]["items"][0]["price"] = json!(-5);
    assert_eq!(cloud.put(&admin, "/api/v1/catalog/draft", &bad).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v1 = cloud.json(cloud.post(&admin, "/api/v1/catalog/publish", &json!({})).await, StatusCode::CREATED).await;
    assert_eq!(v1["version"], 1);
    let menu = cloud
        .json(cloud.send(Method::GET, None, &format!("/api/v1/outlets/{outlet_id}/menu"), None).await, StatusCode::OK)
        .await;
    assert_eq!(menu["version"], 1);
    assert_eq!(menu["items"][0]["price"], 850, "the outlet's own price");

    // A customer with an address inside the zone and one outside.
    let ada = cloud.register("ada@example.com").await;
    let token = ada["access_token"].as_str().unwrap().to_owned();
    let home = cloud.json(cloud.post(&token, "/api/v1/me/addresses", &json!({ "label": "home", "line1": "Damrak 1", "city": "Amsterdam", "postcode": "1012 LG", "position": { "lat": 52.376, "lon": 4.896 } })).await, StatusCode::CREATED).await;
    let far = cloud.json(cloud.post(&token, "/api/v1/me/addresses", &json!({ "label": "cottage", "line1": "Dorpsstraat 9", "city": "Edam", "postcode": "1135", "position": { "lat": 52.51, "lon": 5.05 } })).await, StatusCode::CREATED).await;
    let bad_pos = cloud.post(&token, "/api/v1/me/addresses", &json!({ "label": "x", "line1": "x", "city": "x", "postcode": "x", "position": { "lat": 123.0, "lon": 4.0 } })).await;
    assert_eq!(bad_pos.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let basket = |address: &Value| {
        json!({
            "outlet_id": outlet_id, "fulfilment": "delivery", "address_id": address["id"],
            "lines": [
                { "item_id": BURGER, "quantity": 2, "modifiers": [{ "modifier_id": CHEESE }] },
                { "item_id": FRIES, "variant_id": LARGE, "quantity": 1 }
            ]
        })
    };
    let quote = cloud.json(cloud.post(&token, "/api/v1/quotes", &basket(&home)).await, StatusCode::OK).await;
    // 2 x (850 + 80) + 390 = 2250; delivery 299; tax included at 9%.
    assert_eq!(quote["subtotal"], 2250);
    assert_eq!(quote["delivery_fee"], 299);
    assert_eq!(quote["total"], 2549);
    assert_eq!(quote["tax"], 210);
    let outside = cloud.post(&token, "/api/v1/quotes", &basket(&far)).await;
    assert_eq!(cloud.json(outside, StatusCode::CONFLICT).await["code"], "unavailable");
    let mut too_many = basket(&home);
    too_many["lines"][0]["modifiers"][0]["quantity"] = json!(5);
    assert_eq!(cloud.post(&token, "/api/v1/quotes", &too_many).await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Place, idempotently.
    let place = |key: &str, body: &Value| {
        cloud
            .http
            .post(cloud.url("/api/v1/orders"))
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .json(body)
            .send()
    };
    let first = place("web-1", &basket(&home)).await.unwrap();
    let order = cloud.json(first, StatusCode::CREATED).await;
    assert_eq!(order["status"], "placed");
    assert_eq!(order["catalog_version"], 1);
    assert_eq!(order["delivery_address"]["line1"], "Damrak 1");
    let retry = place("web-1", &basket(&home)).await.unwrap();
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(cloud.json(retry, StatusCode::OK).await["id"], order["id"]);
    let other_body = place("web-1", &basket(&far)).await.unwrap();
    assert_eq!(other_body.status(), StatusCode::CONFLICT);
    let no_key = cloud.post(&token, "/api/v1/orders", &basket(&home)).await;
    assert_eq!(no_key.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Cancel before the outlet accepts.
    let id = order["id"].as_str().unwrap();
    let cancelled = cloud
        .json(
            cloud.post(&token, &format!("/api/v1/orders/{id}/cancel"), &json!({ "reason": "changed my mind" })).await,
            StatusCode::OK,
        )
        .await;
    assert_eq!(cancelled["status"], "cancelled");

    // A second order is accepted by the outlet's staff; then the customer can no longer cancel.
    let o2 = cloud.json(place("web-2", &basket(&home)).await.unwrap(), StatusCode::CREATED).await;
    let id2 = o2["id"].as_str().unwrap();
    let staff = cloud.staff(&admin, "till@example.com", "outlet_staff", Some(outlet_id)).await;
    let other_outlet = "01900000-0000-7000-8000-00000000a002";
    let mut o = outlet(other_outlet);
    o["name"] = json!("Elsewhere");
    cloud.json(cloud.post(&admin, "/api/v1/outlets", &o).await, StatusCode::CREATED).await;
    let stranger = cloud.staff(&admin, "other@example.com", "outlet_staff", Some(other_outlet)).await;
    let accept = json!({ "status": "accepted" });
    assert_eq!(
        cloud.post(&stranger, &format!("/api/v1/outlets/{outlet_id}/orders/{id2}/status"), &accept).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        cloud.post(&stranger, &format!("/api/v1/outlets/{other_outlet}/orders/{id2}/status"), &accept).await.status(),
        StatusCode::NOT_FOUND
    );
    let accepted = cloud
        .json(
            cloud.post(&staff, &format!("/api/v1/outlets/{outlet_id}/orders/{id2}/status"), &accept).await,
            StatusCode::OK,
        )
        .await;
    assert_eq!(accepted["status"], "accepted");
    let late = cloud.post(&token, &format!("/api/v1/orders/{id2}/cancel"), &json!({})).await;
    assert_eq!(cloud.json(late, StatusCode::CONFLICT).await["code"], "conflict");
    assert_eq!(
        cloud
            .post(&staff, &format!("/api/v1/outlets/{outlet_id}/orders/{id2}/status"), &json!({ "status": "placed" }))
            .await
            .status(),
        StatusCode::CONFLICT
    );

    // The outlet's orders, searched at the cloud over their whole history.
    let search = |query: &str| {
        let path = format!("/api/v1/outlets/{outlet_id}/orders?{query}");
        let staff = staff.clone();
        let cloud = &cloud;
        async move {
            let r = cloud.get(&staff, &path).await;
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let ids =
        |v: &Value| v.as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let (s, all) = search("").await;
    assert_eq!((s, ids(&all)), (StatusCode::OK, vec![id2.to_owned(), id.to_owned()]), "newest first");
    assert_eq!(ids(&search("status=cancelled").await.1), vec![id.to_owned()]);
    assert_eq!(ids(&search("status=accepted&text=FRIES").await.1), vec![id2.to_owned()]);
    assert_eq!(ids(&search("text=damrak&limit=1").await.1), vec![id2.to_owned()], "the address, newest first");
    assert!(ids(&search("text=100%25_beef").await.1).is_empty(), "% and _ are matched as they are");
    assert_eq!(ids(&search(&format!("number={}", o2["number"])).await.1).len(), 2, "numbered at the outlet");
    assert!(ids(&search("number=77").await.1).is_empty());
    let created = o2["created_ms"].as_i64().unwrap();
    assert_eq!(ids(&search(&format!("from_ms={created}&to_ms={}", created + 1)).await.1), vec![id2.to_owned()]);
    for bad in ["status=lost", "from_ms=6&to_ms=5", &format!("text={}", "x".repeat(101)), "number=-1", "colour=red"] {
        let (s, v) = search(bad).await;
        // A value the rules refuse is 422; one that does not parse as a query, 400.
        assert!(matches!(s.as_u16(), 400 | 422) && v["code"] == "validation", "{bad}: {s} {v}");
        assert!(v["message"].is_string(), "{v}");
    }

    // Another customer sees none of it.
    let bob = cloud.register("bob@example.com").await;
    let bob = bob["access_token"].as_str().unwrap();
    assert_eq!(cloud.get(bob, &format!("/api/v1/orders/{id2}")).await.status(), StatusCode::NOT_FOUND);
    assert!(cloud.json(cloud.get(bob, "/api/v1/orders").await, StatusCode::OK).await.as_array().unwrap().is_empty());
    let mine = cloud.json(cloud.get(&token, "/api/v1/orders").await, StatusCode::OK).await;
    assert_eq!(mine.as_array().unwrap().len(), 2);

    // The events, in order, with gap-free positions.
    let accepted = |all: &[serde_json::Value]| all.iter().any(|e| e["key"] == id2 && e["kind"] == "order.accepted");
    let events = cloud.events_until(&admin, "the order's acceptance", accepted).await;
    let positions: Vec<i64> = events.iter().map(|e| e["position"].as_i64().unwrap()).collect();
    assert_eq!(positions, (1..=positions.len() as i64).collect::<Vec<_>>());
    let of_order: Vec<&str> = events.iter().filter(|e| e["key"] == id2).map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(of_order, ["order.placed", "order.accepted"]);
    assert!(events.iter().any(|e| e["kind"] == "catalog.published" && e["topic"] == "catalog.events"));
    let unique: std::collections::HashSet<&str> = events.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), events.len(), "every event has its own id");

    // Export, then erasure: the orders stay, without the person.
    let export = cloud.json(cloud.get(&token, "/api/v1/me/export").await, StatusCode::OK).await;
    assert_eq!(export["orders"].as_array().unwrap().len(), 2);
    assert_eq!(export["addresses"].as_array().unwrap().len(), 2);
    assert!(!export["activity"].as_array().unwrap().is_empty());
    // Not while an order is still open (the kitchen and the driver need the address); nothing changes.
    let early = cloud.json(cloud.post(&token, "/api/v1/me/erasure", &json!({})).await, StatusCode::CONFLICT).await;
    assert_eq!(early["code"], "conflict", "{early}");
    assert_eq!(cloud.get(&token, "/api/v1/orders").await.status(), StatusCode::OK, "the account still works");
    let void = json!({ "status": "voided", "reason": "the customer asked for erasure" });
    let voided = cloud.post(&admin, &format!("/api/v1/outlets/{outlet_id}/orders/{id2}/status"), &void).await;
    assert_eq!(voided.status(), StatusCode::OK);
    assert_eq!(cloud.post(&token, "/api/v1/me/erasure", &json!({})).await.status(), StatusCode::NO_CONTENT);
    let gone = cloud
        .send(
            Method::POST,
            None,
            "/api/v1/auth/login",
            Some(&json!({ "email": "ada@example.com", "password": "s3cret-pass" })),
        )
        .await;
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
    // The access token issued before the erasure no longer works either.
    assert_eq!(cloud.get(&token, "/api/v1/orders").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(place("web-3", &basket(&home)).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let kept = cloud.json(cloud.get(&admin, &format!("/api/v1/orders/{id2}")).await, StatusCode::OK).await;
    assert_eq!(kept["total"], 2549, "the financial record stays");
    assert!(kept["delivery_address"].is_null() && kept["customer_id"].is_null(), "{kept}");
    cloud.stop().await;
}

async fn api_keys(backend: Backend) {
    let cloud = Cloud::start(backend).await;
    let admin = cloud.admin().await;
    let outlet_id = "01900000-0000-7000-8000-00000000a001";
    cloud.json(cloud.post(&admin, "/api/v1/outlets", &outlet(outlet_id)).await, StatusCode::CREATED).await;
    cloud.json(cloud.put(&admin, "/api/v1/catalog/draft", &catalog(None)).await, StatusCode::OK).await;
    cloud.json(cloud.post(&admin, "/api/v1/catalog/publish", &json!({})).await, StatusCode::CREATED).await;
    let created = cloud
        .json(
            cloud
                .post(
                    &admin,
                    "/api/v1/api-keys",
                    &json!({ "kind": "edge", "subject": outlet_id, "name": "Damrak till server" }),
                )
                .await,
            StatusCode::CREATED,
        )
        .await;
    let secret = created["secret"].as_str().unwrap();
    let key_id = created["api_key"]["id"].as_str().unwrap();
    let listed = cloud.json(cloud.get(&admin, "/api/v1/api-keys").await, StatusCode::OK).await;
    assert!(!listed.to_string().contains(secret), "the secret is shown once, never listed");
    // The edge reads catalog versions with its key; a made-up key is 401.
    let with_key = |k: &str| cloud.http.get(cloud.url("/api/v1/catalog/versions/1")).header("x-api-key", k).send();
    assert_eq!(with_key(secret).await.unwrap().status(), StatusCode::OK);
    assert_eq!(with_key("pp_made_up").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // An edge key is scoped to its outlet.
    let r = cloud
        .http
        .get(cloud.url("/api/v1/outlets/01900000-0000-7000-8000-00000000a0ff/orders"))
        .header("x-api-key", secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = cloud
        .http
        .get(cloud.url(&format!("/api/v1/outlets/{outlet_id}/orders")))
        .header("x-api-key", secret)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Revoked: refused at once.
    assert_eq!(
        cloud.send(Method::DELETE, Some(&admin), &format!("/api/v1/api-keys/{key_id}"), None).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(with_key(secret).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        cloud.send(Method::DELETE, Some(&admin), &format!("/api/v1/api-keys/{key_id}"), None).await.status(),
        StatusCode::NOT_FOUND
    );
    let bad = cloud
        .post(&admin, "/api/v1/api-keys", &json!({ "kind": "edge", "subject": "not-an-outlet", "name": "x" }))
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    cloud.stop().await;
}

/// A cloud with one outlet, a published catalog and a signed-in customer: the cloud, HQ's token,
/// the outlet's id and the customer's token.
async fn trading(backend: Backend) -> (Cloud, String, &'static str, String) {
    let cloud = Cloud::start(backend).await;
    let admin = cloud.admin().await;
    let outlet_id = "01900000-0000-7000-8000-00000000a001";
    cloud.json(cloud.post(&admin, "/api/v1/outlets", &outlet(outlet_id)).await, StatusCode::CREATED).await;
    cloud.json(cloud.put(&admin, "/api/v1/catalog/draft", &catalog(None)).await, StatusCode::OK).await;
    cloud.json(cloud.post(&admin, "/api/v1/catalog/publish", &json!({})).await, StatusCode::CREATED).await;
    let token = cloud.register("ada@example.com").await["access_token"].as_str().unwrap().to_owned();
    (cloud, admin, outlet_id, token)
}

async fn live_order_status(backend: Backend) {
    let (cloud, admin, outlet_id, token) = trading(backend).await;
    let body =
        json!({ "outlet_id": outlet_id, "fulfilment": "takeaway", "lines": [{ "item_id": BURGER, "quantity": 1 }] });
    let r = cloud
        .http
        .post(cloud.url("/api/v1/orders"))
        .bearer_auth(&token)
        .header("idempotency-key", "live-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let order = cloud.json(r, StatusCode::CREATED).await;
    let id = order["id"].as_str().unwrap();
    let bob = cloud.register("bob@example.com").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        cloud.get(&bob, &format!("/api/v1/orders/{id}/stream")).await.status(),
        StatusCode::NOT_FOUND,
        "only the customer's own order"
    );

    let mut live = patty_tests::SseReader::new(cloud.get(&token, &format!("/api/v1/orders/{id}/stream")).await);
    let wait = std::time::Duration::from_secs(15);
    let (kind, placed) = live.next(wait).await;
    assert_eq!(kind, "order.placed");
    assert_eq!(placed["data"]["id"], id);
    let staff = cloud.staff(&admin, "till@example.com", "outlet_staff", Some(outlet_id)).await;
    for status in ["accepted", "preparing", "ready", "completed"] {
        let r = cloud
            .post(&staff, &format!("/api/v1/outlets/{outlet_id}/orders/{id}/status"), &json!({ "status": status }))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{status}");
        let (kind, event) = live.next(wait).await;
        assert_eq!(kind, format!("order.{status}"));
        assert_eq!(event["data"]["to"], status);
    }

    // A client that reconnects with the last id it saw (the event's position) resumes after it.
    let ready = |all: &[Value]| all.iter().any(|e| e["key"] == id && e["kind"] == "order.ready");
    let log = cloud.events_until(&admin, "the order's readiness", ready).await;
    let seen = log.iter().find(|e| e["key"] == id && e["kind"] == "order.ready").unwrap()["position"].clone();
    let again = cloud
        .http
        .get(cloud.url(&format!("/api/v1/orders/{id}/stream")))
        .bearer_auth(&token)
        .header("last-event-id", seen.to_string())
        .send()
        .await
        .unwrap();
    let mut resumed = patty_tests::SseReader::new(again);
    assert_eq!(resumed.next(wait).await.0, "order.completed", "nothing before the last id seen is sent again");
    cloud.stop().await;
}

/// More orders in one outlet's local day than any page of orders holds, uploaded as its edge
/// would: the figures count every one, in the outlet's local day and hours.
async fn sales_count_a_whole_local_day(backend: Backend) {
    use patty_protocol::change::{ChangeEntry, ChangeV1, HlcTimestamp};
    use patty_protocol::ids::OutletId;
    let cloud = Cloud::start(backend).await;
    let admin = cloud.admin().await;
    let outlet = OutletId::new();
    cloud
        .json(cloud.post(&admin, "/api/v1/outlets", &common::outlet(&outlet.to_string())).await, StatusCode::CREATED)
        .await;
    let key = cloud
        .json(
            cloud.post(&admin, "/api/v1/api-keys", &json!({ "kind": "edge", "subject": outlet, "name": "edge" })).await,
            StatusCode::CREATED,
        )
        .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    // 1 July 2026 in Amsterdam (summer time, UTC+2) runs from 22:00 UTC on 30 June.
    let midnight = 1_782_856_800_000_i64;
    let order = |created_ms: i64, status: &str| {
        serde_json::from_value::<patty_protocol::order::Order>(json!({
            "id": patty_protocol::ids::OrderId::new(), "outlet_id": outlet, "number": 1, "channel": "counter",
            "fulfilment": "takeaway", "status": status, "notes": "", "currency": "EUR",
            "lines": [{ "id": patty_protocol::ids::LineId::new(), "item_id": BURGER, "name": "Classic Patty",
                        "variant_id": null, "variant_name": null, "quantity": 2, "modifiers": [], "notes": "",
                        "unit_price": 790, "line_total": 1580, "price_override": null }],
            "subtotal": 1580, "discounts": [], "tax": 130, "total": 1580, "tenders": [], "paid": 1580,
            "staff_id": null, "created_ms": created_ms, "updated_ms": created_ms, "closed_reason": null, "closed_by": null
        }))
        .unwrap()
    };
    // 600 orders a minute apart from local midnight (60 in each of the hours 0 to 9), one the
    // evening before, one cancelled.
    let mut orders: Vec<_> = (0..600).map(|i| order(midnight + i * 60_000, "completed")).collect();
    orders.push(order(midnight - 60_000, "completed"));
    orders.push(order(midnight + 3_600_000, "cancelled"));
    let log: Vec<ChangeEntry> = orders
        .into_iter()
        .zip(1u64..)
        .map(|(o, seq)| ChangeEntry {
            origin: outlet,
            seq,
            hlc: HlcTimestamp::new(1_782_856_800_000 + seq, 0),
            change: ChangeV1::OrderUpserted { order: Box::new(o) },
        })
        .collect();
    let r = cloud
        .http
        .post(cloud.url("/api/v1/sync/up"))
        .header("x-api-key", &key)
        .header("content-type", "application/octet-stream")
        .body(patty_sync::wire::encode_batch(&log))
        .send()
        .await
        .unwrap();
    assert_eq!(cloud.json(r, StatusCode::OK).await["applied_through"], 602);

    let day = cloud
        .json(cloud.get(&admin, &format!("/api/v1/outlets/{outlet}/sales?date=2026-07-01")).await, StatusCode::OK)
        .await;
    assert_eq!(
        (day["orders"].as_i64(), day["net_sales"].as_i64(), day["tax"].as_i64()),
        (Some(600), Some(948_000), Some(78_000)),
        "{day}"
    );
    assert_eq!(day["from_ms"], midnight);
    assert_eq!(day["by_item"], json!([{ "name": "Classic Patty", "quantity": 1200, "gross": 948_000 }]));
    let hours: Vec<(i64, i64)> = day["by_hour"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["hour"].as_i64().unwrap(), h["orders"].as_i64().unwrap()))
        .collect();
    assert_eq!(hours, (0..10).map(|h| (h, 60)).collect::<Vec<_>>());
    let before = cloud
        .json(cloud.get(&admin, &format!("/api/v1/outlets/{outlet}/sales?date=2026-06-30")).await, StatusCode::OK)
        .await;
    assert_eq!((before["orders"].as_i64(), before["by_hour"][0]["hour"].as_i64()), (Some(1), Some(23)));
    let bad = cloud.get(&admin, &format!("/api/v1/outlets/{outlet}/sales?date=1%20July")).await;
    assert_eq!(cloud.json(bad, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "validation");
    let customer = cloud.register("ada@example.com").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(cloud.get(&customer, &format!("/api/v1/outlets/{outlet}/sales")).await.status(), StatusCode::FORBIDDEN);
    cloud.stop().await;
}

/// Dispatch follows the order events: a delivery order that becomes ready gets its delivery, and
/// the delivery is cancelled when the order is voided.
async fn dispatch_follows_the_order_events(backend: Backend) {
    let (cloud, admin, outlet_id, token) = trading(backend).await;
    let home = json!({ "label": "home", "line1": "Damrak 1", "city": "Amsterdam", "postcode": "1012 LG", "position": { "lat": 52.376, "lon": 4.896 } });
    let home = cloud.json(cloud.post(&token, "/api/v1/me/addresses", &home).await, StatusCode::CREATED).await;
    let body = json!({ "outlet_id": outlet_id, "fulfilment": "delivery", "address_id": home["id"],
        "lines": [{ "item_id": BURGER, "quantity": 1 }] });
    let r = cloud
        .http
        .post(cloud.url("/api/v1/orders"))
        .bearer_auth(&token)
        .header("idempotency-key", "dispatch-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    let id = cloud.json(r, StatusCode::CREATED).await["id"].as_str().unwrap().to_owned();
    let manager = cloud.staff(&admin, "boss@example.com", "outlet_manager", Some(outlet_id)).await;
    let delivery_of = || async {
        // An online order's delivery (with its code) is its customer's to see.
        let r = cloud.get(&token, &format!("/api/v1/orders/{id}/delivery")).await;
        if r.status() == StatusCode::OK { Some(r.json::<Value>().await.unwrap()) } else { None }
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    for status in ["accepted", "preparing"] {
        let moved = cloud
            .post(&manager, &format!("/api/v1/outlets/{outlet_id}/orders/{id}/status"), &json!({ "status": status }))
            .await;
        assert_eq!(moved.status(), StatusCode::OK, "{status}");
    }
    assert!(delivery_of().await.is_none(), "no delivery before the order is ready");
    let ready = json!({ "status": "ready" });
    let moved = cloud.post(&manager, &format!("/api/v1/outlets/{outlet_id}/orders/{id}/status"), &ready).await;
    assert_eq!(moved.status(), StatusCode::OK);
    let delivery = loop {
        if let Some(d) = delivery_of().await {
            break d;
        }
        assert!(tokio::time::Instant::now() < deadline, "the ready order got no delivery");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(delivery["status"], "waiting");
    let void = json!({ "status": "voided", "reason": "the fryer caught fire" });
    let moved = cloud.post(&manager, &format!("/api/v1/outlets/{outlet_id}/orders/{id}/status"), &void).await;
    assert_eq!(moved.status(), StatusCode::OK);
    loop {
        if delivery_of().await.is_some_and(|d| d["status"] == "cancelled") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the voided order's delivery was not cancelled");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    cloud.stop().await;
}

on_both_backends!(
    identity,
    no_token_in_the_event_feed,
    stored_tokens_are_scrubbed,
    catalog_outlets_and_ordering,
    api_keys,
    live_order_status,
    sales_count_a_whole_local_day,
    dispatch_follows_the_order_events
);
