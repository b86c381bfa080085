//! At the door: every route's roles (a missing token is 401, a wrong role or outlet 403), bad input
//! of every kind (a JSON 4xx that changes nothing), rate limiting, CORS, request ids, the API
//! reference and metrics.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const A: &str = "01900000-0000-7000-8000-00000000a001";
const B: &str = "01900000-0000-7000-8000-00000000a002";

struct Principals {
    by_role: Vec<(&'static str, Credential)>,
}

#[derive(Clone)]
enum Credential {
    Bearer(String),
    ApiKey(String),
}

async fn send(cloud: &Cloud, who: Option<&Credential>, method: Method, path: &str, body: &Value) -> reqwest::Response {
    let mut r = cloud.http.request(method.clone(), cloud.url(path));
    match who {
        Some(Credential::Bearer(t)) => r = r.bearer_auth(t),
        Some(Credential::ApiKey(k)) => r = r.header("x-api-key", k),
        None => {}
    }
    if method != Method::GET && method != Method::DELETE {
        r = r.json(body).header("idempotency-key", uuid::Uuid::new_v4().to_string());
    }
    r.send().await.unwrap()
}

async fn principals(cloud: &Cloud, admin: &str) -> Principals {
    let customer = cloud.register("cust@example.com").await["access_token"].as_str().unwrap().to_owned();
    let staff = cloud.staff(admin, "staff@example.com", "outlet_staff", Some(A)).await;
    let manager = cloud.staff(admin, "manager@example.com", "outlet_manager", Some(A)).await;
    let other_manager = cloud.staff(admin, "manager-b@example.com", "outlet_manager", Some(B)).await;
    let driver_token = cloud.staff(admin, "driver@example.com", "driver", None).await;
    let driver_id = cloud.json(cloud.get(&driver_token, "/api/v1/auth/whoami").await, StatusCode::OK).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let edge = cloud
        .json(
            cloud.post(admin, "/api/v1/api-keys", &json!({ "kind": "edge", "subject": A, "name": "edge A" })).await,
            StatusCode::CREATED,
        )
        .await;
    let device = cloud
        .json(
            cloud
                .post(admin, "/api/v1/api-keys", &json!({ "kind": "device", "subject": driver_id, "name": "van 7" }))
                .await,
            StatusCode::CREATED,
        )
        .await;
    Principals {
        by_role: vec![
            ("customer", Credential::Bearer(customer)),
            ("outlet_staff", Credential::Bearer(staff)),
            ("outlet_manager", Credential::Bearer(manager)),
            ("manager_of_b", Credential::Bearer(other_manager)),
            ("driver", Credential::Bearer(driver_token)),
            ("edge", Credential::ApiKey(edge["secret"].as_str().unwrap().to_owned())),
            ("device", Credential::ApiKey(device["secret"].as_str().unwrap().to_owned())),
            ("hq_admin", Credential::Bearer(admin.to_owned())),
        ],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_states_its_roles() {
    let cloud = Cloud::start(Backend::Sqlite).await;
    let admin = cloud.admin().await;
    for id in [A, B] {
        let mut o = outlet(id);
        o["name"] = json!(format!("Outlet {}", &id[id.len() - 1..]));
        cloud.json(cloud.post(&admin, "/api/v1/outlets", &o).await, StatusCode::CREATED).await;
    }
    cloud.json(cloud.put(&admin, "/api/v1/catalog/draft", &catalog(None)).await, StatusCode::OK).await;
    cloud.json(cloud.post(&admin, "/api/v1/catalog/publish", &json!({})).await, StatusCode::CREATED).await;
    let p = principals(&cloud, &admin).await;
    let customer = match &p.by_role[0].1 {
        Credential::Bearer(t) => t.clone(),
        Credential::ApiKey(_) => unreachable!(),
    };
    let order = cloud
        .http
        .post(cloud.url("/api/v1/orders"))
        .bearer_auth(&customer)
        .header("idempotency-key", "role-matrix")
        .json(&json!({ "outlet_id": A, "fulfilment": "takeaway", "lines": [{ "item_id": BURGER, "quantity": 1 }] }))
        .send()
        .await
        .unwrap();
    let order_id = cloud.json(order, StatusCode::CREATED).await["id"].as_str().unwrap().to_owned();

    let user = json!({ "email": "new@example.com", "password": "long-enough", "name": "N", "role": "driver" });
    let key = json!({ "kind": "edge", "subject": A, "name": "k" });
    let address = json!({ "label": "h", "line1": "Damrak 1", "city": "A", "postcode": "1", "position": { "lat": 52.376, "lon": 4.896 } });
    let basket = json!({ "outlet_id": A, "fulfilment": "takeaway", "lines": [{ "item_id": BURGER, "quantity": 1 }] });
    let accept = json!({ "status": "accepted" });
    // (method, path, body, roles that may call it; HQ may call everything)
    let routes: Vec<(Method, String, Value, &[&str])> = vec![
        (
            Method::GET,
            "/api/v1/auth/whoami".into(),
            json!(null),
            &["customer", "outlet_staff", "outlet_manager", "manager_of_b", "driver"],
        ),
        (Method::POST, "/api/v1/users".into(), user, &[]),
        (Method::GET, "/api/v1/api-keys".into(), json!(null), &[]),
        (Method::POST, "/api/v1/api-keys".into(), key, &[]),
        (Method::DELETE, "/api/v1/api-keys/01900000-0000-7000-8000-0000000000ff".into(), json!(null), &[]),
        (Method::POST, "/api/v1/outlets".into(), outlet("01900000-0000-7000-8000-00000000a0ff"), &[]),
        (Method::PUT, format!("/api/v1/outlets/{A}"), outlet(A), &["outlet_manager"]),
        (Method::GET, "/api/v1/catalog/draft".into(), json!(null), &[]),
        (Method::PUT, "/api/v1/catalog/draft".into(), catalog(None), &[]),
        (Method::POST, "/api/v1/catalog/publish".into(), json!({}), &[]),
        (Method::GET, "/api/v1/catalog/versions".into(), json!(null), &[]),
        (Method::GET, "/api/v1/catalog/versions/1".into(), json!(null), &["edge"]),
        (Method::GET, "/api/v1/me".into(), json!(null), &["customer"]),
        (Method::PATCH, "/api/v1/me".into(), json!({ "phone": "+31 20 123 4567" }), &["customer"]),
        (Method::GET, "/api/v1/me/addresses".into(), json!(null), &["customer"]),
        (Method::POST, "/api/v1/me/addresses".into(), address, &["customer"]),
        (Method::DELETE, "/api/v1/me/addresses/none".into(), json!(null), &["customer"]),
        (Method::GET, "/api/v1/me/activity".into(), json!(null), &["customer"]),
        (Method::GET, "/api/v1/me/export".into(), json!(null), &["customer"]),
        (Method::POST, "/api/v1/quotes".into(), basket.clone(), &["customer"]),
        (Method::POST, "/api/v1/orders".into(), basket, &["customer"]),
        (Method::GET, "/api/v1/orders".into(), json!(null), &["customer"]),
        (Method::POST, format!("/api/v1/orders/{order_id}/cancel"), json!({}), &["customer"]),
        (
            Method::POST,
            format!("/api/v1/outlets/{A}/orders/{order_id}/status"),
            accept,
            &["outlet_staff", "outlet_manager", "edge"],
        ),
        (Method::GET, format!("/api/v1/outlets/{A}/orders"), json!(null), &["outlet_staff", "outlet_manager", "edge"]),
        (Method::GET, "/api/v1/events".into(), json!(null), &[]),
        (Method::GET, "/api/v1/events/stream".into(), json!(null), &[]),
    ];
    for (method, path, body, allowed) in &routes {
        let r = send(&cloud, None, method.clone(), path, body).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method} {path} without a token");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "unauthorized");
        for (role, cred) in &p.by_role {
            if *role == "hq_admin" || allowed.contains(role) {
                continue;
            }
            let r = send(&cloud, Some(cred), method.clone(), path, body).await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{method} {path} as {role}");
            assert_eq!(r.json::<Value>().await.unwrap()["code"], "forbidden", "{method} {path} as {role}");
        }
    }
    // Scope: another outlet's manager, an edge key of outlet A on outlet B.
    let find = |name: &str| p.by_role.iter().find(|(r, _)| *r == name).unwrap().1.clone();
    let r = send(&cloud, Some(&find("manager_of_b")), Method::PUT, &format!("/api/v1/outlets/{A}"), &outlet(A)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = send(&cloud, Some(&find("edge")), Method::GET, &format!("/api/v1/outlets/{B}/orders"), &json!(null)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Someone else's order is not found, for anyone but its customer, its outlet and HQ.
    for role in ["manager_of_b", "driver"] {
        let r = send(&cloud, Some(&find(role)), Method::GET, &format!("/api/v1/orders/{order_id}"), &json!(null)).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{role}");
    }
    for role in ["customer", "outlet_staff", "outlet_manager", "edge", "hq_admin"] {
        let r = send(&cloud, Some(&find(role)), Method::GET, &format!("/api/v1/orders/{order_id}"), &json!(null)).await;
        assert_eq!(r.status(), StatusCode::OK, "{role}");
    }
    // An expired or forged token is 401.
    let r = send(
        &cloud,
        Some(&Credential::Bearer("eyJhbGciOiJIUzI1NiJ9.e30.x".into())),
        Method::GET,
        "/api/v1/me",
        &json!(null),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_json_4xx_and_changes_nothing() {
    let cloud = Cloud::start(Backend::Sqlite).await;
    let admin = cloud.admin().await;
    cloud.json(cloud.post(&admin, "/api/v1/outlets", &outlet(A)).await, StatusCode::CREATED).await;
    let events_before = cloud.events(&admin, 0).await.len();
    let outlets_before = cloud.json(cloud.send(Method::GET, None, "/api/v1/outlets", None).await, StatusCode::OK).await;
    let raw = |body: &'static str| {
        cloud
            .http
            .post(cloud.url("/api/v1/outlets"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let expect = |status: StatusCode, code: &'static str| {
        move |v: Value| {
            assert_eq!(v["code"], code, "{status}: {v}");
        }
    };
    let r = raw("{\"id\": ").await.unwrap();
    expect(StatusCode::BAD_REQUEST, "malformed_json")(cloud.json(r, StatusCode::BAD_REQUEST).await);
    let r = raw("{\"id\": 5}").await.unwrap();
    expect(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")(cloud.json(r, StatusCode::UNPROCESSABLE_ENTITY).await);
    let mut unknown = outlet("01900000-0000-7000-8000-00000000a0f1");
    unknown["colour"] = json!("red");
    expect(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")(
        cloud.json(cloud.post(&admin, "/api/v1/outlets", &unknown).await, StatusCode::UNPROCESSABLE_ENTITY).await,
    );
    let mut far = outlet("01900000-0000-7000-8000-00000000a0f2");
    far["position"]["lon"] = json!(200.0);
    expect(StatusCode::UNPROCESSABLE_ENTITY, "validation")(
        cloud.json(cloud.post(&admin, "/api/v1/outlets", &far).await, StatusCode::UNPROCESSABLE_ENTITY).await,
    );
    let mut open = outlet("01900000-0000-7000-8000-00000000a0f3");
    open["delivery_zone"] = json!([[4.86, 52.35], [4.93, 52.35], [4.93, 52.39], [4.86, 52.39]]);
    expect(StatusCode::UNPROCESSABLE_ENTITY, "validation")(
        cloud.json(cloud.post(&admin, "/api/v1/outlets", &open).await, StatusCode::UNPROCESSABLE_ENTITY).await,
    );
    let mut tax = outlet("01900000-0000-7000-8000-00000000a0f4");
    tax["tax_rate_bp"] = json!(-1);
    expect(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body")(
        cloud.json(cloud.post(&admin, "/api/v1/outlets", &tax).await, StatusCode::UNPROCESSABLE_ENTITY).await,
    );
    let mut big = outlet("01900000-0000-7000-8000-00000000a0f5");
    big["name"] = json!("x".repeat(300 * 1024));
    expect(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")(
        cloud.json(cloud.post(&admin, "/api/v1/outlets", &big).await, StatusCode::PAYLOAD_TOO_LARGE).await,
    );
    let r = cloud.http.post(cloud.url("/api/v1/outlets")).bearer_auth(&admin).body("name=x").send().await.unwrap();
    expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")(
        cloud.json(r, StatusCode::UNSUPPORTED_MEDIA_TYPE).await,
    );
    // Unknown ids.
    expect(StatusCode::NOT_FOUND, "not_found")(
        cloud
            .json(
                cloud.send(Method::GET, None, "/api/v1/outlets/01900000-0000-7000-8000-0000000000aa", None).await,
                StatusCode::NOT_FOUND,
            )
            .await,
    );
    expect(StatusCode::NOT_FOUND, "not_found")(
        cloud.json(cloud.send(Method::GET, None, "/api/v1/outlets/not-an-id", None).await, StatusCode::NOT_FOUND).await,
    );
    expect(StatusCode::NOT_FOUND, "not_found")(
        cloud.json(cloud.get(&admin, "/api/v1/catalog/versions/99").await, StatusCode::NOT_FOUND).await,
    );
    let mut stranger = catalog(None);
    stranger["outlets"] = json!({ "01900000-0000-7000-8000-0000000000bb": { "prices": {} } });
    expect(StatusCode::UNPROCESSABLE_ENTITY, "validation")(
        cloud.json(cloud.put(&admin, "/api/v1/catalog/draft", &stranger).await, StatusCode::UNPROCESSABLE_ENTITY).await,
    );
    // A bad query.
    expect(StatusCode::BAD_REQUEST, "validation")(
        cloud.json(cloud.get(&admin, "/api/v1/events?after=soon").await, StatusCode::BAD_REQUEST).await,
    );
    expect(StatusCode::UNPROCESSABLE_ENTITY, "validation")(
        cloud.json(cloud.get(&admin, "/api/v1/events?after=-1").await, StatusCode::UNPROCESSABLE_ENTITY).await,
    );
    // Publishing with no draft.
    expect(StatusCode::NOT_FOUND, "not_found")(
        cloud.json(cloud.post(&admin, "/api/v1/catalog/publish", &json!({})).await, StatusCode::NOT_FOUND).await,
    );

    let outlets_after = cloud.json(cloud.send(Method::GET, None, "/api/v1/outlets", None).await, StatusCode::OK).await;
    assert_eq!(outlets_after, outlets_before, "no outlet was written");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(cloud.events(&admin, 0).await.len(), events_before, "no event was written");
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_door_limits_rates_allows_cors_and_tags_requests() {
    let cloud = Cloud::start_with(Backend::Sqlite, |c| {
        c.http.rate_per_minute = 60;
        c.http.rate_burst = 5;
        c.http.cors_origins = vec!["https://order.pattypalace.example".into()];
    })
    .await;
    // Request ids: generated, or echoed when the client sends one.
    let r = cloud.send(Method::GET, None, "/api/v1/outlets", None).await;
    assert!(!r.headers()["x-request-id"].is_empty());
    let r = cloud.http.get(cloud.url("/api/v1/outlets")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    // CORS: the configured origin only.
    let pre = cloud
        .http
        .request(Method::OPTIONS, cloud.url("/api/v1/orders"))
        .header("origin", "https://order.pattypalace.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type,idempotency-key")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.headers()["access-control-allow-origin"], "https://order.pattypalace.example");
    let other =
        cloud.http.get(cloud.url("/api/v1/outlets")).header("origin", "https://evil.example").send().await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // The rate: a burst of 5 (3 spent above), then 429 with Retry-After.
    let mut limited = None;
    for _ in 0..10 {
        let r = cloud.http.get(cloud.url("/api/v1/outlets")).send().await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("the limit was reached");
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "rate_limited");
    cloud.stop().await;
}

/// A client whose requests come from `addr` on the loopback network.
fn from(addr: &str) -> reqwest::Client {
    reqwest::Client::builder().local_address(addr.parse::<std::net::IpAddr>().unwrap()).build().unwrap()
}

/// Sends `n` requests and answers the statuses, in order.
async fn statuses(n: usize, mut req: impl FnMut() -> reqwest::RequestBuilder) -> Vec<StatusCode> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(req().send().await.unwrap().status());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_credentials_count_against_the_address_and_forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let cloud = Cloud::start_with(Backend::Sqlite, |c| {
        c.http.rate_per_minute = 60;
        c.http.rate_burst = 10;
        c.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let admin = cloud.login(ADMIN_EMAIL, ADMIN_PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let outlets = cloud.url("/api/v1/outlets");
    // 40 made-up bearer tokens from one address: 401s, then 429s once the address's burst is spent.
    let attacker = from("127.0.0.2");
    let mut n = 0;
    let got = statuses(40, || {
        n += 1;
        attacker.get(&outlets).bearer_auth(format!("made-up-{n}"))
    })
    .await;
    assert_eq!(got[..10], [StatusCode::UNAUTHORIZED; 10]);
    assert_eq!(got[10..], [StatusCode::TOO_MANY_REQUESTS; 30]);
    // So are made-up API keys, and the address's own anonymous requests now wait too.
    let r = attacker.get(&outlets).header("x-api-key", "made-up").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = attacker.get(&outlets).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    // A verified caller from that address has a bucket of its own.
    assert_eq!(attacker.get(&outlets).bearer_auth(&admin).send().await.unwrap().status(), StatusCode::OK);
    // The attacker's X-Forwarded-For is ignored: it is no trusted proxy.
    let r = attacker.get(&outlets).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Behind the trusted proxy (127.0.0.1), each client has its own bucket by its forwarded address.
    let proxy = from("127.0.0.1");
    let got = statuses(12, || proxy.get(&outlets).header("x-forwarded-for", "203.0.113.1")).await;
    assert_eq!(got[..10], [StatusCode::OK; 10]);
    assert_eq!(got[10..], [StatusCode::TOO_MANY_REQUESTS; 2]);
    let r = proxy.get(&outlets).header("x-forwarded-for", "6.6.6.6, 203.0.113.2").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "a client's forged first hop does not matter");
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_registration_and_reset_have_stricter_limits_per_address_and_per_account() {
    let cloud = Cloud::start_with(Backend::Sqlite, |c| {
        c.http.sign_in_per_address_per_minute = 5;
        c.http.sign_in_per_account_per_minute = 3;
        c.http.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    let at = |addr: &str, path: &str, body: Value| {
        cloud.http.post(cloud.url(path)).header("x-forwarded-for", addr).json(&body).send()
    };
    // Per account: wrong passwords for one account from many addresses.
    let guess = json!({ "email": "victim@example.com", "password": "guess-guess" });
    for i in 1..=3 {
        let r = at(&format!("198.51.100.{i}"), "/api/v1/auth/login", guess.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = at("198.51.100.4", "/api/v1/auth/login", guess.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body = r.json::<Value>().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert!(body["message"].as_str().unwrap().contains("account"), "{body}");
    // The account's reset requests share that limit (no flood of reset mail).
    let r = at("198.51.100.5", "/api/v1/auth/password-reset", json!({ "email": "Victim@Example.com" })).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // Per address: many accounts from one address, registrations included.
    for i in 0..5 {
        let body = json!({ "email": format!("new{i}@example.com"), "password": "s3cret-pass", "name": "New" });
        let r = at("198.51.100.50", "/api/v1/auth/register", body).await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let r = at("198.51.100.50", "/api/v1/auth/login", json!({ "email": "other@example.com", "password": "x" }))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("address"));
    // Someone else still signs in.
    let r =
        at("198.51.100.60", "/api/v1/auth/login", json!({ "email": "new0@example.com", "password": "s3cret-pass" }))
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_describes_itself() {
    let cloud = Cloud::start(Backend::Sqlite).await;
    let doc = cloud.json(cloud.send(Method::GET, None, "/openapi.json", None).await, StatusCode::OK).await;
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/auth/register",
        "/api/v1/orders",
        "/api/v1/outlets/{id}/menu",
        "/api/v1/catalog/publish",
        "/api/v1/events",
        "/healthz",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p} is in the OpenAPI document");
    }
    let html = cloud.send(Method::GET, None, "/docs", None).await;
    assert!(html.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = html.text().await.unwrap();
    assert!(html.contains("/api/v1/orders") && html.contains("Register as a customer"));
    let metrics = cloud.send(Method::GET, None, "/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("patty_http_requests_total{method=\"GET\",route=\"/openapi.json\",status=\"200\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("patty_cloud_outbox_relayed_position"));
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_and_mailed_links_expire() {
    let cloud = Cloud::start_with(Backend::Sqlite, |c| {
        c.auth.access_ttl_secs = 1;
        c.auth.one_time_ttl_secs = 1;
    })
    .await;
    let reg = cloud.register("ada@example.com").await;
    let access = reg["access_token"].as_str().unwrap().to_owned();
    assert_eq!(cloud.get(&access, "/api/v1/me").await.status(), StatusCode::OK);
    // The mailed link dies after a second.
    let token = cloud.mailed_token("ada@example.com", "email_verification").await;
    // The access token dies after its second plus the 5 s clock leeway.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if cloud.get(&access, "/api/v1/me").await.status() == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the access token never expired");
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let r = cloud.send(Method::POST, None, "/api/v1/auth/verify-email", Some(&json!({ "token": token }))).await;
    assert_eq!(cloud.json(r, StatusCode::UNPROCESSABLE_ENTITY).await["code"], "validation");
    // The refresh token still works and yields a fresh access token.
    let r = cloud
        .send(Method::POST, None, "/api/v1/auth/refresh", Some(&json!({ "refresh_token": reg["refresh_token"] })))
        .await;
    let fresh = cloud.json(r, StatusCode::OK).await;
    assert_eq!(cloud.get(fresh["access_token"].as_str().unwrap(), "/api/v1/me").await.status(), StatusCode::OK);
    cloud.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_access_token_for_another_issuer_or_audience_is_refused() {
    const SECRET: &str = "a shared secret of at least thirty-two characters";
    let cloud = Cloud::start_with(Backend::Sqlite, |c| c.auth.jwt_secret = SECRET.into()).await;
    let admin = cloud.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let sub = admin["user"]["id"].as_str().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let sign = |claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let claims = |iss: Option<&str>, aud: Option<&str>| {
        let mut c = json!({ "sub": sub, "role": "hq_admin", "iat": now, "exp": now + 600 });
        if let Some(i) = iss {
            c["iss"] = json!(i);
        }
        if let Some(a) = aud {
            c["aud"] = json!(a);
        }
        c
    };
    // Signed as the cloud signs: accepted (so the refusals below are about iss and aud alone).
    let good = sign(claims(Some("patty-cloud"), Some("patty-palace")));
    assert_eq!(cloud.get(&good, "/api/v1/auth/whoami").await.status(), StatusCode::OK);
    let issued = admin["access_token"].as_str().unwrap();
    assert_eq!(cloud.get(issued, "/api/v1/auth/whoami").await.status(), StatusCode::OK);
    for (iss, aud) in [
        (Some("someone-else"), Some("patty-palace")),
        (Some("patty-cloud"), Some("another-service")),
        (None, Some("patty-palace")),
        (Some("patty-cloud"), None),
    ] {
        let r = cloud.get(&sign(claims(iss, aud)), "/api/v1/auth/whoami").await;
        assert_eq!(cloud.json(r, StatusCode::UNAUTHORIZED).await["code"], "unauthorized", "iss {iss:?}, aud {aud:?}");
    }
    cloud.stop().await;
}
