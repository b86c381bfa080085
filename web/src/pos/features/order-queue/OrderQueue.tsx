// The order queue: today's open orders, newest first, kept current by the edge's order events;
// a phone order's driver and hand-over code on request; refunds (a manager's) and where each
// refund of an online payment stands.

import { useEffect, useState } from "preact/hooks";
import { useApi } from "../../../shared/api/context";
import type { CounterDelivery, Order, RefundRequest } from "../../../shared/api/edge";
import { reloadOnEvents } from "../../../shared/api/stream";
import { money } from "../../../shared/money";
import { Problem, message } from "../../../shared/ui";
import { addressLine } from "../../common/address";
import { RefundForm } from "../refund/RefundForm";
import { refundState } from "../refund/refund";

/// Today's open orders, newest first, kept current by the edge's order events (which also mark
/// a change to an order's refund requests); a manager may refund a paid order.
export function OrderQueue({ manager }: { manager: boolean }) {
  const edge = useApi();
  const [orders, setOrders] = useState<Order[]>([]);
  const [requests, setRequests] = useState<RefundRequest[]>([]);
  const [refunding, setRefunding] = useState<string | null>(null);
  const [error, setError] = useState("");
  const load = () =>
    Promise.all([
      edge.call<Order[]>("GET", "/api/v1/orders?limit=100"),
      edge.call<RefundRequest[]>("GET", "/api/v1/refund-requests?limit=500"),
    ])
      .then(([o, r]) => {
        setOrders(o);
        setRequests(r);
        setError("");
      })
      .catch((e) => setError(message(e)));
  useEffect(() => reloadOnEvents(edge, "/api/v1/kitchen/stream", load), [edge]);
  return (
    <section class="page" aria-label="Order queue">
      <h2>Orders</h2>
      <Problem text={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Status</th>
            <th scope="col">Fulfilment</th>
            <th scope="col">Items</th>
            <th scope="col">Total</th>
            <th scope="col">Paid</th>
            {manager && <th scope="col">Refund</th>}
          </tr>
        </thead>
        <tbody>
          {orders.map((o) => (
            <tr key={o.id}>
              <td>{o.number}</td>
              <td>{o.status.replace(/_/g, " ")}</td>
              <td>
                {o.fulfilment.replace("_", " ")}
                {o.delivery_address && <div class="mods">{addressLine(o.delivery_address)}</div>}
                {o.delivery_address && !o.customer_id && <DeliveryCode order={o} />}
              </td>
              <td>{o.lines.map((l) => `${l.quantity} × ${l.name}`).join(", ")}</td>
              <td>{money(o.total, o.currency)}</td>
              <td>
                {o.paid >= o.total ? "paid" : money(o.paid, o.currency)}
                {requests
                  .filter((r) => r.order_id === o.id)
                  .reverse()
                  .map((r) => (
                    <div class="mods" key={r.id} data-testid={`refund-${o.number}`}>
                      Refund {money(r.amount, o.currency)}: {refundState(r)}
                    </div>
                  ))}
              </td>
              {manager && (
                <td>
                  {o.paid > 0 && (
                    <button
                      aria-expanded={refunding === o.id}
                      aria-label={`Refund order ${o.number}`}
                      onClick={() => setRefunding(refunding === o.id ? null : o.id)}
                    >
                      Refund
                    </button>
                  )}
                  {refunding === o.id && (
                    <RefundForm order={o} requests={requests.filter((r) => r.order_id === o.id)} onDone={load} />
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {orders.length === 0 && <p role="status">No orders yet today.</p>}
    </section>
  );
}

/// A phone order's delivery as the cloud dispatches it, on request: its job, where it stands and
/// the code the customer gives the driver (read out to them, or sent by text).
function DeliveryCode({ order }: { order: Order }) {
  const edge = useApi();
  const [shown, setShown] = useState<CounterDelivery | null>(null);
  const [error, setError] = useState("");
  const ask = () =>
    edge
      .call<CounterDelivery>("GET", `/api/v1/orders/${order.id}/delivery`)
      .then((d) => {
        setShown(d);
        setError("");
      })
      .catch((e) => setError(message(e)));
  return (
    <div class="delivery-code">
      <button onClick={ask} aria-label={`Driver & code for order ${order.number}`}>
        Driver & code
      </button>
      {shown && (
        <p role="status">
          Job {shown.job}, {shown.status.replace(/_/g, " ")}
          {shown.eta_dropoff_s != null ? `, at the door in ${Math.ceil(shown.eta_dropoff_s / 60)} min` : ""}. Code{" "}
          <strong data-testid={`code-${order.number}`}>{shown.handover_code}</strong>
        </p>
      )}
      <Problem text={error} />
    </div>
  );
}
