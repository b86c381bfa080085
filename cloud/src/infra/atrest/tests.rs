//! The key ring, sealing and opening, and rotation on SQLite and (with `PATTY_TEST_POSTGRES`) on
//! PostgreSQL.

use super::*;
use crate::infra::config::Config;

fn spec(id: &str, byte: u8) -> String {
    format!("{id}:{}", B64.encode([byte; 32]))
}

fn ring(current: (&str, u8), old: &[(&str, u8)]) -> AtRest {
    let old: Vec<String> = old.iter().map(|(id, b)| spec(id, *b)).collect();
    AtRest::from_keys(&spec(current.0, current.1), &old).unwrap()
}

fn message(e: Error) -> String {
    match e {
        Error::Internal(m) => m,
        other => panic!("not an internal error: {other:?}"),
    }
}

const CARDS: SealedColumns = SealedColumns { table: "cards", id: "id", columns: &["token", "holder"] };

#[test]
fn a_value_seals_and_opens() {
    let r = ring(("k1", 1), &[]);
    let a = aad("payment_methods", "token", "pm_1");
    assert_eq!(a, "payment_methods.token:pm_1");
    let sealed = r.seal("pm_card_visa_4242", &a).unwrap();
    assert!(sealed.starts_with("k1:"), "{sealed}");
    assert!(!sealed.contains("4242"));
    assert_ne!(r.seal("pm_card_visa_4242", &a).unwrap(), sealed, "a fresh nonce each time");
    assert_eq!(r.open(&sealed, &a).unwrap(), "pm_card_visa_4242");
    assert_eq!(r.open(&r.seal("", &a).unwrap(), &a).unwrap(), "");
    assert!(!r.needs_rotation(&sealed));
}

#[test]
fn a_value_opens_only_in_its_own_row_and_column() {
    let r = ring(("k1", 1), &[]);
    let sealed = r.seal("Ada Lovelace", &aad("payment_methods", "billing_name", "pm_1")).unwrap();
    for other in [
        aad("payment_methods", "billing_name", "pm_2"),
        aad("payment_methods", "token", "pm_1"),
        aad("customers", "billing_name", "pm_1"),
    ] {
        let m = message(r.open(&sealed, &other).unwrap_err());
        assert!(m.contains("does not open"), "{m}");
        assert!(!m.contains("Ada"), "{m}");
    }
}

#[test]
fn a_wrong_or_unknown_key_fails() {
    let a = aad("cards", "token", "c1");
    let sealed = ring(("k1", 1), &[]).seal("tok_secret", &a).unwrap();
    // The same id, other key bytes.
    let m = message(ring(("k1", 2), &[]).open(&sealed, &a).unwrap_err());
    assert!(m.contains("does not open with at-rest key k1"), "{m}");
    // An id the ring does not hold.
    let other = ring(("k2", 2), &[("k0", 0)]);
    assert!(other.needs_rotation(&sealed));
    let m = message(other.open(&sealed, &a).unwrap_err());
    assert!(m.contains("unknown at-rest key k1"), "{m}");
    // Tampered, truncated, malformed.
    let r = ring(("k1", 1), &[]);
    let (_, enc) = sealed.split_once(':').unwrap();
    let mut raw = B64.decode(enc).unwrap();
    *raw.last_mut().unwrap() ^= 1;
    assert!(r.open(&format!("k1:{}", B64.encode(&raw)), &a).is_err());
    assert!(r.open(&format!("k1:{}", B64.encode(&raw[..8])), &a).is_err());
    assert!(r.open("k1:not base64!", &a).is_err());
    assert!(r.open("tok_secret", &a).is_err());
    assert!(r.needs_rotation("tok_secret"));
}

#[test]
fn malformed_keys_are_refused_without_showing_them() {
    let key = B64.encode([9u8; 32]);
    let short = B64.encode([9u8; 16]);
    let cases = [
        (key.clone(), "expected ID:BASE64"),
        (format!(":{key}"), "key id must be"),
        (format!("a b:{key}"), "key id must be"),
        (format!("{}:{key}", "x".repeat(33)), "key id must be"),
        ("k1:%%%not-base64%%%".to_owned(), "key k1 is not valid base64"),
        (format!("k1:{short}"), "key k1 is 16 bytes, 32 are needed"),
    ];
    for (bad, why) in cases {
        let ConfigError::Invalid(m) = AtRest::from_keys(&bad, &[]).unwrap_err() else { panic!("not Invalid") };
        assert!(m.starts_with("payments.at_rest_key: ") && m.contains(why), "{m}");
        assert!(!m.contains(&key) && !m.contains(&short) && !m.contains("not-base64"), "{m}");
    }
    let ConfigError::Invalid(m) =
        AtRest::from_keys(&spec("k1", 1), &[spec("k0", 0), format!("k9:{short}")]).unwrap_err()
    else {
        panic!("not Invalid")
    };
    assert!(m.starts_with("payments.old_at_rest_keys[1]: key k9 is 16 bytes"), "{m}");
    for old in [vec![spec("k1", 2)], vec![spec("k0", 0), spec("k0", 3)]] {
        let ConfigError::Invalid(m) = AtRest::from_keys(&spec("k1", 1), &old).unwrap_err() else {
            panic!("not Invalid")
        };
        assert!(m.contains("is used by another at-rest key"), "{m}");
    }
    let r = ring(("k1", 7), &[("k0", 8)]);
    let debug = format!("{r:?}");
    assert_eq!(debug, r#"AtRest { current: "k1", old: ["k0"], .. }"#);
}

#[test]
fn with_no_key_configured_one_is_generated_once_in_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = PaymentsConfig::default();
    let a = AtRest::from_config(&cfg, dir.path()).unwrap();
    assert!(a.current_id().starts_with("local-") && a.current_id().len() == 14, "{}", a.current_id());
    let path = dir.path().join(KEY_FILE);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let sealed = a.seal("cus_123", "t.c:1").unwrap();
    let b = AtRest::from_config(&cfg, dir.path()).unwrap();
    assert_eq!(b.current_id(), a.current_id(), "the id is stable");
    assert_eq!(b.open(&sealed, "t.c:1").unwrap(), "cus_123");

    // Once a key is configured, the generated one stays readable as an old key.
    let key_file = dir.path().join("configured.key");
    std::fs::write(&key_file, format!("{}\n", spec("k1", 1))).unwrap();
    let cfg = PaymentsConfig { at_rest_key_file: Some(key_file), ..PaymentsConfig::default() };
    let c = AtRest::from_config(&cfg, dir.path()).unwrap();
    assert_eq!(c.current_id(), "k1");
    assert!(c.needs_rotation(&sealed));
    assert_eq!(c.open(&sealed, "t.c:1").unwrap(), "cus_123");

    // A configured key does not make a file.
    let empty = tempfile::tempdir().unwrap();
    let cfg = PaymentsConfig { at_rest_key: spec("k1", 1), ..PaymentsConfig::default() };
    AtRest::from_config(&cfg, empty.path()).unwrap();
    assert!(!empty.path().join(KEY_FILE).exists());
}

const PLAIN: &[&str] =
    &["pm_card_visa_0001", "pm_card_visa_0002", "pm_card_visa_0003", "Grace Hopper", "Alan Turing", "Edsger Dijkstra"];

/// Fills `set.table` (created by the caller) with rows under `old`'s key: the plain values
/// across both columns, some NULL and one empty, plus one value no key opens. Returns how many
/// values are under the old key.
async fn fill(db: &Db, old: &AtRest, set: &SealedColumns) -> u64 {
    let mut n = 0;
    for i in 0..7usize {
        let id = format!("c{i}");
        let token = PLAIN.get(i).filter(|_| i % 3 != 2).map(|p| old.seal(p, &aad(set.table, "token", &id)).unwrap());
        let holder = match i {
            6 => Some(String::new()),
            _ => PLAIN.get(5 - i).map(|p| old.seal(p, &aad(set.table, "holder", &id)).unwrap()),
        };
        n += token.is_some() as u64 + holder.as_ref().is_some_and(|h| !h.is_empty()) as u64;
        sqlx::query(&format!("INSERT INTO {} (id, token, holder) VALUES ($1, $2, $3)", set.table))
            .bind(&id)
            .bind(token)
            .bind(holder)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    sqlx::query(&format!("INSERT INTO {} (id, token, holder) VALUES ('c9', 'zz:AAAA', NULL)", set.table))
        .execute(&db.pool)
        .await
        .unwrap();
    n
}

async fn values(db: &Db, set: &SealedColumns) -> Vec<(String, Option<String>, Option<String>)> {
    sqlx::query(&format!("SELECT id, token, holder FROM {} ORDER BY id", set.table))
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// The rotation story on `db`, whose `set.table` the caller created empty.
async fn rotation_story(db: &Db, set: &SealedColumns) {
    let before = ring(("k0", 0), &[]);
    let sealed = fill(db, &before, set).await;
    let now = ring(("k1", 1), &[("k0", 0)]);
    let check_open = |r: &AtRest, rows: &[(String, Option<String>, Option<String>)]| {
        let mut seen = Vec::new();
        for (id, token, holder) in rows.iter().filter(|(id, ..)| id != "c9") {
            for (col, v) in [("token", token), ("holder", holder)] {
                if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
                    seen.push(r.open(v, &aad(set.table, col, id)).unwrap());
                }
            }
        }
        seen.sort();
        seen
    };
    let rows = values(db, set).await;
    let opened = check_open(&now, &rows);
    assert_eq!(opened.len() as u64, sealed);

    // Batches of 3 over the 7 rows to rewrite: the unreadable one does not stop it.
    assert_eq!(rotate(db, &now, set, 3).await.unwrap(), sealed);
    assert_eq!(rotate(db, &now, set, 3).await.unwrap(), 0, "nothing left to rewrite");
    let rows = values(db, set).await;
    for (id, token, holder) in &rows {
        for v in [token, holder].into_iter().flatten().filter(|v| !v.is_empty()) {
            assert!(id == "c9" || v.starts_with("k1:"), "{id}: {v}");
        }
    }
    assert_eq!(rows.iter().find(|r| r.0 == "c9").unwrap().1.as_deref(), Some("zz:AAAA"), "left as it was");
    assert_eq!(rows.iter().find(|r| r.0 == "c6").unwrap().2.as_deref(), Some(""), "left as it was");
    // A ring that no longer has the old key opens everything.
    assert_eq!(check_open(&ring(("k1", 1), &[]), &rows), opened);

    // A concurrent writer wins: a row whose value changed since it was read is not rewritten.
    let (id, token, _) = rows.iter().find(|r| r.1.is_some() && r.0 != "c9").unwrap().clone();
    let mut conn = db.pool.acquire().await.unwrap();
    let change = [("token", "k1:not what is there".to_owned(), "k2:rewritten".to_owned())];
    assert_eq!(rewrite_row(&mut conn, set, &id, &change).await.unwrap(), 0);
    drop(conn);
    assert_eq!(values(db, set).await.into_iter().find(|r| r.0 == id).unwrap().1, token);
}

#[tokio::test]
async fn rotation_rewrites_old_values_under_the_current_key_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&Config::for_data_dir(dir.path())).await.unwrap();
    sqlx::query("CREATE TABLE cards (id TEXT PRIMARY KEY, token TEXT, holder TEXT)").execute(&db.pool).await.unwrap();
    rotation_story(&db, &CARDS).await;
    let mut bytes = std::fs::read(dir.path().join("cloud.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("cloud.db-wal")) {
        bytes.extend(wal);
    }
    for p in PLAIN {
        assert!(!bytes.windows(p.len()).any(|w| w == p.as_bytes()), "{p} is in the database file");
    }
}

#[tokio::test]
async fn rotation_runs_in_the_background_until_closing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&Config::for_data_dir(dir.path())).await.unwrap();
    sqlx::query("CREATE TABLE cards (id TEXT PRIMARY KEY, token TEXT, holder TEXT)").execute(&db.pool).await.unwrap();
    fill(&db, &ring(("k0", 0), &[]), &CARDS).await;
    let (tx, rx) = watch::channel(false);
    let now = Arc::new(ring(("k1", 1), &[("k0", 0)]));
    let task = tokio::spawn(rotate_forever(db.clone(), now, vec![CARDS], Duration::from_millis(20), rx));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows = values(&db, &CARDS).await;
        let left = rows
            .iter()
            .filter(|r| r.0 != "c9")
            .flat_map(|r| [&r.1, &r.2])
            .flatten()
            .filter(|v| !v.is_empty() && !v.starts_with("k1:"))
            .count();
        if left == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{left} values not rotated");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tx.send_replace(true);
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops when closing").unwrap();
}

#[tokio::test]
async fn rotation_rewrites_old_values_under_the_current_key_postgres() {
    let Ok(url) = std::env::var("PATTY_TEST_POSTGRES") else {
        eprintln!("PATTY_TEST_POSTGRES is not set: the PostgreSQL rotation test is skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_data_dir(dir.path());
    config.database.url = url;
    let db = Db::connect(&config).await.unwrap();
    let table: &'static str = format!("atrest_cards_{}", uuid::Uuid::new_v4().simple()).leak();
    sqlx::query(&format!("CREATE TABLE {table} (id TEXT PRIMARY KEY, token TEXT, holder TEXT)"))
        .execute(&db.pool)
        .await
        .unwrap();
    let set = SealedColumns { table, ..CARDS };
    let story = tokio::spawn({
        let db = db.clone();
        async move { rotation_story(&db, &set).await }
    })
    .await;
    sqlx::query(&format!("DROP TABLE {table}")).execute(&db.pool).await.unwrap();
    story.unwrap();
}
