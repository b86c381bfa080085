//! A PostgreSQL schema of its own for each test or benchmark, on the server the test command runs.

/// The PostgreSQL server the suite uses (`PATTY_TEST_POSTGRES`; the test command makes sure it runs).
pub fn postgres_url() -> String {
    std::env::var("PATTY_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh schema on the test server; returns a URL whose connections use it. Schemas left by runs
/// more than an hour old are dropped on the way.
pub async fn postgres_schema() -> String {
    use sqlx::{Connection, Row};
    let base = postgres_url();
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} is needed for these tests: {e}"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let old = sqlx::query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pt\\_%'")
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default();
    for row in old {
        let name: String = row.get(0);
        let born: u64 = name.split('_').nth(1).and_then(|t| t.parse().ok()).unwrap_or(now);
        if now.saturating_sub(born) > 3600 {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).execute(&mut conn).await;
        }
    }
    let schema = format!("pt_{now}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}
