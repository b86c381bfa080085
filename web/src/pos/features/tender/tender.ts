// What the tender screen works out from the order: what is still due, the quick cash amounts
// offered, the change given, and how much a card pays.

import type { Order } from "../../../shared/api/edge";

/// What is still to pay (never below zero).
export function due(order: Pick<Order, "total" | "paid">): number {
  return Math.max(0, order.total - order.paid);
}

/// The quick cash amounts for `due`: the exact sum, then the next 5, 10 and 20 (in major units)
/// at or above it; each once, none zero.
export function quickAmounts(due: number): number[] {
  return [due, Math.ceil(due / 500) * 500, Math.ceil(due / 1000) * 1000, Math.ceil(due / 2000) * 2000].filter(
    (v, i, a) => v > 0 && a.indexOf(v) === i,
  );
}

/// The change given back over the order's cash tenders.
export function changeGiven(order: Pick<Order, "tenders">): number {
  return order.tenders.map((t) => ("cash" in t.kind ? t.kind.cash.change : 0)).reduce((a, b) => a + b, 0);
}

/// What a card pays: the amount typed when it is part of what is due, else all that is due.
export function cardAmount(typed: number | null, due: number): number {
  return typed && typed < due ? typed : due;
}
