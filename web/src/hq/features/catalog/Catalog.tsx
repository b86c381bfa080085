// The catalog editor: the chain's menu and each outlet's prices, edited in the draft and
// published as a version.

import { useEffect, useState } from "preact/hooks";
import type { Draft, Outlet } from "../../../shared/api/cloud";
import { useApi } from "../../../shared/api/context";
import { money } from "../../../shared/money";
import { Problem, message } from "../../../shared/ui";
import { OutletPicker } from "../../common/OutletPicker";
import { applyEdits } from "./draft";

/// The chain's menu (item names and prices, modifier prices, new items) and each outlet's own
/// prices, edited in the draft and published as a version. Edits are kept as text until saved:
/// one that is not a price or an empty name is refused and nothing is written.
export function Catalog({ outlets }: { outlets: Outlet[] }) {
  const cloud = useApi();
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
  }, [cloud]);
  if (!draft) return <p role="status">{error || "Loading the catalog…"}</p>;
  const chain = scope === "chain";
  const priceOf = (id: string, base: number) => (chain ? base : (draft.outlets[scope]?.prices?.[id] ?? base));
  const edit = (key: string) => (e: Event) => setEdits((x) => ({ ...x, [key]: (e.target as HTMLInputElement).value }));
  const save = async (publish: boolean) => {
    const next = applyEdits(draft, scope, edits, added, crypto.randomUUID());
    if (typeof next === "string") return setError(next);
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
                        value={edits[`mod:${m.id}`] ?? ((m.price_delta ?? 0) / 100).toFixed(2)}
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
