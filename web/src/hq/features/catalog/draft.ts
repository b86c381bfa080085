// The catalog editor's edits applied to the draft: kept as text until saved, and refused whole
// when one is not a price or a name is empty.

import type { Draft } from "../../../shared/api/cloud";
import { parseMoney } from "../../../shared/money";

/// Edits as typed, keyed "price:ITEM", "name:ITEM" or "mod:MODIFIER".
export type Edits = Record<string, string>;

/// A new item as typed (the category empty for the first).
export interface NewItem {
  name: string;
  category: string;
  price: string;
}

/// `draft` with `edits` made to the prices of `scope` ("chain", or an outlet's id, whose own
/// prices they become), and `added` (if anything was typed) as a new item with id `newId`; or
/// what is wrong, in words, with nothing changed.
export function applyEdits(draft: Draft, scope: string, edits: Edits, added: NewItem, newId: string): Draft | string {
  const next: Draft = structuredClone(draft);
  for (const [key, text] of Object.entries(edits)) {
    const [what, id] = key.split(":");
    if (what === "name") {
      const item = next.menu.items.find((i) => i.id === id);
      if (!text.trim()) return "An item needs a name.";
      if (item) item.name = text.trim();
      continue;
    }
    const v = parseMoney(text);
    if (v === null) return `"${text}" is not a price.`;
    if (what === "mod") {
      for (const g of next.menu.items.flatMap((i) => i.modifier_groups ?? [])) {
        for (const m of g.modifiers) if (m.id === id) m.price_delta = v;
      }
    } else if (scope === "chain") {
      const item = next.menu.items.find((i) => i.id === id);
      if (item) item.price = v;
    } else {
      const outlet = (next.outlets[scope] = next.outlets[scope] ?? {});
      outlet.prices = { ...(outlet.prices ?? {}), [id]: v };
    }
  }
  if (added.name.trim() || added.price) {
    const v = parseMoney(added.price);
    if (!added.name.trim() || v === null) return "A new item needs a name and a price.";
    next.menu.items.push({
      id: newId,
      name: added.name.trim(),
      category_id: added.category || next.menu.categories[0].id,
      price: v,
    } as Draft["menu"]["items"][number]);
  }
  return next;
}
