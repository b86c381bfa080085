//! Receipts: an order rendered as the 40-column text a receipt printer prints. Pure: no store.

use crate::infra::config::OutletConfig;
use chrono::{DateTime, Utc};
use patty_protocol::order::{Order, OrderStatus, TenderKind};
use serde::{Deserialize, Serialize};

/// A receipt.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    /// The order.
    pub order: Order,
    /// The receipt as printed (monospace, 40 columns).
    pub text: String,
}

fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.unsigned_abs() / 100, minor.unsigned_abs() % 100)
}

/// Renders a 40-column receipt.
pub fn receipt_text(o: &Order, cfg: &OutletConfig) -> String {
    use std::fmt::Write;
    let row = |left: &str, right: &str| {
        let width = 40usize.saturating_sub(right.chars().count()).max(1);
        let left: String = left.chars().take(width - 1).collect();
        format!("{left:<width$}{right}\n")
    };
    let local = DateTime::<Utc>::from_timestamp_millis(o.created_ms).unwrap_or_default().with_timezone(&cfg.timezone);
    let mut t = format!("{:^40}\n", cfg.name);
    let _ = writeln!(t, "Order {} · {:?} · {}", o.number, o.fulfilment, local.format("%Y-%m-%d %H:%M"));
    if let Some(a) = &o.delivery_address {
        let _ = writeln!(t, "Deliver to {}, {} {}", a.line1, a.postcode, a.city);
    }
    t.push_str(&"-".repeat(40));
    t.push('\n');
    for l in &o.lines {
        let name = match &l.variant_name {
            Some(v) => format!("{} x {} ({v})", l.quantity, l.name),
            None => format!("{} x {}", l.quantity, l.name),
        };
        t.push_str(&row(&name, &money(l.line_total)));
        for m in &l.modifiers {
            let _ = writeln!(
                t,
                "    + {}{}",
                m.name,
                if m.quantity > 1 { format!(" x{}", m.quantity) } else { String::new() }
            );
        }
        if !l.notes.is_empty() {
            let _ = writeln!(t, "    \"{}\"", l.notes);
        }
    }
    t.push_str(&"-".repeat(40));
    t.push('\n');
    t.push_str(&row("Subtotal", &money(o.subtotal)));
    for d in &o.discounts {
        t.push_str(&row(&format!("Discount ({})", d.reason), &money(-d.amount)));
    }
    if o.delivery_fee > 0 {
        t.push_str(&row("Delivery", &money(o.delivery_fee)));
    }
    let pct = format!("{}.{:02}%", cfg.tax_rate_bp / 100, cfg.tax_rate_bp % 100);
    let tax_label = if cfg.prices_include_tax { format!("Tax included ({pct})") } else { format!("Tax ({pct})") };
    t.push_str(&row(&tax_label, &money(o.tax)));
    t.push_str(&row(&format!("TOTAL {}", o.currency), &money(o.total)));
    for td in &o.tenders {
        match &td.kind {
            TenderKind::Cash { tendered, change } => {
                t.push_str(&row("Cash", &money(*tendered)));
                if *change > 0 {
                    t.push_str(&row("Change", &money(*change)));
                }
            }
            TenderKind::Card { last4, brand, .. } => {
                let label =
                    format!("{} ****{}", brand.as_deref().unwrap_or("Card"), last4.as_deref().unwrap_or("????"));
                t.push_str(&row(&label, &money(td.amount)));
            }
            TenderKind::Online { .. } => t.push_str(&row("Paid online", &money(td.amount))),
            TenderKind::Wallet { .. } => t.push_str(&row("Paid from wallet", &money(td.amount))),
            TenderKind::Refund { reason } => t.push_str(&row(&format!("Refund ({reason})"), &money(td.amount))),
        }
    }
    if o.balance_due() > 0 {
        t.push_str(&row("BALANCE DUE", &money(o.balance_due())));
    }
    if matches!(o.status, OrderStatus::Cancelled | OrderStatus::Voided) {
        let _ = writeln!(t, "*** {} ***", o.status.as_str().to_uppercase());
    }
    t
}
