//! Orders: lines with modifiers, the channel and fulfilment, totals, tenders, and the status
//! state machine in one function, [`transition`].

use crate::ids::{ItemId, LineId, ModifierId, OrderId, OutletId, StaffId, TenderId, VariantId};
use crate::money::Currency;
use serde::{Deserialize, Serialize};

/// Where an order came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Taken at the counter.
    Counter,
    /// A self-service kiosk.
    Kiosk,
    /// Taken over the phone.
    Phone,
    /// Placed online through the cloud.
    Online,
}

/// How the order reaches the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Fulfilment {
    /// Eaten in the restaurant.
    DineIn,
    /// Collected at the counter.
    Takeaway,
    /// Brought by a driver.
    Delivery,
}

/// An order's status. See [`transition`] for the allowed moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// An online order waiting for its payment to be authorised: the outlet does not see it yet.
    PaymentPending,
    /// Taken, waiting for the kitchen to accept it (online orders wait here).
    Placed,
    /// Accepted by the outlet; still editable.
    Accepted,
    /// The kitchen has started; no more edits.
    Preparing,
    /// Ready for the customer or the driver.
    Ready,
    /// Handed to a driver (delivery only).
    OutForDelivery,
    /// Served, collected or delivered: final.
    Completed,
    /// Withdrawn before preparation started: final.
    Cancelled,
    /// Withdrawn by a manager after preparation started or after payment: final.
    Voided,
}

impl OrderStatus {
    /// Every status, in state-machine order.
    pub const ALL: [OrderStatus; 9] = [
        Self::PaymentPending,
        Self::Placed,
        Self::Accepted,
        Self::Preparing,
        Self::Ready,
        Self::OutForDelivery,
        Self::Completed,
        Self::Cancelled,
        Self::Voided,
    ];

    /// The snake_case name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PaymentPending => "payment_pending",
            Self::Placed => "placed",
            Self::Accepted => "accepted",
            Self::Preparing => "preparing",
            Self::Ready => "ready",
            Self::OutForDelivery => "out_for_delivery",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Voided => "voided",
        }
    }

    /// Parses [`OrderStatus::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No move leads out of a final status.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Cancelled | Self::Voided)
    }

    /// Lines may still be changed.
    pub fn is_editable(self) -> bool {
        matches!(self, Self::PaymentPending | Self::Placed | Self::Accepted)
    }

    /// The order is on the kitchen's screen.
    pub fn in_kitchen(self) -> bool {
        matches!(self, Self::Placed | Self::Accepted | Self::Preparing)
    }
}

/// Why a status move was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The state machine has no such edge.
    #[error("an order cannot move from {from} to {to}", from = .from.as_str(), to = .to.as_str())]
    NotAllowed {
        /// The current status.
        from: OrderStatus,
        /// The requested status.
        to: OrderStatus,
    },
    /// Only delivery orders go out for delivery.
    #[error("only delivery orders go out for delivery")]
    NotDelivery,
}

/// The one place that says which status moves are allowed.
///
/// An order waiting for its payment (`payment_pending`) can only be cancelled; payments moves
/// it to placed once authorised. Moves go forward only: placed → accepted → preparing → ready → (out_for_delivery →) completed.
/// Steps may be skipped forward (a counter order can be bumped straight to ready). Cancel is
/// allowed while nothing has been prepared (placed, accepted); void is the manager's withdrawal
/// once preparation started or the order was paid, and is allowed from any non-final status.
/// Completing a delivery order requires it to have gone out for delivery.
pub fn transition(from: OrderStatus, to: OrderStatus, fulfilment: Fulfilment) -> Result<(), TransitionError> {
    use OrderStatus::*;
    let refuse = Err(TransitionError::NotAllowed { from, to });
    if from.is_final() || from == to {
        return refuse;
    }
    // An order waiting for its payment moves to placed only when the payment is authorised (not
    // a status move anyone asks for); before that it can only be cancelled.
    if from == PaymentPending && to != Cancelled {
        return refuse;
    }
    match to {
        PaymentPending | Placed => refuse,
        Cancelled => {
            if from.is_editable() {
                Ok(())
            } else {
                refuse
            }
        }
        Voided => Ok(()),
        OutForDelivery if fulfilment != Fulfilment::Delivery => Err(TransitionError::NotDelivery),
        OutForDelivery => {
            if from == Ready {
                Ok(())
            } else {
                refuse
            }
        }
        Completed if fulfilment == Fulfilment::Delivery => {
            if from == OutForDelivery {
                Ok(())
            } else {
                refuse
            }
        }
        Completed => {
            if from == Ready {
                Ok(())
            } else {
                refuse
            }
        }
        Accepted | Preparing | Ready => {
            if from < to && from != OutForDelivery {
                Ok(())
            } else {
                refuse
            }
        }
    }
}

/// What a status move does to the stock an order holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockEffect {
    /// Nothing moves.
    Keep,
    /// The order's ingredients are taken now.
    Take,
    /// What the order took goes back.
    GiveBack,
}

/// The one place that says when an order's stock is taken and given back, for a move that
/// [`transition`] allows. An order holds its stock from the moment the outlet takes it on (an
/// in-store order when it is taken; an online order when it leaves `placed` by any move, whether
/// accepted, started or bumped straight to ready) until it is withdrawn before preparation (a
/// cancel, or a void while still editable). A void once preparation started keeps it: the food
/// was made.
pub fn stock_effect(from: OrderStatus, to: OrderStatus) -> StockEffect {
    use OrderStatus::*;
    let held_before = !matches!(from, PaymentPending | Placed);
    let held_after = match to {
        Cancelled => false,
        Voided => held_before && !from.is_editable(),
        _ => true,
    };
    match (held_before, held_after) {
        (false, true) => StockEffect::Take,
        (true, false) => StockEffect::GiveBack,
        _ => StockEffect::Keep,
    }
}

/// A modifier chosen on a line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LineModifier {
    /// The modifier.
    pub modifier_id: ModifierId,
    /// Its name when the order was priced.
    pub name: String,
    /// Units of it per portion.
    pub quantity: u32,
    /// Price delta per unit, in minor units, as priced.
    pub unit_delta: i64,
}

/// A price set by a manager instead of the menu's, with who and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceOverride {
    /// The menu's unit price it replaced.
    pub menu_unit_price: i64,
    /// The manager who set it.
    pub by: StaffId,
    /// Why.
    pub reason: String,
}

/// One line of an order, priced by the edge from its menu.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderLine {
    /// Stable id.
    pub id: LineId,
    /// The item.
    pub item_id: ItemId,
    /// The item's name when priced.
    pub name: String,
    /// The chosen variant, if the item has variants.
    pub variant_id: Option<VariantId>,
    /// The variant's name when priced.
    pub variant_name: Option<String>,
    /// Portions.
    pub quantity: u32,
    /// Chosen modifiers.
    pub modifiers: Vec<LineModifier>,
    /// Kitchen note ("no salt").
    pub notes: String,
    /// Price of one portion with its modifiers, in minor units.
    pub unit_price: i64,
    /// `unit_price * quantity`.
    pub line_total: i64,
    /// Present when a manager overrode the price.
    pub price_override: Option<PriceOverride>,
}

/// A discount on the whole order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Discount {
    /// How much was taken off, in minor units (positive).
    pub amount: i64,
    /// Why (staff meal, complaint, promotion code).
    pub reason: String,
    /// The manager who granted it.
    pub by: StaffId,
}

/// How a tender was paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TenderKind {
    /// Cash: what the customer handed over, and the change given back.
    Cash {
        /// Cash handed over, in minor units.
        tendered: i64,
        /// Change due back, in minor units.
        change: i64,
    },
    /// A card payment as reported by the external card terminal.
    Card {
        /// The terminal's reference for the payment.
        reference: String,
        /// Card brand, if the terminal reported it.
        brand: Option<String>,
        /// Last four digits, if the terminal reported them.
        last4: Option<String>,
    },
    /// Paid online through a payment provider before the order reached the outlet.
    Online {
        /// The provider (`stripe`, `razorpay`, `test`).
        provider: String,
        /// The cloud's payment id.
        payment_id: String,
    },
    /// Paid from the customer's wallet balance.
    Wallet {
        /// The cloud's payment id.
        payment_id: String,
    },
    /// Money given back to the customer by a manager (negative amount).
    Refund {
        /// Why.
        reason: String,
    },
}

/// A payment applied to an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tender {
    /// Stable id.
    pub id: TenderId,
    /// Amount applied to the order, in minor units (negative for a refund).
    pub amount: i64,
    /// How.
    pub kind: TenderKind,
    /// Who took it.
    pub staff_id: Option<StaffId>,
    /// When, in Unix milliseconds.
    pub at_ms: i64,
}

/// An order as the edge and the cloud store and return it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    /// Stable id, minted where the order was taken.
    pub id: OrderId,
    /// The outlet preparing it.
    pub outlet_id: OutletId,
    /// Short number called out at the counter (per outlet, per day).
    pub number: u32,
    /// Where it came from.
    pub channel: Channel,
    /// How it reaches the customer.
    pub fulfilment: Fulfilment,
    /// Current status.
    pub status: OrderStatus,
    /// The priced lines.
    pub lines: Vec<OrderLine>,
    /// Note for the whole order.
    pub notes: String,
    /// Currency of every amount.
    pub currency: Currency,
    /// Sum of line totals.
    pub subtotal: i64,
    /// Discounts granted.
    pub discounts: Vec<Discount>,
    /// Delivery fee, minor units (0 unless delivered).
    #[serde(default)]
    pub delivery_fee: i64,
    /// Tax on the discounted subtotal and the delivery fee.
    pub tax: i64,
    /// Subtotal − discounts + delivery fee (+ tax where prices exclude it).
    pub total: i64,
    /// Tenders applied.
    pub tenders: Vec<Tender>,
    /// Sum of tender amounts.
    pub paid: i64,
    /// Who took it, for in-store orders.
    pub staff_id: Option<StaffId>,
    /// When it was taken, in Unix milliseconds.
    pub created_ms: i64,
    /// When it last changed, in Unix milliseconds.
    pub updated_ms: i64,
    /// Why it was cancelled or voided, and by whom.
    pub closed_reason: Option<String>,
    /// The staff member who cancelled or voided it.
    pub closed_by: Option<StaffId>,
    /// The customer, for online orders.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// Where to deliver, for delivery orders.
    #[serde(default)]
    pub delivery_address: Option<DeliveryAddress>,
    /// The catalog version it was priced from, for online orders.
    #[serde(default)]
    pub catalog_version: Option<u64>,
}

/// Where a delivery goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryAddress {
    /// Street and number.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200, pattern = "[^\\s\\u0085]"))]
    pub line1: String,
    /// City.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200, pattern = "[^\\s\\u0085]"))]
    pub city: String,
    /// Postcode.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200, pattern = "[^\\s\\u0085]"))]
    pub postcode: String,
    /// Where it is.
    pub position: crate::outlet::LatLon,
}

impl DeliveryAddress {
    /// The address trimmed, or why it cannot be delivered to: a position on Earth, and a street,
    /// city and postcode of 1 to 200 characters each.
    pub fn checked(self) -> Result<Self, &'static str> {
        if !self.position.is_valid() {
            return Err("position is out of range");
        }
        let trimmed = |f: String| {
            if crate::blank(&f) || f.chars().count() > 200 { Err(()) } else { Ok(f.trim().to_owned()) }
        };
        match (trimmed(self.line1), trimmed(self.city), trimmed(self.postcode)) {
            (Ok(line1), Ok(city), Ok(postcode)) => Ok(Self { line1, city, postcode, position: self.position }),
            _ => Err("line1, city and postcode are 1 to 200 characters"),
        }
    }
}

impl Order {
    /// Blanks what leads to the person who ordered (their account, the delivery address, the
    /// notes on the order and its lines), keeping the financial record: the one rule of erasure,
    /// applied by the cloud and by every outlet's copy.
    pub fn erase_personal(&mut self) {
        self.customer_id = None;
        self.delivery_address = None;
        self.notes.clear();
        for l in &mut self.lines {
            l.notes.clear();
        }
    }

    /// An online order whose customer was erased (online orders always name their customer).
    pub fn is_erased(&self) -> bool {
        self.channel == Channel::Online && self.customer_id.is_none()
    }

    /// Recomputes subtotal, tax, total and paid from lines, discounts, delivery fee and tenders.
    /// Tax is on the discounted subtotal plus the delivery fee, rounded half away from zero;
    /// `prices_include_tax` says whether menu prices already contain it (EU, UK) or it is added (US).
    pub fn recompute_totals(&mut self, tax_rate_bp: u32, prices_include_tax: bool) {
        self.subtotal = self.lines.iter().map(|l| l.line_total).sum();
        let discounts: i64 = self.discounts.iter().map(|d| d.amount).sum();
        let net = (self.subtotal - discounts).max(0) + self.delivery_fee;
        let bp = i64::from(tax_rate_bp);
        if prices_include_tax {
            let den = 10_000 + bp;
            self.tax = (2 * net * bp + den) / (2 * den);
            self.total = net;
        } else {
            self.tax = crate::money::apply_basis_points(net, tax_rate_bp);
            self.total = net + self.tax;
        }
        self.paid = self.tenders.iter().map(|t| t.amount).sum();
    }

    /// What is still owed, in minor units.
    pub fn balance_due(&self) -> i64 {
        self.total - self.paid
    }
}

/// A line as a terminal asks for it: what, never a price (unless a manager overrides it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewLine {
    /// The item.
    pub item_id: ItemId,
    /// The variant, required when the item has variants.
    #[serde(default)]
    pub variant_id: Option<VariantId>,
    /// Portions, at least 1 (at most the outlet's `limits.line_quantity`, 99 by default).
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 99))]
    pub quantity: u32,
    /// Modifiers chosen.
    #[serde(default)]
    pub modifiers: Vec<NewLineModifier>,
    /// Kitchen note.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub notes: String,
    /// Manager-only: replace the menu's unit price.
    #[serde(default)]
    pub price_override: Option<NewPriceOverride>,
}

/// A modifier as requested.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewLineModifier {
    /// The modifier.
    pub modifier_id: ModifierId,
    /// Units, at least 1.
    #[serde(default = "one")]
    pub quantity: u32,
}

fn one() -> u32 {
    1
}

/// A manager's price override as requested.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPriceOverride {
    /// The unit price to charge, in minor units.
    pub unit_price: i64,
    /// Why.
    pub reason: String,
}

/// A request to take an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    /// Where it came from.
    pub channel: Channel,
    /// How it reaches the customer.
    pub fulfilment: Fulfilment,
    /// The lines, at least one (at most the outlet's `limits.order_lines`, 100 by default).
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100))]
    pub lines: Vec<NewLine>,
    /// Note for the whole order.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub notes: String,
    /// Where to deliver: required for a delivery (a phone order taken at the counter), refused
    /// otherwise.
    #[serde(default)]
    pub delivery_address: Option<DeliveryAddress>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn stock_is_taken_when_the_outlet_takes_an_order_on_and_given_back_only_before_preparation() {
        assert_eq!(stock_effect(Placed, Accepted), StockEffect::Take);
        assert_eq!(stock_effect(Placed, Ready), StockEffect::Take, "the kitchen's bump straight from placed");
        assert_eq!(stock_effect(Placed, Cancelled), StockEffect::Keep);
        assert_eq!(stock_effect(Placed, Voided), StockEffect::Keep);
        assert_eq!(stock_effect(Accepted, Cancelled), StockEffect::GiveBack);
        assert_eq!(stock_effect(Accepted, Voided), StockEffect::GiveBack);
        assert_eq!(stock_effect(Preparing, Voided), StockEffect::Keep, "the food was made");
        assert_eq!(stock_effect(Accepted, Ready), StockEffect::Keep);
    }

    #[test]
    fn happy_paths_are_allowed() {
        let take = [Placed, Accepted, Preparing, Ready, Completed];
        for w in take.windows(2) {
            assert_eq!(transition(w[0], w[1], Fulfilment::Takeaway), Ok(()));
        }
        let del = [Placed, Accepted, Preparing, Ready, OutForDelivery, Completed];
        for w in del.windows(2) {
            assert_eq!(transition(w[0], w[1], Fulfilment::Delivery), Ok(()));
        }
        assert_eq!(transition(Placed, Ready, Fulfilment::DineIn), Ok(()));
    }

    #[test]
    fn no_move_goes_backwards_or_leaves_a_final_state() {
        for from in OrderStatus::ALL {
            for to in OrderStatus::ALL {
                let ok = transition(from, to, Fulfilment::Delivery).is_ok()
                    || transition(from, to, Fulfilment::Takeaway).is_ok();
                if from.is_final() || from == to {
                    assert!(!ok, "{from:?} -> {to:?}");
                }
                if ok && !matches!(to, Cancelled | Voided) {
                    assert!(to > from, "backward move {from:?} -> {to:?}");
                }
            }
        }
    }

    #[test]
    fn cancel_only_before_preparation_and_void_anytime() {
        assert!(transition(Accepted, Cancelled, Fulfilment::DineIn).is_ok());
        assert!(transition(Preparing, Cancelled, Fulfilment::DineIn).is_err());
        assert!(transition(Ready, Voided, Fulfilment::DineIn).is_ok());
        assert!(transition(Completed, Voided, Fulfilment::DineIn).is_err());
    }

    #[test]
    fn delivery_rules() {
        assert_eq!(transition(Ready, OutForDelivery, Fulfilment::Takeaway), Err(TransitionError::NotDelivery));
        assert!(transition(Ready, Completed, Fulfilment::Delivery).is_err());
    }
}
