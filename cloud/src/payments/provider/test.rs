//! The embedded default provider: every payment is authorised at once, in-process, with no
//! network and no webhooks. The demo's customers and a fresh clone pay through it. It keeps
//! nothing: each answer is computed from the request, so a retry under the same key gets the same
//! answer, as a real provider's idempotency would give.

use super::{Create, Method, Notice, Provider, ProviderError, RefundMade, Remote, Stage, WebhookError};
use futures::future::{BoxFuture, FutureExt};

/// The `test` provider.
#[derive(Clone, Debug, Default)]
pub struct TestProvider;

fn reference(key: &str) -> String {
    format!("test_{}", &patty_service::secret::digest(&[key.as_bytes()])[..24])
}

impl Provider for TestProvider {
    fn name(&self) -> &'static str {
        "test"
    }

    fn create<'a>(&'a self, req: &'a Create) -> BoxFuture<'a, Result<Remote, ProviderError>> {
        async move {
            let captured = if req.auto_capture { req.amount } else { 0 };
            Ok(Remote {
                reference: reference(&req.key),
                charge: Some(format!("{}_charge", reference(&req.key))),
                stage: if req.auto_capture { Stage::Captured } else { Stage::Authorised },
                authorised: req.amount,
                captured,
                refunded: 0,
                fee: 0,
                client_secret: None,
            })
        }
        .boxed()
    }

    fn find<'a>(&'a self, _key: &'a str, req: &'a Create) -> BoxFuture<'a, Result<Option<Remote>, ProviderError>> {
        async move { self.create(req).await.map(Some) }.boxed()
    }

    fn fetch<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Result<Remote, ProviderError>> {
        async move {
            Err(ProviderError::Refused(format!("the test provider keeps no state; {reference} cannot be fetched")))
        }
        .boxed()
    }

    fn capture<'a>(
        &'a self,
        reference: &'a str,
        charge: Option<&'a str>,
        amount: i64,
        _currency: &'a str,
        _key: &'a str,
    ) -> BoxFuture<'a, Result<Remote, ProviderError>> {
        async move {
            Ok(Remote {
                reference: reference.to_owned(),
                charge: charge.map(str::to_owned),
                stage: Stage::Captured,
                authorised: amount,
                captured: amount,
                refunded: 0,
                fee: 0,
                client_secret: None,
            })
        }
        .boxed()
    }

    fn cancel<'a>(&'a self, reference: &'a str, _key: &'a str) -> BoxFuture<'a, Result<Remote, ProviderError>> {
        async move {
            Ok(Remote {
                reference: reference.to_owned(),
                charge: None,
                stage: Stage::Cancelled,
                authorised: 0,
                captured: 0,
                refunded: 0,
                fee: 0,
                client_secret: None,
            })
        }
        .boxed()
    }

    fn refund<'a>(
        &'a self,
        _reference: &'a str,
        _charge: Option<&'a str>,
        _amount: i64,
        key: &'a str,
    ) -> BoxFuture<'a, Result<RefundMade, ProviderError>> {
        async move { Ok(RefundMade { reference: format!("{}_refund", reference(key)), settled: true }) }.boxed()
    }

    fn customer<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<String, ProviderError>> {
        async move { Ok(format!("test_cus_{}", &reference(key)[5..])) }.boxed()
    }

    fn attach<'a>(&'a self, _customer: &'a str, token: &'a str) -> BoxFuture<'a, Result<Method, ProviderError>> {
        async move {
            // A test token names its card: `test_visa_4242_12_2030`.
            let parts: Vec<&str> = token.split('_').collect();
            match parts.as_slice() {
                ["test", brand, last4, month, year]
                    if last4.len() == 4 && last4.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    Ok(Method {
                        token: token.to_owned(),
                        brand: (*brand).to_owned(),
                        last4: (*last4).to_owned(),
                        exp_month: month.parse().map_err(|_| ProviderError::Refused("bad expiry month".into()))?,
                        exp_year: year.parse().map_err(|_| ProviderError::Refused("bad expiry year".into()))?,
                    })
                }
                _ => Err(ProviderError::Refused("the test provider takes tokens like test_visa_4242_12_2030".into())),
            }
        }
        .boxed()
    }

    fn detach<'a>(&'a self, _token: &'a str) -> BoxFuture<'a, Result<(), ProviderError>> {
        async move { Ok(()) }.boxed()
    }

    fn verify(&self, _headers: &axum::http::HeaderMap, _body: &[u8], _now_s: i64) -> Result<Notice, WebhookError> {
        Err(WebhookError::Unsigned)
    }
}
