// The outlet POS: PIN sign-in, order entry, tender, and the kitchen display. It talks to its
// outlet's edge node only (the page is served by it), so it keeps working while the cloud link
// is down; the header says how that link is.

import { render } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type Api, ApiError, api as makeApi, idempotencyKey, reloadOnEvents } from "../shared/api";
import { Problem, message } from "../shared/ui";
import { money, parseMoney } from "../shared/money";
import "../shared/base.css";
import "./pos.css";
import { Conflicts, OrderQueue, Report, SoldOut, Stock } from "./screens";
import type {
  CartLine,
  Item,
  KitchenTicket,
  Menu,
  Modifier,
  Order,
  Session,
  Staff,
  SyncStatus,
  Variant,
} from "./types";
import { addressLine, parsePosition, unitPrice } from "./types";

const edge: Api = makeApi();


/// The screens, and who sees each (a manager sees them all).
type Screen = "order" | "queue" | "kitchen" | "stock" | "soldout" | "report" | "conflicts";
const SCREENS: { id: Screen; label: string; roles: Staff["role"][] }[] = [
  { id: "order", label: "Order entry", roles: ["cashier"] },
  { id: "queue", label: "Orders", roles: ["cashier", "kitchen"] },
  { id: "kitchen", label: "Kitchen", roles: ["cashier", "kitchen"] },
  { id: "stock", label: "Stock", roles: ["cashier", "kitchen"] },
  { id: "soldout", label: "Sold out", roles: ["cashier", "kitchen"] },
  { id: "report", label: "Day report", roles: [] },
  { id: "conflicts", label: "Conflicts", roles: [] },
];

function App() {
  const [session, setSession] = useState<Session | null>(() => {
    const saved = sessionStorage.getItem("patty-pos-session");
    return saved ? (JSON.parse(saved) as Session) : null;
  });
  const [mode, setMode] = useState<Screen>("order");
  edge.token = session?.token ?? null;

  const signedIn = (s: Session) => {
    sessionStorage.setItem("patty-pos-session", JSON.stringify(s));
    edge.token = s.token;
    setMode(s.staff.role === "kitchen" ? "kitchen" : "order");
    setSession(s);
  };
  const signOut = async () => {
    try {
      await edge.call("DELETE", "/api/v1/sessions/current");
    } catch {
      // The session may have ended already.
    }
    sessionStorage.removeItem("patty-pos-session");
    setSession(null);
  };

  if (!session) return <SignIn onSession={signedIn} />;
  return (
    <div class="pos">
      <Header staff={session.staff} mode={mode} setMode={setMode} onSignOut={signOut} />
      <main>
        {mode === "order" && <OrderEntry onExpired={signOut} />}
        {mode === "queue" && <OrderQueue edge={edge} />}
        {mode === "kitchen" && <Kitchen />}
        {mode === "stock" && <Stock edge={edge} manager={session.staff.role === "manager"} />}
        {mode === "soldout" && <SoldOut edge={edge} />}
        {mode === "report" && <Report edge={edge} />}
        {mode === "conflicts" && <Conflicts edge={edge} />}
      </main>
    </div>
  );
}

function SignIn({ onSession }: { onSession: (s: Session) => void }) {
  const [pin, setPin] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = async (e?: Event) => {
    e?.preventDefault();
    if (busy || !pin) return;
    setBusy(true);
    try {
      onSession(await edge.call<Session>("POST", "/api/v1/sessions", { pin }));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "That PIN is not known here." : message(err));
      setPin("");
    } finally {
      setBusy(false);
      input.current?.focus();
    }
  };
  const press = (d: string) => {
    setPin((p) => (p + d).slice(0, 12));
    input.current?.focus();
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Patty Palace</h1>
        <label for="pin">Staff PIN</label>
        <input
          id="pin"
          ref={input}
          type="password"
          inputMode="numeric"
          autoComplete="off"
          value={pin}
          onInput={(e) => setPin((e.target as HTMLInputElement).value.replace(/\D/g, ""))}
        />
        <div class="keypad" role="group" aria-label="PIN keypad">
          {["1", "2", "3", "4", "5", "6", "7", "8", "9"].map((d) => (
            <button type="button" key={d} onClick={() => press(d)}>
              {d}
            </button>
          ))}
          <button type="button" onClick={() => setPin("")} aria-label="Clear the PIN">
            Clear
          </button>
          <button type="button" onClick={() => press("0")}>
            0
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Sign in
          </button>
        </div>
        <Problem text={error} />
      </form>
    </main>
  );
}

function Header(props: { staff: Staff; mode: Screen; setMode: (m: Screen) => void; onSignOut: () => void }) {
  const { staff, mode, setMode, onSignOut } = props;
  const mine = SCREENS.filter((s) => staff.role === "manager" || s.roles.includes(staff.role));
  return (
    <header class="bar">
      <strong class="brand">Patty Palace</strong>
      <nav aria-label="Screens">
        {mine.map((s) => (
          <button key={s.id} aria-pressed={mode === s.id} onClick={() => setMode(s.id)}>
            {s.label}
          </button>
        ))}
      </nav>
      <CloudLink />
      <span class="who">
        {staff.name} <small>({staff.role})</small>
      </span>
      <button onClick={onSignOut}>Sign out</button>
    </header>
  );
}

/// The cloud link as the edge reports it; selling goes on whatever it says.
function CloudLink() {
  const [status, setStatus] = useState<SyncStatus | null>(null);
  const [edgeDown, setEdgeDown] = useState(false);
  useEffect(() => {
    let live = true;
    const poll = async () => {
      try {
        const s = await edge.call<SyncStatus>("GET", "/api/v1/sync/status");
        if (live) {
          setStatus(s);
          setEdgeDown(false);
        }
      } catch {
        if (live) setEdgeDown(true);
      }
    };
    poll();
    const t = setInterval(poll, 5000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);
  let text = "Cloud link: checking";
  let kind = "unknown";
  if (edgeDown) {
    text = "Outlet server not answering";
    kind = "down";
  } else if (status) {
    if (!status.enabled) {
      text = "Cloud link: off (this outlet works alone)";
      kind = "off";
    } else if (status.link === "online") {
      text = status.pending ? `Cloud link: online, ${status.pending} to send` : "Cloud link: online";
      kind = "online";
    } else {
      const since = status.since_ms ? new Date(status.since_ms).toLocaleTimeString() : "";
      text = `Cloud link: offline${since ? ` since ${since}` : ""}, ${status.pending} waiting; selling goes on`;
      kind = "offline";
    }
  }
  return (
    <span class={`link link-${kind}`} role="status">
      {text}
    </span>
  );
}

function OrderEntry({ onExpired }: { onExpired: () => void }) {
  const [menu, setMenu] = useState<Menu | null>(null);
  const [error, setError] = useState("");
  const [category, setCategory] = useState<string | null>(null);
  const [search, setSearch] = useState("");
  const [quantity, setQuantity] = useState(1);
  const [cart, setCart] = useState<CartLine[]>([]);
  const [fulfilment, setFulfilment] = useState<Order["fulfilment"]>("takeaway");
  const [notes, setNotes] = useState("");
  const [address, setAddress] = useState(noAddress);
  const [choosing, setChoosing] = useState<Item | null>(null);
  const [order, setOrder] = useState<Order | null>(null);
  const [busy, setBusy] = useState(false);
  // One key per cart: a double tap on Charge, or a retry after a lost answer, is one order.
  const chargeKey = useRef(idempotencyKey());
  const nextKey = useRef(1);
  const searchBox = useRef<HTMLInputElement>(null);

  const fail = (e: unknown) => {
    if (e instanceof ApiError && e.status === 401) onExpired();
    else setError(message(e));
  };

  useEffect(() => {
    edge
      .call<Menu>("GET", "/api/v1/menu")
      .then((m) => {
        setMenu(m);
        setCategory(m.categories[0]?.id ?? null);
      })
      .catch(fail);
  }, []);

  // Number keys outside a text field set the quantity of the next item added. The handler is
  // registered once and reads the current dialog and order through a ref written at render, so a
  // key pressed right after the size dialog closes (before any effect has re-run) is not dropped.
  const busyWith = useRef({ choosing, order });
  busyWith.current = { choosing, order };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      const { choosing, order } = busyWith.current;
      if (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || choosing || order) return;
      if (/^[1-9]$/.test(e.key)) {
        setQuantity(Number(e.key));
        e.preventDefault();
      } else if (e.key.length === 1 && /[a-z]/i.test(e.key)) {
        searchBox.current?.focus();
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  const shown = useMemo(() => {
    if (!menu) return [];
    const q = search.trim().toLowerCase();
    return menu.items.filter((i) => (q ? i.name.toLowerCase().includes(q) : i.category_id === category));
  }, [menu, search, category]);

  const add = (item: Item, variant: Variant | null, modifiers: Modifier[], qty: number, lineNotes: string) => {
    setCart((c) => [...c, { key: nextKey.current++, item, variant, modifiers, quantity: qty, notes: lineNotes }]);
    setQuantity(1);
    setChoosing(null);
    setError("");
  };
  const pick = (item: Item) => {
    if (!item.available) return;
    if (item.variants.length || item.modifier_groups.length) setChoosing(item);
    else add(item, null, [], quantity, "");
  };
  const change = (key: number, by: number) =>
    setCart((c) =>
      c.flatMap((l) => (l.key !== key ? [l] : l.quantity + by <= 0 ? [] : [{ ...l, quantity: l.quantity + by }])),
    );

  const charge = async () => {
    if (busy || !cart.length) return;
    // A delivery is a phone order: it needs where to go, with the pin the dispatcher routes to.
    const position = parsePosition(address.position);
    if (fulfilment === "delivery") {
      if (!address.line1.trim() || !address.postcode.trim() || !address.city.trim()) {
        setError("A delivery needs the street, postcode and city.");
        return;
      }
      if (!position) {
        setError("The map position is latitude, longitude, as 52.3800, 4.9050.");
        return;
      }
    }
    setBusy(true);
    try {
      const body = {
        channel: fulfilment === "delivery" ? "phone" : "counter",
        fulfilment,
        notes,
        delivery_address:
          fulfilment === "delivery"
            ? { line1: address.line1, postcode: address.postcode, city: address.city, position }
            : null,
        lines: cart.map((l) => ({
          item_id: l.item.id,
          variant_id: l.variant?.id ?? null,
          quantity: l.quantity,
          modifiers: l.modifiers.map((m) => ({ modifier_id: m.id, quantity: 1 })),
          notes: l.notes,
        })),
      };
      setOrder(await edge.call<Order>("POST", "/api/v1/orders", body, { "idempotency-key": chargeKey.current }));
      setError("");
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  };
  const done = () => {
    setOrder(null);
    setCart([]);
    setNotes("");
    setAddress(noAddress);
    chargeKey.current = idempotencyKey();
    searchBox.current?.focus();
  };

  if (!menu) return <p role="status">{error || "Loading the menu…"}</p>;
  const currency = menu.currency;
  const total = cart.reduce((s, l) => s + unitPrice(l) * l.quantity, 0);
  if (order) return <TenderPanel order={order} onOrder={setOrder} onDone={done} onError={fail} />;
  return (
    <div class="entry">
      <section class="menu" aria-label="Menu">
        <div class="tools">
          <label for="search" class="visually-hidden">
            Search the menu
          </label>
          <input
            id="search"
            ref={searchBox}
            type="search"
            placeholder="Type to search; Enter adds the first"
            value={search}
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && shown[0]) {
                e.preventDefault();
                pick(shown[0]);
                setSearch("");
              }
            }}
          />
          <span class="qty" aria-live="polite">
            Next item ×{quantity}
          </span>
        </div>
        <div class="tabs" role="group" aria-label="Categories">
          {menu.categories.map((c) => (
            <button
              key={c.id}
              aria-pressed={!search && c.id === category}
              onClick={() => {
                setCategory(c.id);
                setSearch("");
              }}
            >
              {c.name}
            </button>
          ))}
        </div>
        <div class="grid">
          {shown.map((i) => (
            <button key={i.id} class="item" disabled={!i.available} onClick={() => pick(i)}>
              <span class="name">{i.name}</span>
              <span class="price">{i.available ? money(i.price, currency) : "Sold out"}</span>
            </button>
          ))}
        </div>
      </section>
      <section class="cart" aria-label="Cart">
        <h2>Order</h2>
        <fieldset class="fulfilment">
          <legend>Fulfilment</legend>
          {(["takeaway", "dine_in", "delivery"] as const).map((f) => (
            <label key={f}>
              <input type="radio" name="fulfilment" checked={fulfilment === f} onChange={() => setFulfilment(f)} />
              {{ takeaway: "Takeaway", dine_in: "Dine in", delivery: "Delivery" }[f]}
            </label>
          ))}
        </fieldset>
        {fulfilment === "delivery" && (
          <fieldset class="address">
            <legend>Deliver to</legend>
            {(
              [
                ["line1", "Street and number", "street-address"],
                ["postcode", "Postcode", "postal-code"],
                ["city", "City", "address-level2"],
                ["position", "Map position (lat, lon)", "off"],
              ] as const
            ).map(([field, label, auto]) => (
              <div key={field}>
                <label for={`address-${field}`}>{label}</label>
                <input
                  id={`address-${field}`}
                  autocomplete={auto}
                  placeholder={field === "position" ? "52.3800, 4.9050" : undefined}
                  value={address[field]}
                  onInput={(e) => setAddress({ ...address, [field]: (e.target as HTMLInputElement).value })}
                />
              </div>
            ))}
          </fieldset>
        )}
        <ul class="lines">
          {cart.map((l) => (
            <li key={l.key}>
              <div class="line-main">
                <span>
                  {l.quantity} × {l.item.name}
                  {l.variant ? ` (${l.variant.name})` : ""}
                </span>
                <span>{money(unitPrice(l) * l.quantity, currency)}</span>
              </div>
              {(l.modifiers.length > 0 || l.notes) && (
                <div class="line-extra">
                  {l.modifiers.map((m) => m.name).join(", ")}
                  {l.notes ? ` · ${l.notes}` : ""}
                </div>
              )}
              <div class="line-tools">
                <button onClick={() => change(l.key, -1)} aria-label={`One fewer ${l.item.name}`}>
                  −
                </button>
                <button onClick={() => change(l.key, 1)} aria-label={`One more ${l.item.name}`}>
                  +
                </button>
              </div>
            </li>
          ))}
        </ul>
        <label for="order-notes">Order note</label>
        <input id="order-notes" value={notes} onInput={(e) => setNotes((e.target as HTMLInputElement).value)} />
        <p class="total">
          Total <strong data-testid="cart-total">{money(total, currency)}</strong>
          {fulfilment === "delivery" && <small> + delivery fee</small>}
        </p>
        <Problem text={error} />
        <button class="primary big" disabled={!cart.length || busy} onClick={charge}>
          Charge {money(total, currency)}
        </button>
      </section>
      {choosing && (
        <ItemDialog
          item={choosing}
          currency={currency}
          quantity={quantity}
          onAdd={add}
          onClose={() => setChoosing(null)}
        />
      )}
    </div>
  );
}

/// The delivery address form, empty.
const noAddress = { line1: "", postcode: "", city: "", position: "" };

function ItemDialog(props: {
  item: Item;
  currency: string;
  quantity: number;
  onAdd: (item: Item, variant: Variant | null, modifiers: Modifier[], qty: number, notes: string) => void;
  onClose: () => void;
}) {
  const { item, currency, onAdd, onClose } = props;
  const [variant, setVariant] = useState<Variant | null>(item.variants[0] ?? null);
  const [chosen, setChosen] = useState<Modifier[]>([]);
  const [qty, setQty] = useState(props.quantity);
  const [notes, setNotes] = useState("");
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const toggle = (group: { max: number; modifiers: Modifier[] }, m: Modifier) =>
    setChosen((c) => {
      if (c.includes(m)) return c.filter((x) => x !== m);
      const inGroup = c.filter((x) => group.modifiers.includes(x)).length;
      return inGroup >= group.max ? c : [...c, m];
    });
  const missing = item.modifier_groups.find(
    (g) => chosen.filter((x) => g.modifiers.includes(x)).length < g.min,
  );
  const price = unitPrice({ item, variant, modifiers: chosen });
  return (
    <dialog ref={dialog} onClose={onClose} aria-labelledby="dialog-title">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (!missing) onAdd(item, variant, chosen, qty, notes);
        }}
      >
        <h2 id="dialog-title">{item.name}</h2>
        {item.variants.length > 0 && (
          <fieldset>
            <legend>Size</legend>
            {item.variants.map((v) => (
              <label key={v.id}>
                <input type="radio" name="variant" checked={variant === v} onChange={() => setVariant(v)} />
                {v.name}
                {v.price_delta ? ` (+${money(v.price_delta, currency)})` : ""}
              </label>
            ))}
          </fieldset>
        )}
        {item.modifier_groups.map((g) => (
          <fieldset key={g.id}>
            <legend>
              {g.name}
              {g.min ? ` (choose at least ${g.min})` : ""}
            </legend>
            {g.modifiers.map((m) => (
              <label key={m.id}>
                <input type="checkbox" checked={chosen.includes(m)} onChange={() => toggle(g, m)} />
                {m.name}
                {m.price_delta ? ` (+${money(m.price_delta, currency)})` : ""}
              </label>
            ))}
          </fieldset>
        ))}
        <label for="line-notes">Kitchen note</label>
        <input id="line-notes" value={notes} onInput={(e) => setNotes((e.target as HTMLInputElement).value)} />
        <div class="stepper" role="group" aria-label="Quantity">
          <button type="button" onClick={() => setQty((q) => Math.max(1, q - 1))} aria-label="One fewer">
            −
          </button>
          <output aria-live="polite">{qty}</output>
          <button type="button" onClick={() => setQty((q) => Math.min(99, q + 1))} aria-label="One more">
            +
          </button>
        </div>
        {missing && <p class="hint">Choose {missing.name.toLowerCase()}.</p>}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={!!missing}>
            Add {money(price * qty, currency)}
          </button>
        </div>
      </form>
    </dialog>
  );
}

function TenderPanel(props: {
  order: Order;
  onOrder: (o: Order) => void;
  onDone: () => void;
  onError: (e: unknown) => void;
}) {
  const { order, onOrder, onDone, onError } = props;
  const [cash, setCash] = useState("");
  const [busy, setBusy] = useState(false);
  const due = Math.max(0, order.total - order.paid);
  const amount = useRef<HTMLInputElement>(null);
  useEffect(() => amount.current?.focus(), []);
  const tender = async (body: unknown) => {
    if (busy) return;
    setBusy(true);
    try {
      onOrder(await edge.call<Order>("POST", `/api/v1/orders/${order.id}/tenders`, body));
      setCash("");
    } catch (e) {
      onError(e);
    } finally {
      setBusy(false);
    }
  };
  const lastChange = order.tenders.map((t) => t.kind.cash?.change ?? 0).reduce((a, b) => a + b, 0);
  const typed = parseMoney(cash);
  const quick = [due, Math.ceil(due / 500) * 500, Math.ceil(due / 1000) * 1000, Math.ceil(due / 2000) * 2000]
    .filter((v, i, a) => v > 0 && a.indexOf(v) === i);
  return (
    <section class="tender" aria-label="Tender">
      <h2>Order {order.number}</h2>
      <ul class="lines">
        {order.lines.map((l, i) => (
          <li key={i}>
            <div class="line-main">
              <span>
                {l.quantity} × {l.name}
                {l.variant_name ? ` (${l.variant_name})` : ""}
              </span>
              <span>{money(l.line_total, order.currency)}</span>
            </div>
            {l.modifiers.length > 0 && <div class="line-extra">{l.modifiers.map((m) => m.name).join(", ")}</div>}
          </li>
        ))}
      </ul>
      {order.delivery_address && (
        <p class="deliver-to">
          Deliver to {addressLine(order.delivery_address)} · delivery {money(order.delivery_fee, order.currency)}
        </p>
      )}
      <p class="total">
        Total <strong>{money(order.total, order.currency)}</strong>
      </p>
      {due > 0 ? (
        <>
          <p class="due">
            Due <strong data-testid="due">{money(due, order.currency)}</strong>
          </p>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (typed) tender({ method: "cash", tendered: typed });
            }}
          >
            <label for="cash">Cash handed over</label>
            <input
              id="cash"
              ref={amount}
              inputMode="decimal"
              value={cash}
              onInput={(e) => setCash((e.target as HTMLInputElement).value)}
            />
            <div class="quick" role="group" aria-label="Quick cash amounts">
              {quick.map((v) => (
                <button type="button" key={v} onClick={() => tender({ method: "cash", tendered: v })}>
                  {money(v, order.currency)}
                </button>
              ))}
            </div>
            <button type="submit" class="primary big" disabled={!typed || busy}>
              Take cash
            </button>
          </form>
          <button
            class="big"
            disabled={busy}
            onClick={() =>
              tender({
                method: "card",
                amount: typed && typed < due ? typed : due,
                reference: `terminal-${Date.now()}`,
              })
            }
          >
            Card {typed && typed < due ? money(typed, order.currency) : money(due, order.currency)} (terminal)
          </button>
        </>
      ) : (
        <div class="paid" role="status">
          <p>
            Paid. Change due <strong data-testid="change">{money(lastChange, order.currency)}</strong>
          </p>
          <button class="primary big" onClick={onDone}>
            New order
          </button>
        </div>
      )}
    </section>
  );
}

function Kitchen() {
  const [tickets, setTickets] = useState<KitchenTicket[]>([]);
  const [bumped, setBumped] = useState<string[]>([]);
  const [error, setError] = useState("");
  const load = () =>
    edge
      .call<KitchenTicket[]>("GET", "/api/v1/kitchen/queue")
      .then((t) => {
        setTickets(t);
        setError("");
      })
      .catch((e) => setError(message(e)));
  // Every change the edge streams reloads the queue.
  useEffect(() => reloadOnEvents(edge, "/api/v1/kitchen/stream", load), []);
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

render(<App />, document.getElementById("app")!);
