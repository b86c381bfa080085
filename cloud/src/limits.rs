//! Per-client rate limiting: a token bucket per client (its bearer token or API key, else its
//! address). Over the limit: 429 with `Retry-After`.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use patty_protocol::ErrorCode;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Token buckets by client.
pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_minute` sustained, `burst` at once.
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self { per_sec: f64::from(per_minute) / 60.0, burst: f64::from(burst.max(1)), buckets: Mutex::default() }
    }

    /// Takes one token for `client`; `Err(seconds)` until one is available.
    pub fn check(&self, client: &str) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut b) = self.buckets.lock() else { return Ok(()) };
        if b.len() > 100_000 {
            let full = self.burst / self.per_sec;
            b.retain(|_, (_, t)| now.duration_since(*t).as_secs_f64() < full);
        }
        let (tokens, last) = b.entry(client.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * self.per_sec).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_sec).ceil().max(1.0) as u64)
        }
    }
}

/// Middleware: refuses a client over its rate with 429 and `Retry-After`.
pub async fn limit(State(limiter): State<Arc<RateLimiter>>, req: Request, next: Next) -> Response {
    let h = req.headers();
    let client = h
        .get(axum::http::header::AUTHORIZATION)
        .or_else(|| h.get("x-api-key"))
        .and_then(|v| v.to_str().ok())
        .map(|v| patty_service::secret::digest(&[v.as_bytes()]))
        .or_else(|| req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()))
        .unwrap_or_default();
    match limiter.check(&client) {
        Ok(()) => next.run(req).await,
        Err(secs) => {
            let mut r = patty_service::http::error_response(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "too many requests; slow down".into(),
            );
            if let Ok(v) = secs.to_string().parse() {
                r.headers_mut().insert("retry-after", v);
            }
            r.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_a_wait() {
        let l = RateLimiter::new(60, 3);
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        assert_eq!(l.check("a"), Err(1));
        assert!(l.check("b").is_ok(), "clients have their own buckets");
    }
}
