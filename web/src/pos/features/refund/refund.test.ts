import { describe, expect, it } from "vitest";
import type { Order, RefundRequest } from "../../../shared/api/edge";
import { paidOnline, refundState, refundable } from "./refund";

const online = { id: "t-1", amount: 1000, kind: { online: { provider: "test", payment_id: "pay_1" } } };
const cash = { id: "t-2", amount: 1000, kind: { cash: { tendered: 1000, change: 0 } } };
const tenders = (...t: unknown[]) => t as Order["tenders"];
const request = (amount: number, state: RefundRequest["state"], tender_id = "t-r") =>
  ({ amount, state, tender_id, message: null }) as unknown as RefundRequest;

describe("refund", () => {
  it("an order paid online or from the wallet is refunded through the cloud", () => {
    expect(paidOnline({ tenders: tenders(online) })).toBe(true);
    expect(paidOnline({ tenders: tenders({ ...online, kind: { wallet: { payment_id: "pay_1" } } }) })).toBe(true);
    expect(paidOnline({ tenders: tenders(cash) })).toBe(false);
  });
  it("what is left: requests not failed count, a settled one once", () => {
    expect(refundable({ tenders: tenders(cash), paid: 1000 }, [])).toBe(1000);
    expect(refundable({ tenders: tenders(online), paid: 1000 }, [request(300, "sent"), request(200, "failed")])).toBe(700);
    const settled = tenders(online, { id: "t-r", amount: -300, kind: { refund: { reason: "cold" } } });
    expect(refundable({ tenders: settled, paid: 700 }, [request(300, "succeeded")])).toBe(700);
    expect(refundable({ tenders: tenders(online), paid: 1000 }, [request(1000, "queued")])).toBe(0);
  });
  it("says where a request stands", () => {
    expect(refundState({ state: "queued", message: null })).toMatch(/^pending/);
    expect(refundState({ state: "sent", message: null })).toBe("pending (sent to the payment provider)");
    expect(refundState({ state: "succeeded", message: null })).toBe("refunded");
    expect(refundState({ state: "failed", message: "at most 0 can be refunded" })).toBe("failed: at most 0 can be refunded");
  });
});
