import { describe, expect, it } from "vitest";
import type { Draft } from "../../../shared/api/cloud";
import { applyEdits } from "./draft";

const draft = () =>
  ({
    menu: {
      version: 1,
      currency: "EUR",
      categories: [{ id: "burgers", name: "Burgers" }],
      items: [
        { id: "b", name: "Burger", category_id: "burgers", price: 850, modifier_groups: [{ id: "g", name: "Extras", modifiers: [{ id: "cheese", name: "Cheese", price_delta: 100 }] }] },
      ],
    },
    outlets: { zuid: { prices: { b: 900 } } },
  }) as unknown as Draft;
const none = { name: "", category: "", price: "" };

describe("catalog edits", () => {
  it("change the chain's names, prices and modifier prices", () => {
    const next = applyEdits(draft(), "chain", { "name:b": " Big burger ", "price:b": "9,50", "mod:cheese": "1.20" }, none, "new") as Draft;
    const item = next.menu.items[0];
    expect([item.name, item.price, item.modifier_groups?.[0].modifiers[0].price_delta]).toEqual(["Big burger", 950, 120]);
  });
  it("change an outlet's own price, not the chain's", () => {
    const next = applyEdits(draft(), "centrum", { "price:b": "8" }, none, "new") as Draft;
    expect(next.menu.items[0].price).toBe(850);
    expect(next.outlets.centrum.prices).toEqual({ b: 800 });
    expect(next.outlets.zuid.prices).toEqual({ b: 900 });
  });
  it("add a new item, in the first category unless one is chosen", () => {
    const next = applyEdits(draft(), "chain", {}, { name: "Shake", category: "", price: "4" }, "s1") as Draft;
    expect(next.menu.items[1]).toEqual({ id: "s1", name: "Shake", category_id: "burgers", price: 400 });
  });
  it("are refused whole, leaving the draft as it was", () => {
    const d = draft();
    expect(applyEdits(d, "chain", { "price:b": "9.50", "name:b": "  " }, none, "x")).toBe("An item needs a name.");
    expect(applyEdits(d, "chain", { "price:b": "cheap" }, none, "x")).toBe('"cheap" is not a price.');
    expect(applyEdits(d, "chain", {}, { name: "Shake", category: "", price: "" }, "x")).toBe("A new item needs a name and a price.");
    expect(d).toEqual(draft());
  });
});
