// Order entry: the menu (categories, type-to-search, a number key for the next quantity), the
// cart, the size and modifier dialog, and charging, which hands over to tender.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, idempotencyKey } from "../../../shared/api/client";
import { useApi } from "../../../shared/api/context";
import type { Fulfilment, Item, Menu, Modifier, Order, Variant } from "../../../shared/api/edge";
import { useLatest } from "../../../shared/hooks";
import { money } from "../../../shared/money";
import { message } from "../../../shared/ui";
import { TenderPanel } from "../tender/TenderPanel";
import { Cart } from "./Cart";
import { type CartLine, changeQuantity, chargeProblem, newOrder, noAddress } from "./cart";
import { ItemDialog } from "./ItemDialog";

export function OrderEntry({ onExpired }: { onExpired: () => void }) {
  const edge = useApi();
  const [menu, setMenu] = useState<Menu | null>(null);
  const [error, setError] = useState("");
  const [category, setCategory] = useState<string | null>(null);
  const [search, setSearch] = useState("");
  const [quantity, setQuantity] = useState(1);
  const [cart, setCart] = useState<CartLine[]>([]);
  const [fulfilment, setFulfilment] = useState<Fulfilment>("takeaway");
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
  }, [edge]);

  // Number keys outside a text field set the quantity of the next item added. The handler is
  // registered once and reads the current dialog and order through a ref written at render, so a
  // key pressed right after the size dialog closes (before any effect has re-run) is not dropped.
  const busyWith = useLatest({ choosing, order });
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
    if (item.variants?.length || item.modifier_groups?.length) setChoosing(item);
    else add(item, null, [], quantity, "");
  };

  const charge = async () => {
    if (busy || !cart.length) return;
    const problem = chargeProblem(fulfilment, address);
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(true);
    try {
      const body = newOrder(cart, fulfilment, notes, address);
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
      <Cart
        cart={cart}
        currency={currency}
        fulfilment={fulfilment}
        onFulfilment={setFulfilment}
        address={address}
        onAddress={setAddress}
        notes={notes}
        onNotes={setNotes}
        error={error}
        busy={busy}
        onChange={(key, by) => setCart((c) => changeQuantity(c, key, by))}
        onCharge={charge}
      />
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
