//! The end-of-day report's arithmetic over a day's orders: pure.

use chrono::DateTime;
use patty_protocol::local::{self, Tz};
use patty_protocol::order::{Order, OrderStatus, TenderKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One item's sales.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Debug, PartialEq)]
pub struct ItemSales {
    /// Item name.
    pub name: String,
    /// Portions sold.
    pub quantity: u64,
    /// Sales, minor units (before order discounts).
    pub gross: i64,
}

/// One hour's sales.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Debug, PartialEq)]
pub struct HourSales {
    /// Local hour, 0 to 23.
    pub hour: u32,
    /// Orders taken.
    pub orders: u64,
    /// Sales, minor units.
    pub total: i64,
}

/// A count and an amount.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Debug, PartialEq, Default)]
pub struct Tally {
    /// How many.
    pub count: u64,
    /// How much, minor units.
    pub amount: i64,
}

/// The end-of-day report.
#[derive(Serialize, Deserialize, utoipa::ToSchema, Debug)]
pub struct DayReport {
    /// The local day.
    pub date: String,
    /// Orders sold (not cancelled or voided).
    pub orders: u64,
    /// Sales after discounts, tax included, minor units.
    pub net_sales: i64,
    /// Tax in those sales.
    pub tax: i64,
    /// Sales by item, best first.
    pub by_item: Vec<ItemSales>,
    /// Sales by local hour.
    pub by_hour: Vec<HourSales>,
    /// Money taken by tender kind (cash, card, refund).
    pub by_tender: BTreeMap<String, Tally>,
    /// Voided orders.
    pub voids: Tally,
    /// Cancelled orders.
    pub cancellations: Tally,
    /// Discounts granted.
    pub discounts: Tally,
}

/// Builds the report from a day's orders.
pub fn build(date: String, orders: &[Order], zone: Tz) -> DayReport {
    let mut r = DayReport {
        date,
        orders: 0,
        net_sales: 0,
        tax: 0,
        by_item: vec![],
        by_hour: vec![],
        by_tender: BTreeMap::new(),
        voids: Tally::default(),
        cancellations: Tally::default(),
        discounts: Tally::default(),
    };
    let mut items: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    let mut hours: BTreeMap<u32, (u64, i64)> = BTreeMap::new();
    for o in orders {
        for t in &o.tenders {
            let kind = match t.kind {
                TenderKind::Cash { .. } => "cash",
                TenderKind::Card { .. } => "card",
                TenderKind::Online { .. } => "online",
                TenderKind::Wallet { .. } => "wallet",
                TenderKind::Refund { .. } => "refund",
            };
            let e = r.by_tender.entry(kind.into()).or_default();
            e.count += 1;
            e.amount += t.amount;
        }
        match o.status {
            OrderStatus::Voided => {
                r.voids.count += 1;
                r.voids.amount += o.total;
                continue;
            }
            OrderStatus::Cancelled => {
                r.cancellations.count += 1;
                r.cancellations.amount += o.total;
                continue;
            }
            _ => {}
        }
        r.orders += 1;
        r.net_sales += o.total;
        r.tax += o.tax;
        for d in &o.discounts {
            r.discounts.count += 1;
            r.discounts.amount += d.amount;
        }
        for l in &o.lines {
            let e = items.entry(l.name.clone()).or_default();
            e.0 += u64::from(l.quantity);
            e.1 += l.line_total;
        }
        let at = DateTime::from_timestamp_millis(o.created_ms).unwrap_or_default();
        let h = hours.entry(local::hour_at(at, zone)).or_default();
        h.0 += 1;
        h.1 += o.total;
    }
    r.by_item = items.into_iter().map(|(name, (quantity, gross))| ItemSales { name, quantity, gross }).collect();
    r.by_item.sort_by(|a, b| b.gross.cmp(&a.gross).then(a.name.cmp(&b.name)));
    r.by_hour = hours.into_iter().map(|(hour, (orders, total))| HourSales { hour, orders, total }).collect();
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use patty_protocol::order::{Channel, Fulfilment};

    fn amsterdam() -> Tz {
        Tz::Europe__Amsterdam
    }

    fn ms(m: u32, d: u32, h: u32, min: u32) -> i64 {
        Utc.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap().timestamp_millis()
    }

    fn order(created_ms: i64, total: i64) -> Order {
        serde_json::from_value(serde_json::json!({
            "id": patty_protocol::ids::OrderId::new(), "outlet_id": patty_protocol::ids::OutletId::new(),
            "number": 1, "channel": Channel::Counter, "fulfilment": Fulfilment::Takeaway, "status": "completed",
            "lines": [], "notes": "", "currency": "EUR", "subtotal": total, "discounts": [], "tax": 0,
            "total": total, "tenders": [], "paid": total, "staff_id": null, "created_ms": created_ms,
            "updated_ms": created_ms, "closed_reason": null, "closed_by": null
        }))
        .unwrap()
    }

    #[test]
    fn sales_by_hour_are_in_local_hours() {
        // 07:30 in Amsterdam is 05:30 UTC in summer and 06:30 UTC in winter.
        let r = build("2026-07-01".into(), &[order(ms(7, 1, 5, 30), 1000)], amsterdam());
        assert_eq!(r.by_hour, vec![HourSales { hour: 7, orders: 1, total: 1000 }]);
        let r = build("2026-12-01".into(), &[order(ms(12, 1, 6, 30), 500)], amsterdam());
        assert_eq!(r.by_hour, vec![HourSales { hour: 7, orders: 1, total: 500 }]);
        // In Kolkata (UTC+05:30) 12:15 UTC is 17:45.
        let r = build("2026-07-01".into(), &[order(ms(7, 1, 12, 15), 700)], Tz::Asia__Kolkata);
        assert_eq!(r.by_hour, vec![HourSales { hour: 17, orders: 1, total: 700 }]);
    }
}
