//! Who is calling: the roles, the verified caller ([`Principal`]) and the client's address
//! ([`ClientAddr`]). The identity domain's front door verifies the credentials once per request and
//! leaves what it found on the request; these extractors only read it, so they work with any state.

use crate::infra::error::{Error, Result};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use patty_protocol::ids::OutletId;
use patty_service::http::RemoteAddr;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Who a caller is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Orders for themselves.
    Customer,
    /// Works at one outlet.
    OutletStaff,
    /// Runs one outlet.
    OutletManager,
    /// Delivers.
    Driver,
    /// Headquarters: everything.
    HqAdmin,
    /// An outlet's edge node (API key).
    Edge,
    /// A driver's device (API key).
    Device,
}

impl Role {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::OutletStaff => "outlet_staff",
            Self::OutletManager => "outlet_manager",
            Self::Driver => "driver",
            Self::HqAdmin => "hq_admin",
            Self::Edge => "edge",
            Self::Device => "device",
        }
    }

    /// The role named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Customer, Self::OutletStaff, Self::OutletManager, Self::Driver, Self::HqAdmin, Self::Edge, Self::Device]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Principal {
    /// User id (or API key subject).
    pub subject: String,
    /// Role.
    pub role: Role,
    /// The outlet a staff member, manager or edge node belongs to.
    pub outlet_id: Option<OutletId>,
}

impl Principal {
    /// Refuses unless the caller has one of `roles` (HQ admins always pass).
    pub fn require(&self, roles: &[Role]) -> Result<()> {
        if self.role == Role::HqAdmin || roles.contains(&self.role) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("a {} may not do this", self.role.as_str())))
        }
    }

    /// Refuses unless the caller has one of `roles` and, below HQ, belongs to `outlet`.
    pub fn require_outlet(&self, roles: &[Role], outlet: OutletId) -> Result<()> {
        self.require(roles)?;
        if self.role == Role::HqAdmin || self.outlet_id == Some(outlet) {
            Ok(())
        } else {
            Err(Error::Forbidden("this belongs to another outlet".into()))
        }
    }
}

/// The client's address as the front door judged it (see [`crate::infra::limits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        parts
            .extensions
            .get::<Self>()
            .copied()
            .or_else(|| parts.extensions.get::<ConnectInfo<RemoteAddr>>().map(|c| Self(c.0.0.ip())))
            .ok_or_else(|| Error::Internal("no client address on the request".into()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or_else(|| Error::Unauthorized("sign in first: no access token".into()))
    }
}
