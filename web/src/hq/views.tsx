// The dashboard's tables: outlets overview, the catalog editor, orders.

import { useEffect, useState } from "preact/hooks";
import { type Api, follow } from "../shared/api";
import { Problem, message } from "../shared/ui";
import { money, parseMoney } from "../shared/money";
import { lowStock, todaysSales, useAcrossOutlets } from "./data";
import type { Draft, Order, Outlet, OutletStock, OutletSync } from "./types";


/// A labelled choice of outlet, with the whole chain first when `chain` names it.
function OutletPicker(props: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  outlets: Outlet[];
  chain?: string;
}) {
  return (
    <div>
      <label for={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        {props.chain && <option value="chain">{props.chain}</option>}
        {props.outlets.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name}
          </option>
        ))}
      </select>
    </div>
  );
}

interface Row {
  outlet: Outlet;
  sync?: OutletSync;
  ordersToday: number;
  salesToday: number;
  lowStock: string[];
}

/// Each outlet: its link (online, or offline since when), today's orders and sales, low stock and
/// open conflicts.
export function Outlets({ cloud, outlets }: { cloud: Api; outlets: Outlet[] }) {
  const [links, setLinks] = useState<OutletSync[]>([]);
  useEffect(() => {
    cloud.call<OutletSync[]>("GET", "/api/v1/sync/outlets").then(setLinks, () => setLinks([]));
  }, [outlets]);
  const [read, error] = useAcrossOutlets<Row>(outlets, async (outlet) => {
    const [today] = await todaysSales(cloud, outlet);
    const low = await lowStock(cloud, outlet).catch(() => []);
    return [
      {
        outlet,
        ordersToday: today.orders,
        salesToday: today.net_sales,
        lowStock: low.map((s) => s.name),
      },
    ];
  });
  const rows = (read ?? []).map((r) => ({ ...r, sync: links.find((l) => l.outlet_id === r.outlet.id) }));
  return (
    <section aria-label="Outlets">
      <h2>Outlets</h2>
      <Problem text={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Outlet</th>
            <th scope="col">Link</th>
            <th scope="col">Orders today</th>
            <th scope="col">Sales today</th>
            <th scope="col">Low stock</th>
            <th scope="col">Open conflicts</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.outlet.id}>
              <th scope="row">{r.outlet.name}</th>
              <td>
                {!r.sync ? (
                  "never connected"
                ) : r.sync.link === "online" ? (
                  <span class="link-online">online</span>
                ) : (
                  <span class="link-offline">
                    offline{r.sync.since_ms ? ` since ${new Date(r.sync.since_ms).toLocaleString()}` : ""}
                  </span>
                )}
              </td>
              <td data-testid={`orders-${r.outlet.name}`}>{r.ordersToday}</td>
              <td>{money(r.salesToday, r.outlet.currency)}</td>
              <td>{r.lowStock.length ? r.lowStock.join(", ") : "none"}</td>
              <td>{r.sync?.open_conflicts ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {outlets.length === 0 && <p role="status">No outlets yet.</p>}
    </section>
  );
}

/// The chain's menu (item names and prices, modifier prices, new items) and each outlet's own
/// prices, edited in the draft and published as a version. Edits are kept as text until saved:
/// one that is not a price or an empty name is refused and nothing is written.
export function Catalog({ cloud, outlets }: { cloud: Api; outlets: Outlet[] }) {
  const [draft, setDraft] = useState<Draft | null>(null);
  const [scope, setScope] = useState<string>("chain");
  // Keys: "price:ITEM", "name:ITEM", "mod:MODIFIER".
  const [edits, setEdits] = useState<Record<string, string>>({});
  const [added, setAdded] = useState({ name: "", category: "", price: "" });
  const [version, setVersion] = useState<number | null>(null);
  const [status, setStatus] = useState("");
  const [error, setError] = useState("");
  const load = async () => {
    try {
      setDraft(await cloud.call<Draft>("GET", "/api/v1/catalog/draft"));
      const versions = await cloud.call<{ version: number }[]>("GET", "/api/v1/catalog/versions");
      setVersion(versions.length ? Math.max(...versions.map((v) => v.version)) : null);
    } catch (e) {
      setError(message(e));
    }
  };
  useEffect(() => {
    load();
  }, []);
  if (!draft) return <p role="status">{error || "Loading the catalog…"}</p>;
  const chain = scope === "chain";
  const priceOf = (id: string, base: number) => (chain ? base : (draft.outlets[scope]?.prices?.[id] ?? base));
  const edit = (key: string) => (e: Event) => setEdits((x) => ({ ...x, [key]: (e.target as HTMLInputElement).value }));
  const save = async (publish: boolean) => {
    const next: Draft = structuredClone(draft);
    for (const [key, text] of Object.entries(edits)) {
      const [what, id] = key.split(":");
      if (what === "name") {
        const item = next.menu.items.find((i) => i.id === id);
        if (!text.trim()) return setError("An item needs a name.");
        if (item) item.name = text.trim();
        continue;
      }
      const v = parseMoney(text);
      if (v === null) return setError(`"${text}" is not a price.`);
      if (what === "mod") {
        for (const g of next.menu.items.flatMap((i) => i.modifier_groups ?? [])) {
          for (const m of g.modifiers) if (m.id === id) m.price_delta = v;
        }
      } else if (chain) {
        const item = next.menu.items.find((i) => i.id === id);
        if (item) item.price = v;
      } else {
        next.outlets[scope] = next.outlets[scope] ?? {};
        next.outlets[scope].prices = { ...(next.outlets[scope].prices ?? {}), [id]: v };
      }
    }
    if (added.name.trim() || added.price) {
      const v = parseMoney(added.price);
      if (!added.name.trim() || v === null) return setError("A new item needs a name and a price.");
      next.menu.items.push({
        id: crypto.randomUUID(),
        name: added.name.trim(),
        category_id: added.category || next.menu.categories[0].id,
        price: v,
      });
    }
    try {
      await cloud.call("PUT", "/api/v1/catalog/draft", next);
      if (publish) {
        const published = await cloud.call<{ version: number }>("POST", "/api/v1/catalog/publish", {});
        setStatus(`Published version ${published.version}.`);
      } else {
        setStatus("Draft saved.");
      }
      setEdits({});
      setAdded({ name: "", category: "", price: "" });
      setError("");
      await load();
    } catch (e) {
      setError(message(e));
    }
  };
  const currency = draft.menu.currency;
  return (
    <section aria-label="Catalog">
      <h2>Catalog</h2>
      <p>Published version: {version ?? "none yet"}</p>
      <div class="toolbar">
        <OutletPicker id="scope" label="Prices for" value={scope} onChange={setScope} outlets={outlets} chain="The whole chain" />
        <button onClick={() => save(false)}>Save draft</button>
        <button class="primary" onClick={() => save(true)}>
          Publish
        </button>
      </div>
      <Problem text={error} />
      {status && <p role="status">{status}</p>}
      <table>
        <thead>
          <tr>
            <th scope="col">Item</th>
            <th scope="col">Category</th>
            <th scope="col">Price</th>
            {chain && <th scope="col">Modifier prices</th>}
          </tr>
        </thead>
        <tbody>
          {draft.menu.items.map((i) => (
            <tr key={i.id}>
              <th scope="row">
                {chain ? (
                  <input aria-label={`Name of ${i.name}`} value={edits[`name:${i.id}`] ?? i.name} onInput={edit(`name:${i.id}`)} />
                ) : (
                  i.name
                )}
              </th>
              <td>{draft.menu.categories.find((c) => c.id === i.category_id)?.name}</td>
              <td>
                <input
                  aria-label={`Price of ${i.name}`}
                  inputMode="decimal"
                  value={edits[`price:${i.id}`] ?? (priceOf(i.id, i.price) / 100).toFixed(2)}
                  onInput={edit(`price:${i.id}`)}
                />{" "}
                <small>{money(priceOf(i.id, i.price), currency)}</small>
              </td>
              {chain && (
                <td>
                  {(i.modifier_groups ?? []).flatMap((g) => g.modifiers).map((m) => (
                    <label key={m.id} class="inline">
                      {m.name}{" "}
                      <input
                        aria-label={`Price of ${m.name} on ${i.name}`}
                        inputMode="decimal"
                        value={edits[`mod:${m.id}`] ?? (m.price_delta / 100).toFixed(2)}
                        onInput={edit(`mod:${m.id}`)}
                      />
                    </label>
                  ))}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {chain && (
        <fieldset class="toolbar">
          <legend>A new item</legend>
          <div>
            <label for="new-name">Name</label>
            <input id="new-name" value={added.name} onInput={(e) => setAdded({ ...added, name: (e.target as HTMLInputElement).value })} />
          </div>
          <div>
            <label for="new-category">Category</label>
            <select
              id="new-category"
              value={added.category}
              onChange={(e) => setAdded({ ...added, category: (e.target as HTMLSelectElement).value })}
            >
              {draft.menu.categories.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label for="new-price">Price</label>
            <input
              id="new-price"
              inputMode="decimal"
              value={added.price}
              onInput={(e) => setAdded({ ...added, price: (e.target as HTMLInputElement).value })}
            />
          </div>
        </fieldset>
      )}
    </section>
  );
}

/// The statuses an order passes through, in order.
const statuses = ["placed", "accepted", "preparing", "ready", "out_for_delivery", "completed", "cancelled", "voided"];

/// An outlet's orders, newest first, searched at the cloud over its whole history by status, day,
/// and number or text (an item, a note, an address), and one order's lines and history.
export function Orders({ cloud, outlets }: { cloud: Api; outlets: Outlet[] }) {
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
    // Typing waits for a pause before it asks the cloud.
    const timer = setTimeout(
      () =>
        cloud
          .call<Order[]>("GET", `/api/v1/outlets/${chosen}/orders?${q}`)
          .then((o) => {
            setOrders(o);
            setError("");
          })
          .catch((e) => setError(message(e))),
      t ? 250 : 0,
    );
    return () => clearTimeout(timer);
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
      {open && <OrderDetail cloud={cloud} order={open} />}
    </section>
  );
}

/// One order: its lines, and its event history as the cloud relayed it, kept current by the
/// order's event stream.
function OrderDetail({ cloud, order }: { cloud: Api; order: Order }) {
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

/// Every ingredient at or below its reorder level, across the outlets the user sees.
export function StockAlerts({ cloud, outlets }: { cloud: Api; outlets: Outlet[] }) {
  const [rows, error] = useAcrossOutlets<[Outlet, OutletStock]>(outlets, async (o) =>
    (await lowStock(cloud, o)).map((s): [Outlet, OutletStock] => [o, s]),
  );
  return (
    <section aria-label="Stock alerts">
      <h2>Stock alerts</h2>
      <Problem text={error} />
      {rows?.length === 0 && <p role="status">No ingredient is at or below its reorder level.</p>}
      {rows && rows.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Outlet</th>
              <th scope="col">Ingredient</th>
              <th scope="col">On hand</th>
              <th scope="col">Reorder at</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([o, s]) => (
              <tr key={`${o.id}-${s.ingredient_id}`} class="low">
                <th scope="row">{o.name}</th>
                <td>{s.name}</td>
                <td>
                  {s.on_hand} {s.unit}
                </td>
                <td>{s.reorder_level}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
