//! Reading Server-Sent Events from a streaming HTTP response, with deadlines instead of sleeps.

use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;
use std::time::Duration;

/// Reads `event:` / `data:` blocks from a response body.
pub struct SseReader {
    stream: BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl SseReader {
    /// Reads from `resp`'s body.
    pub fn new(resp: reqwest::Response) -> Self {
        Self { stream: resp.bytes_stream().boxed(), buf: String::new() }
    }

    /// The next (event name, JSON data) pair; panics if none arrives `within`.
    pub async fn next(&mut self, within: Duration) -> (String, Value) {
        tokio::time::timeout(within, async {
            loop {
                if let Some(end) = self.buf.find("\n\n") {
                    let block: String = self.buf.drain(..end + 2).collect();
                    let mut name = String::new();
                    let mut data = String::new();
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("event:") {
                            name = v.trim().to_owned();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim());
                        }
                    }
                    if name.is_empty() && data.is_empty() {
                        continue; // a keep-alive comment
                    }
                    return (name, serde_json::from_str(&data).unwrap_or(Value::Null));
                }
                let chunk = self.stream.next().await.expect("the stream ended").expect("the stream failed");
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("no event arrived in time")
    }

    /// Skips events until `pred` holds, and returns that event's data; panics after `within`.
    pub async fn until(&mut self, within: Duration, pred: impl Fn(&str, &Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let (name, data) = self.next(left).await;
            if pred(&name, &data) {
                return data;
            }
        }
    }
}
