// A manager's refund of one order: the amount (what is left, to begin with) and a reason. Money
// taken at the till goes back at once; money taken online is asked of the payment provider
// through the cloud, and the order queue shows where that stands.

import { useState } from "preact/hooks";
import { useApi } from "../../../shared/api/context";
import type { Order, PendingRefund, RefundRequest } from "../../../shared/api/edge";
import { money, parseMoney } from "../../../shared/money";
import { Problem, message } from "../../../shared/ui";
import { paidOnline, refundState, refundable } from "./refund";

export function RefundForm(props: { order: Order; requests: RefundRequest[]; onDone: () => void }) {
  const { order, requests, onDone } = props;
  const edge = useApi();
  const left = refundable(order, requests);
  const [amount, setAmount] = useState(left > 0 ? (left / 100).toFixed(2) : "");
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const [done, setDone] = useState("");
  const online = paidOnline(order);
  const submit = async (e: Event) => {
    e.preventDefault();
    const minor = parseMoney(amount);
    if (!minor || minor > left) {
      setError(`Enter an amount up to ${money(left, order.currency)}.`);
      return;
    }
    if (!reason.trim()) {
      setError("Say why.");
      return;
    }
    if (busy) return;
    setBusy(true);
    try {
      const answer = await edge.call<Order | PendingRefund>("POST", `/api/v1/orders/${order.id}/refunds`, {
        amount: minor,
        reason: reason.trim(),
      });
      setError("");
      setDone(
        "requests" in answer
          ? `Refund of ${money(minor, order.currency)}: ${refundState(answer.requests[0])}`
          : `Refunded ${money(minor, order.currency)}`,
      );
      onDone();
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="refund" onSubmit={submit} aria-label={`Refund order ${order.number}`}>
      <label for={`refund-amount-${order.id}`}>Amount</label>
      <input
        id={`refund-amount-${order.id}`}
        inputMode="decimal"
        value={amount}
        onInput={(e) => setAmount((e.target as HTMLInputElement).value)}
      />
      <label for={`refund-reason-${order.id}`}>Reason</label>
      <input
        id={`refund-reason-${order.id}`}
        maxLength={200}
        value={reason}
        onInput={(e) => setReason((e.target as HTMLInputElement).value)}
      />
      <button type="submit" disabled={busy}>
        {online ? "Ask the payment provider" : "Refund"}
      </button>
      <Problem text={error} />
      {done && <p role="status">{done}</p>}
    </form>
  );
}
