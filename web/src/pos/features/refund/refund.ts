// What the refund form and the order queue work out: whether an order was paid online (its
// refunds then go through the cloud to the payment provider), what is left to refund, and how a
// refund request is shown.

import type { Order, RefundRequest } from "../../../shared/api/edge";

type Tender = Order["tenders"][number];

function isOnline(t: Tender): boolean {
  return "online" in t.kind || "wallet" in t.kind;
}

/// Whether the order was paid online (a tender of kind online or wallet).
export function paidOnline(order: Pick<Order, "tenders">): boolean {
  return order.tenders.some(isOnline);
}

/// What is left to refund: for an online payment, what was taken online less the requests that
/// did not fail and the refunds the till gave itself; else what was paid. Never below zero. The
/// edge decides; this only fills in the form.
export function refundable(order: Pick<Order, "tenders" | "paid">, requests: RefundRequest[]): number {
  if (!paidOnline(order)) return Math.max(0, order.paid);
  const mine = requests.filter((r) => r.state !== "failed");
  const taken = order.tenders.filter(isOnline).reduce((a, t) => a + t.amount, 0);
  const asked = mine.reduce((a, r) => a + r.amount, 0);
  const atTill = order.tenders
    .filter((t) => "refund" in t.kind && !requests.some((r) => r.tender_id === t.id))
    .reduce((a, t) => a - t.amount, 0);
  return Math.max(0, taken - asked - atTill);
}

/// Where a refund request stands, in words for the screen.
export function refundState(r: Pick<RefundRequest, "state" | "message">): string {
  switch (r.state) {
    case "queued":
      return "pending (to be sent to the payment provider once the cloud link is up)";
    case "sent":
      return "pending (sent to the payment provider)";
    case "succeeded":
      return "refunded";
    case "failed":
      return `failed: ${r.message ?? "refused"}`;
  }
}
