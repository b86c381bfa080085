//! The sender's two calls to the cloud, as the edge's link makes them (the outlet's API key in
//! `x-api-key`): the payment with its refunds, and a refund of it under the request's id as
//! `Idempotency-Key`. Each answer becomes a [`CloudAnswer`] for the rules; nothing here decides.

use super::rules::{CloudAnswer, RefundRequest, RequestState};
use reqwest::StatusCode;
use serde::Deserialize;
use std::time::Duration;

/// How long one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// The cloud's payment, as far as the sender reads it.
#[derive(Deserialize)]
struct Payment {
    state: String,
    #[serde(default)]
    refunds: Vec<Refund>,
}

/// One of the cloud's refunds, as far as the sender reads it.
#[derive(Deserialize)]
struct Refund {
    id: String,
    state: String,
}

/// The cloud's error body, as far as the sender reads it.
#[derive(Deserialize)]
struct Problem {
    message: String,
}

/// Where the link points and with which key.
pub(super) struct Cloud {
    /// The client the sender keeps.
    pub client: reqwest::Client,
    /// The cloud's base URL, no trailing slash.
    pub base: String,
    /// The outlet's API key.
    pub key: String,
}

/// What an answer that is not a success says: a refusal for good (409, 404, 422) with the
/// cloud's message, else the cloud out of order for now.
async fn refusal(r: reqwest::Response) -> CloudAnswer {
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Problem>(&text).map(|p| p.message).unwrap_or_else(|_| text.clone());
    match status {
        StatusCode::CONFLICT | StatusCode::NOT_FOUND | StatusCode::UNPROCESSABLE_ENTITY => {
            CloudAnswer::Refused(if message.is_empty() { status.to_string() } else { message })
        }
        _ => CloudAnswer::Unreachable(format!("{status}: {message}")),
    }
}

fn unreachable(e: &reqwest::Error) -> CloudAnswer {
    CloudAnswer::Unreachable(patty_service::error::with_causes(e))
}

impl Cloud {
    async fn payment(&self, id: &str) -> Result<Payment, CloudAnswer> {
        let r = self
            .client
            .get(format!("{}/api/v1/payments/{id}", self.base))
            .header("x-api-key", &self.key)
            .timeout(CALL_TIMEOUT)
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        if !r.status().is_success() {
            return Err(refusal(r).await);
        }
        r.json().await.map_err(|e| unreachable(&e))
    }

    /// Asks the cloud about `r`: a queued request is sent once its payment is captured (a refund
    /// of a payment still only authorised would be refused for good), a sent one is looked up
    /// among its payment's refunds.
    #[tracing::instrument(skip_all, fields(request.id = %r.id, payment.id = %r.payment_id))]
    pub async fn ask(&self, r: &RefundRequest) -> CloudAnswer {
        let payment = match self.payment(&r.payment_id).await {
            Ok(p) => p,
            Err(answer) => return answer,
        };
        if r.state == RequestState::Sent {
            let Some(id) = r.cloud_refund_id.as_deref() else {
                return CloudAnswer::Refused("the cloud's refund id was lost".into());
            };
            return match payment.refunds.into_iter().find(|f| f.id == id) {
                Some(f) => CloudAnswer::Refund { id: f.id, state: f.state },
                None => CloudAnswer::Refused(format!("the cloud has no refund {id} of payment {}", r.payment_id)),
            };
        }
        if matches!(payment.state.as_str(), "created" | "open" | "authorised") {
            return CloudAnswer::NotYet(format!(
                "the payment is {}: waiting for the cloud to capture it",
                payment.state
            ));
        }
        let body = serde_json::json!({ "amount": r.amount, "reason": r.reason, "to": r.destination.as_str() });
        let sent = self
            .client
            .post(format!("{}/api/v1/payments/{}/refunds", self.base, r.payment_id))
            .header("x-api-key", &self.key)
            .header("idempotency-key", &r.id)
            .timeout(CALL_TIMEOUT)
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => match resp.json::<Refund>().await {
                Ok(f) => CloudAnswer::Refund { id: f.id, state: f.state },
                Err(e) => unreachable(&e),
            },
            Ok(resp) => refusal(resp).await,
            Err(e) => unreachable(&e),
        }
    }
}
