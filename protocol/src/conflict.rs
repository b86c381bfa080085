//! Conflicts sync found between an outlet and the cloud: kept with both sides, listed for the
//! outlet's manager and for HQ, and settled by a person, never swallowed.

use crate::ids::{ConflictId, OutletId};
use serde::{Deserialize, Serialize};

/// What kind of clash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// An item was sold at the outlet after HQ had withdrawn it from the outlet's menu.
    ItemWithdrawn,
    /// A new catalog changed the price of an item on an order that was still open.
    PriceChangedWhileOpen,
    /// The customer cancelled online while the outlet accepted or started the order.
    CancelRacedKitchen,
    /// The outlet and the cloud closed the same order differently.
    FinalStatusesDiffer,
    /// Stock went below zero once every movement was counted.
    StockBelowZero,
}

impl ConflictKind {
    /// The name used in storage and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ItemWithdrawn => "item_withdrawn",
            Self::PriceChangedWhileOpen => "price_changed_while_open",
            Self::CancelRacedKitchen => "cancel_raced_kitchen",
            Self::FinalStatusesDiffer => "final_statuses_differ",
            Self::StockBelowZero => "stock_below_zero",
        }
    }

    /// Parses [`ConflictKind::as_str`]'s names.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::ItemWithdrawn,
            Self::PriceChangedWhileOpen,
            Self::CancelRacedKitchen,
            Self::FinalStatusesDiffer,
            Self::StockBelowZero,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A conflict with both sides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conflict {
    /// Stable id, minted where it was found.
    pub id: ConflictId,
    /// The outlet concerned.
    pub outlet_id: OutletId,
    /// What kind.
    pub kind: ConflictKind,
    /// What it is about: an order, item or ingredient id.
    pub subject: String,
    /// The outlet's side, in words.
    pub outlet_side: String,
    /// The cloud's side, in words.
    pub cloud_side: String,
    /// When it was found, Unix milliseconds.
    pub raised_ms: i64,
    /// How it was settled, once it is.
    pub resolution: Option<Resolution>,
}

/// How a conflict was settled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resolution {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Who (a staff or user id, with where: `outlet:` or `hq:`).
    pub by: String,
    /// What was decided.
    pub note: String,
}
