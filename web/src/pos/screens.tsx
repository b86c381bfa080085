// The POS's back-of-counter screens: the order queue, stock, sold-out marks, the day's report and
// the conflicts list. Each reads and writes its outlet's edge only.

import { useEffect, useState } from "preact/hooks";
import { type Api, reloadOnEvents } from "../shared/api";
import { Problem, message } from "../shared/ui";
import { money } from "../shared/money";
import type { DayFigures } from "../shared/figures";
import { type CounterDelivery, type Item, type Menu, type Order, addressLine } from "./types";

/// Today's open orders, newest first, kept current by the edge's order events.
export function OrderQueue({ edge }: { edge: Api }) {
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
  }, []);
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
                {o.delivery_address && !o.customer_id && <DeliveryCode edge={edge} order={o} />}
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
function DeliveryCode({ edge, order }: { edge: Api; order: Order }) {
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

interface Level {
  ingredient: { id: string; name: string; unit: string; reorder_level: number };
  on_hand: number;
  low: boolean;
}

/// A terminal the edge locked after wrong PINs (`sign_in_alert` on the alert stream).
interface SignInAlert {
  terminal: string;
  failures: number;
  locked_secs: number;
  at_ms: number;
}

/// Stock levels with low-stock alerts, live; receive and waste (anyone), count (managers); and,
/// for managers, terminals locked after wrong PINs while the screen is open.
export function Stock({ edge, manager }: { edge: Api; manager: boolean }) {
  const [levels, setLevels] = useState<Level[]>([]);
  const [locks, setLocks] = useState<SignInAlert[]>([]);
  const [error, setError] = useState("");
  const [done, setDone] = useState("");
  const [amounts, setAmounts] = useState<Record<string, string>>({});
  const load = () =>
    edge
      .call<Level[]>("GET", "/api/v1/inventory")
      .then(setLevels)
      .catch((e) => setError(message(e)));
  // Low-stock alerts as the edge raises them (a sale elsewhere, another terminal's delivery)
  // reload the levels.
  useEffect(
    () =>
      reloadOnEvents(edge, "/api/v1/inventory/alerts/stream", load, (name, data) => {
        if (name === "sign_in_alert") setLocks((l) => [(data as { alert: SignInAlert }).alert, ...l].slice(0, 5));
      }),
    [],
  );
  const change = async (l: Level, kind: "receive" | "waste" | "count") => {
    const quantity = Number(amounts[l.ingredient.id]);
    if (!Number.isInteger(quantity) || quantity < 0 || (kind !== "count" && quantity === 0)) {
      setError(`Enter a whole number of ${l.ingredient.unit}s for ${l.ingredient.name}.`);
      return;
    }
    try {
      await edge.call("POST", `/api/v1/inventory/${kind}`, { ingredient_id: l.ingredient.id, quantity, note: "" });
      setAmounts((a) => ({ ...a, [l.ingredient.id]: "" }));
      setError("");
      setDone(`${l.ingredient.name}: ${kind === "count" ? "counted" : kind === "receive" ? "received" : "wasted"} ${quantity}`);
      load();
    } catch (e) {
      setError(message(e));
    }
  };
  const low = levels.filter((l) => l.low);
  return (
    <section class="page" aria-label="Stock">
      <h2>Stock</h2>
      {low.length > 0 && (
        <p class="alert" role="status">
          Low: {low.map((l) => l.ingredient.name).join(", ")}
        </p>
      )}
      {manager &&
        locks.map((a) => (
          <p class="alert" role="alert" key={`${a.terminal}-${a.at_ms}`}>
            {`Terminal ${a.terminal} locked for ${a.locked_secs} s after ${a.failures} wrong PINs ` +
              `(${new Date(a.at_ms).toLocaleTimeString()})`}
          </p>
        ))}
      <Problem text={error} />
      {done && <p role="status">{done}</p>}
      <table>
        <thead>
          <tr>
            <th scope="col">Ingredient</th>
            <th scope="col">On hand</th>
            <th scope="col">Reorder at</th>
            <th scope="col">Quantity</th>
            <th scope="col">Record</th>
          </tr>
        </thead>
        <tbody>
          {levels.map((l) => (
            <tr key={l.ingredient.id} class={l.low ? "low" : ""}>
              <th scope="row">{l.ingredient.name}</th>
              <td>
                {l.on_hand} {l.ingredient.unit}
                {l.low ? " (low)" : ""}
              </td>
              <td>{l.ingredient.reorder_level}</td>
              <td>
                <input
                  aria-label={`Quantity of ${l.ingredient.name}`}
                  inputMode="numeric"
                  value={amounts[l.ingredient.id] ?? ""}
                  onInput={(e) => setAmounts((a) => ({ ...a, [l.ingredient.id]: (e.target as HTMLInputElement).value }))}
                />
              </td>
              <td class="row-actions">
                <button onClick={() => change(l, "receive")} aria-label={`Receive ${l.ingredient.name}`}>
                  Receive
                </button>
                <button onClick={() => change(l, "waste")} aria-label={`Waste ${l.ingredient.name}`}>
                  Waste
                </button>
                {manager && (
                  <button onClick={() => change(l, "count")} aria-label={`Count ${l.ingredient.name}`}>
                    Count
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/// Items marked sold out at this outlet, or put back on sale.
export function SoldOut({ edge }: { edge: Api }) {
  const [menu, setMenu] = useState<Menu | null>(null);
  const [error, setError] = useState("");
  const load = () =>
    edge
      .call<Menu>("GET", "/api/v1/menu")
      .then(setMenu)
      .catch((e) => setError(message(e)));
  useEffect(() => {
    load();
  }, []);
  const toggle = async (i: Item) => {
    try {
      await edge.call("PUT", `/api/v1/menu/items/${i.id}/sold-out`, { sold_out: !i.sold_out });
      setError("");
      load();
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <section class="page" aria-label="Sold out">
      <h2>Sold out</h2>
      <Problem text={error} />
      <ul class="toggles">
        {menu?.items.map((i) => (
          <li key={i.id}>
            <span>{i.name}</span>
            <button aria-pressed={i.sold_out} onClick={() => toggle(i)}>
              {i.sold_out ? "Sold out" : "On sale"}
              <span class="visually-hidden">: {i.name}</span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

interface DayReport extends DayFigures {
  by_tender: Record<string, { count: number; amount: number }>;
  voids: { count: number; amount: number };
  cancellations: { count: number; amount: number };
  discounts: { count: number; amount: number };
}

/// The end-of-day report (managers).
export function Report({ edge }: { edge: Api }) {
  const [report, setReport] = useState<DayReport | null>(null);
  const [currency, setCurrency] = useState("EUR");
  const [error, setError] = useState("");
  useEffect(() => {
    edge
      .call<DayReport>("GET", "/api/v1/reports/day")
      .then(setReport)
      .catch((e) => setError(message(e)));
    edge
      .call<Menu>("GET", "/api/v1/menu")
      .then((m) => setCurrency(m.currency))
      .catch(() => {});
  }, []);
  const m = (v: number) => money(v, currency);
  return (
    <section class="page" aria-label="Day report">
      <h2>Day report {report?.date}</h2>
      <Problem text={error} />
      {report && (
        <>
          <dl class="figures">
            <div>
              <dt>Orders</dt>
              <dd data-testid="report-orders">{report.orders}</dd>
            </div>
            <div>
              <dt>Net sales</dt>
              <dd data-testid="report-sales">{m(report.net_sales)}</dd>
            </div>
            <div>
              <dt>Tax</dt>
              <dd>{m(report.tax)}</dd>
            </div>
            <div>
              <dt>Voids</dt>
              <dd>
                {report.voids.count} ({m(report.voids.amount)})
              </dd>
            </div>
            <div>
              <dt>Discounts</dt>
              <dd>
                {report.discounts.count} ({m(report.discounts.amount)})
              </dd>
            </div>
          </dl>
          <h3>By tender</h3>
          <ul>
            {Object.entries(report.by_tender).map(([k, t]) => (
              <li key={k}>
                {k}: {t.count} ({m(t.amount)})
              </li>
            ))}
          </ul>
          <h3>By item</h3>
          <table>
            <thead>
              <tr>
                <th scope="col">Item</th>
                <th scope="col">Sold</th>
                <th scope="col">Gross</th>
              </tr>
            </thead>
            <tbody>
              {report.by_item.map((i) => (
                <tr key={i.name}>
                  <th scope="row">{i.name}</th>
                  <td>{i.quantity}</td>
                  <td>{m(i.gross)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

interface Conflict {
  id: string;
  kind: string;
  subject: string;
  outlet_side: string;
  cloud_side: string;
  raised_ms: number;
  resolution: { note: string; by: string } | null;
}

/// What the outlet and the cloud disagreed on, for a manager to settle with a note.
export function Conflicts({ edge }: { edge: Api }) {
  const [list, setList] = useState<Conflict[] | null>(null);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [error, setError] = useState("");
  const load = () =>
    edge
      .call<Conflict[]>("GET", "/api/v1/conflicts")
      .then(setList)
      .catch((e) => setError(message(e)));
  useEffect(() => {
    load();
  }, []);
  const resolve = async (c: Conflict) => {
    try {
      await edge.call("POST", `/api/v1/conflicts/${c.id}/resolve`, { note: notes[c.id] ?? "" });
      setError("");
      load();
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <section class="page" aria-label="Conflicts">
      <h2>Conflicts</h2>
      <Problem text={error} />
      {list?.length === 0 && <p role="status">Nothing to settle.</p>}
      <ul class="conflicts">
        {list?.map((c) => (
          <li key={c.id}>
            <h3>{c.kind.replace(/_/g, " ")}</h3>
            <p>
              Outlet: {c.outlet_side}
              <br />
              Cloud: {c.cloud_side}
            </p>
            {c.resolution ? (
              <p>Settled: {c.resolution.note}</p>
            ) : (
              <>
                <label for={`note-${c.id}`}>Decision</label>
                <input
                  id={`note-${c.id}`}
                  value={notes[c.id] ?? ""}
                  onInput={(e) => setNotes((n) => ({ ...n, [c.id]: (e.target as HTMLInputElement).value }))}
                />
                <button onClick={() => resolve(c)}>Settle</button>
              </>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
