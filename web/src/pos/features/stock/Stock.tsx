// Stock: levels with low-stock alerts, live; receive, waste and (managers) count; terminals
// locked after wrong PINs.

import { useEffect, useState } from "preact/hooks";
import { useApi } from "../../../shared/api/context";
import type { SignInAlert, StockLevel } from "../../../shared/api/edge";
import { reloadOnEvents } from "../../../shared/api/stream";
import { Problem, message } from "../../../shared/ui";

/// Stock levels with low-stock alerts, live; receive and waste (anyone), count (managers); and,
/// for managers, terminals locked after wrong PINs while the screen is open.
export function Stock({ manager }: { manager: boolean }) {
  const edge = useApi();
  const [levels, setLevels] = useState<StockLevel[]>([]);
  const [locks, setLocks] = useState<SignInAlert[]>([]);
  const [error, setError] = useState("");
  const [done, setDone] = useState("");
  const [amounts, setAmounts] = useState<Record<string, string>>({});
  const load = () =>
    edge
      .call<StockLevel[]>("GET", "/api/v1/inventory")
      .then(setLevels)
      .catch((e) => setError(message(e)));
  // Low-stock alerts as the edge raises them (a sale elsewhere, another terminal's delivery)
  // reload the levels.
  useEffect(
    () =>
      reloadOnEvents(edge, "/api/v1/inventory/alerts/stream", load, (name, data) => {
        if (name === "sign_in_alert") setLocks((l) => [(data as { alert: SignInAlert }).alert, ...l].slice(0, 5));
      }),
    [edge],
  );
  const change = async (l: StockLevel, kind: "receive" | "waste" | "count") => {
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
