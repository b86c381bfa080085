// The kitchen display: tickets kept current by the edge's kitchen stream, bump and recall.

import { useEffect, useState } from "preact/hooks";
import { useApi } from "../../../shared/api/context";
import type { Ticket } from "../../../shared/api/edge";
import { reloadOnEvents } from "../../../shared/api/stream";
import { Problem, message } from "../../../shared/ui";

export function Kitchen() {
  const edge = useApi();
  const [tickets, setTickets] = useState<Ticket[]>([]);
  const [bumped, setBumped] = useState<string[]>([]);
  const [error, setError] = useState("");
  const load = () =>
    edge
      .call<Ticket[]>("GET", "/api/v1/kitchen/queue")
      .then((t) => {
        setTickets(t);
        setError("");
      })
      .catch((e) => setError(message(e)));
  // Every change the edge streams reloads the queue.
  useEffect(() => reloadOnEvents(edge, "/api/v1/kitchen/stream", load), [edge]);
  const act = async (id: string, what: "bump" | "recall") => {
    try {
      await edge.call("POST", `/api/v1/kitchen/orders/${id}/${what}`, {});
      setBumped((b) => (what === "bump" ? [...b, id] : b.filter((x) => x !== id)));
      load();
    } catch (e) {
      setError(message(e));
    }
  };
  const last = bumped[bumped.length - 1];
  return (
    <section class="kitchen" aria-label="Kitchen display">
      <div class="tools">
        <h2>Kitchen</h2>
        <button disabled={!last} onClick={() => last && act(last, "recall")}>
          Recall last bumped
        </button>
      </div>
      <Problem text={error} />
      {tickets.length === 0 && <p role="status">No orders waiting.</p>}
      <ol class="tickets">
        {tickets.map(({ order }) => (
          <li key={order.id} class="ticket" aria-label={`Order ${order.number}`}>
            <h3>
              #{order.number} <small>{order.fulfilment.replace("_", " ")}</small>
            </h3>
            <ul>
              {order.lines.map((l, i) => (
                <li key={i}>
                  {l.quantity} × {l.name}
                  {l.variant_name ? ` (${l.variant_name})` : ""}
                  {l.modifiers.length > 0 && <div class="mods">{l.modifiers.map((m) => m.name).join(", ")}</div>}
                  {l.notes && <div class="mods">Note: {l.notes}</div>}
                </li>
              ))}
            </ul>
            {order.notes && <p class="mods">Note: {order.notes}</p>}
            <button class="primary big" onClick={() => act(order.id, "bump")}>
              Bump #{order.number}
            </button>
          </li>
        ))}
      </ol>
    </section>
  );
}
