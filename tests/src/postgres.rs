//! A PostgreSQL schema of its own for each test or benchmark, on the server the test command runs.

/// The PostgreSQL server the suite uses (`PATTY_TEST_POSTGRES`; the test command makes sure it runs).
pub fn postgres_url() -> String {
    std::env::var("PATTY_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh schema on the test server; returns a URL whose connections use it.
pub async fn postgres_schema() -> String {
    use sqlx::Connection;
    let base = postgres_url();
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} is needed for these tests: {e}"));
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&mut conn).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}
