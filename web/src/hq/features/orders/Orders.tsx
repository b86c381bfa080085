// Orders: an outlet's orders searched at the cloud, and one order's detail.

import { useEffect, useState } from "preact/hooks";
import type { Order, Outlet } from "../../../shared/api/cloud";
import { useApi } from "../../../shared/api/context";
import { money } from "../../../shared/money";
import { Problem, message } from "../../../shared/ui";
import { OutletPicker } from "../../common/OutletPicker";
import { OrderDetail } from "./OrderDetail";

/// The statuses an order passes through, in order.
const statuses = ["placed", "accepted", "preparing", "ready", "out_for_delivery", "completed", "cancelled", "voided"];

/// An outlet's orders, newest first, searched at the cloud over its whole history by status, day,
/// and number or text (an item, a note, an address), and one order's lines and history.
export function Orders({ outlets }: { outlets: Outlet[] }) {
  const cloud = useApi();
  const [outlet, setOutlet] = useState<string>("");
  const [orders, setOrders] = useState<Order[]>([]);
  const [status, setStatus] = useState("");
  const [text, setText] = useState("");
  const [day, setDay] = useState("");
  const [open, setOpen] = useState<Order | null>(null);
  const [error, setError] = useState("");
  const chosen = outlet || outlets[0]?.id || "";
  useEffect(() => {
    if (!chosen) return;
    const q = new URLSearchParams({ limit: "200" });
    if (status) q.set("status", status);
    const t = text.trim();
    if (/^\d+$/.test(t)) q.set("number", t);
    else if (t) q.set("text", t);
    if (day) {
      const from = new Date(`${day}T00:00`).getTime();
      q.set("from_ms", String(from));
      q.set("to_ms", String(from + 24 * 3600 * 1000));
    }
    // Typing waits for a pause before it asks the cloud. An answer to a question asked before the
    // filters last changed is dropped: it may arrive after the newer one.
    let current = true;
    const timer = setTimeout(
      () =>
        cloud
          .call<Order[]>("GET", `/api/v1/outlets/${chosen}/orders?${q}`)
          .then((o) => {
            if (!current) return;
            setOrders(o);
            setError("");
          })
          .catch((e) => current && setError(message(e))),
      t ? 250 : 0,
    );
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [chosen, status, text, day]);
  const shown = orders;
  return (
    <section aria-label="Orders">
      <h2>Orders</h2>
      <div class="toolbar">
        <OutletPicker id="outlet" label="Outlet" value={chosen} onChange={setOutlet} outlets={outlets} />
        <div>
          <label for="status">Status</label>
          <select id="status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">Any</option>
            {statuses.map((st) => (
              <option key={st} value={st}>
                {st.replace(/_/g, " ")}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="day">Day</label>
          <input id="day" type="date" value={day} onInput={(e) => setDay((e.target as HTMLInputElement).value)} />
        </div>
        <div>
          <label for="find">Number or text</label>
          <input id="find" type="search" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        </div>
      </div>
      <Problem text={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">Taken</th>
            <th scope="col">Channel</th>
            <th scope="col">Status</th>
            <th scope="col">Total</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((o) => (
            <tr key={o.id}>
              <td>
                <button onClick={() => setOpen(o)} aria-label={`Order ${o.number}`}>
                  {o.number}
                </button>
              </td>
              <td>{new Date(o.created_ms).toLocaleString()}</td>
              <td>
                {o.channel} / {o.fulfilment.replace("_", " ")}
              </td>
              <td>{o.status.replace(/_/g, " ")}</td>
              <td>{money(o.total, o.currency)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && <p role="status">No orders.</p>}
      {open && <OrderDetail order={open} />}
    </section>
  );
}
