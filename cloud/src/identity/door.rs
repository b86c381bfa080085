//! The front door of every request ([`front_door`]): who is calling ([`authenticate`]: an API key
//! or a bearer access token), the rate limit, and the check that a customer's account still exists,
//! remembered for a second per customer and replica.

use super::{IdentityError, IdentityState, store};
use crate::infra::access::{ClientAddr, Principal, Role};
use crate::infra::error::{Error, Result};
use crate::infra::limits::Client;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use patty_service::http::RemoteAddr;
use std::net::IpAddr;

/// The caller the request's credentials name: `None` without credentials, an error when they do
/// not verify (an unknown API key, a bad or expired token, an erased account).
#[tracing::instrument(skip_all)]
pub async fn authenticate(headers: &HeaderMap, state: &IdentityState) -> Result<Option<Principal>> {
    if let Some(key) = headers.get("x-api-key") {
        let key = key.to_str().map_err(|_| IdentityError::UnknownApiKey)?;
        return Ok(Some(store::api_key_principal(&state.db, key).await?));
    }
    let Some(auth) = headers.get(axum::http::header::AUTHORIZATION) else { return Ok(None) };
    let token = auth.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).ok_or(IdentityError::NotBearer)?;
    let claims = state.keys.verify(token)?;
    if claims.role == Role::Customer {
        ensure_not_erased(state, &claims.sub).await?;
    }
    Ok(Some(Principal { subject: claims.sub, role: claims.role, outlet_id: claims.outlet }))
}

/// The front door of every request: names the client (verified principal, else address), counts
/// the request against it, and answers 401 for credentials that do not verify (counted against
/// the address, so invented tokens buy no fresh buckets) and 429 over the limit. What it verified
/// rides on the request for [`Principal`] and [`ClientAddr`].
pub async fn front_door(State(state): State<IdentityState>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<RemoteAddr>>().map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.0.ip());
    let forwarded = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    let addr = state.limits.client_address(peer, &forwarded);
    let who = authenticate(req.headers(), &state).await;
    let client = match &who {
        Ok(Some(p)) => Client::Principal(format!("{}:{}", p.role.as_str(), p.subject)),
        _ => Client::Address(addr),
    };
    if let Err(e) = state.limits.request(&client) {
        return e.into_response();
    }
    match who {
        Err(e) => return e.into_response(),
        Ok(Some(p)) => {
            req.extensions_mut().insert(p);
        }
        Ok(None) => {}
    }
    req.extensions_mut().insert(ClientAddr(addr));
    next.run(req).await
}

/// How long a replica trusts that a customer account still exists before asking again.
const LIVE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Refuses a still-valid access token whose customer erased their account (checked at most once a
/// second per customer and replica; the replica that erases forgets the customer at once).
async fn ensure_not_erased(state: &IdentityState, user_id: &str) -> Result<()> {
    let fresh =
        state.live_customers.lock().ok().and_then(|m| m.get(user_id).copied()).is_some_and(|t| t.elapsed() < LIVE_TTL);
    if fresh {
        return Ok(());
    }
    if !store::is_live(&state.db, user_id).await? {
        return Err(Error::from(IdentityError::AccountErased));
    }
    if let Ok(mut m) = state.live_customers.lock() {
        if m.len() > 100_000 {
            m.retain(|_, t| t.elapsed() < LIVE_TTL);
        }
        m.insert(user_id.to_owned(), std::time::Instant::now());
    }
    Ok(())
}
