//! Staff members and what each role may do.

use crate::ids::StaffId;
use serde::{Deserialize, Serialize};

/// A role at an outlet (`StaffRole` in the API documents, apart from the cloud's account roles).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = StaffRole))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Takes orders and payments.
    Cashier,
    /// Works the kitchen queue.
    Kitchen,
    /// Everything, including voids, refunds, stock corrections and price overrides.
    Manager,
}

impl Role {
    /// The snake_case name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cashier => "cashier",
            Self::Kitchen => "kitchen",
            Self::Manager => "manager",
        }
    }

    /// Parses [`Role::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Cashier, Self::Kitchen, Self::Manager].into_iter().find(|r| r.as_str() == s)
    }
}

/// A staff member as the APIs show one (never the PIN).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Staff {
    /// Stable id.
    pub id: StaffId,
    /// Display name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Whether they may still sign in.
    pub active: bool,
}
