// The order queue: today's open orders, newest first, kept current by the edge's order events;
// a phone order's driver and hand-over code on request.

import { useEffect, useState } from "preact/hooks";
import { useApi } from "../../../shared/api/context";
import type { CounterDelivery, Order } from "../../../shared/api/edge";
import { reloadOnEvents } from "../../../shared/api/stream";
import { money } from "../../../shared/money";
import { Problem, message } from "../../../shared/ui";
import { addressLine } from "../../common/address";

/// Today's open orders, newest first, kept current by the edge's order events.
export function OrderQueue() {
  const edge = useApi();
  const [orders, setOrders] = useState<Order[]>([]);
  const [error, setError] = useState("");
  useEffect(() => {
    const load = () =>
      edge
        .call<Order[]>("GET", "/api/v1/orders?limit=100")
        .then((o) => {
          setOrders(o);
          setError("");
        })
        .catch((e) => setError(message(e)));
    return reloadOnEvents(edge, "/api/v1/kitchen/stream", load);
  }, [edge]);
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
              <td>{o.paid >= o.total ? "paid" : money(o.paid, o.currency)}</td>
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
