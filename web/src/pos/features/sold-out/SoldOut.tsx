// Sold-out marks: items marked sold out at this outlet, or put back on sale.

import { useEffect, useState } from "preact/hooks";
import { useApi } from "../../../shared/api/context";
import type { Item, Menu } from "../../../shared/api/edge";
import { Problem, message } from "../../../shared/ui";

/// Items marked sold out at this outlet, or put back on sale.
export function SoldOut() {
  const edge = useApi();
  const [menu, setMenu] = useState<Menu | null>(null);
  const [error, setError] = useState("");
  const load = () =>
    edge
      .call<Menu>("GET", "/api/v1/menu")
      .then(setMenu)
      .catch((e) => setError(message(e)));
  useEffect(() => {
    load();
  }, [edge]);
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
