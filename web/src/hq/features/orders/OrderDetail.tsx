// One order's lines and live history.

import { useEffect, useState } from "preact/hooks";
import type { Order } from "../../../shared/api/cloud";
import { useApi } from "../../../shared/api/context";
import { follow } from "../../../shared/api/stream";
import { money } from "../../../shared/money";

/// One order: its lines, and its event history as the cloud relayed it, kept current by the
/// order's event stream.
export function OrderDetail({ order }: { order: Order }) {
  const cloud = useApi();
  const [events, setEvents] = useState<{ kind: string; at_ms: number }[]>([]);
  useEffect(() => {
    setEvents([]);
    return follow(cloud, `/api/v1/orders/${order.id}/stream`, (kind, data) => {
      const at = (data as { at_ms?: number }).at_ms ?? Date.now();
      setEvents((e) => [...e, { kind, at_ms: at }]);
    });
  }, [order.id]);
  return (
    <div class="detail" aria-label={`Order ${order.number} detail`}>
      <h3>Order {order.number}</h3>
      <ul>
        {order.lines.map((l, i) => (
          <li key={i}>
            {l.quantity} × {l.name} {l.modifiers.length ? `(${l.modifiers.map((m) => m.name).join(", ")})` : ""} —{" "}
            {money(l.line_total, order.currency)}
          </li>
        ))}
      </ul>
      <h4>History</h4>
      <ol aria-label="Order history">
        {events.map((e, i) => (
          <li key={i}>
            {new Date(e.at_ms).toLocaleTimeString()} {e.kind}
          </li>
        ))}
      </ol>
    </div>
  );
}
