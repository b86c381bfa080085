import { describe, expect, it } from "vitest";
import type { Item, Modifier, ModifierGroup, Variant } from "../../../shared/api/edge";
import {
  type CartLine,
  cartTotal,
  changeQuantity,
  chargeProblem,
  lineTotal,
  missingGroup,
  newOrder,
  noAddress,
  parsePosition,
  toggleModifier,
  unitPrice,
} from "./cart";

const mod = (id: string, price_delta: number): Modifier => ({ id, name: id, price_delta, max_quantity: 1 }) as Modifier;
const cheese = mod("cheese", 100);
const bacon = mod("bacon", 150);
const onion = mod("onion", 0);
const toppings: ModifierGroup = { id: "toppings", name: "Toppings", min: 0, max: 2, modifiers: [cheese, bacon, onion] } as ModifierGroup;
const sauce: ModifierGroup = { id: "sauce", name: "Sauce", min: 1, max: 1, modifiers: [mod("ketchup", 0), mod("mayo", 20)] } as ModifierGroup;
const large: Variant = { id: "large", name: "Large", price_delta: 200 } as Variant;
const burger = {
  id: "burger",
  category_id: "burgers",
  name: "Burger",
  description: "",
  price: 850,
  variants: [large],
  modifier_groups: [toppings, sauce],
  available: true,
  sold_out: false,
} as unknown as Item;
const cola = { ...burger, id: "cola", name: "Cola", price: 250, variants: [], modifier_groups: [] } as Item;
const line = (key: number, item: Item, quantity: number, variant: Variant | null = null, modifiers: Modifier[] = []): CartLine => ({
  key,
  item,
  variant,
  modifiers,
  quantity,
  notes: "",
});

describe("the prices the cart shows", () => {
  it("a unit is the item with its size and every modifier", () => {
    expect(unitPrice({ item: burger, variant: null, modifiers: [] })).toBe(850);
    expect(unitPrice({ item: burger, variant: large, modifiers: [cheese, bacon] })).toBe(850 + 200 + 100 + 150);
  });
  it("a line is its unit times its quantity; the total is the lines", () => {
    const cart = [line(1, burger, 2, large, [cheese]), line(2, cola, 3)];
    expect(lineTotal(cart[0])).toBe(2 * 1150);
    expect(lineTotal(cart[1])).toBe(750);
    expect(cartTotal(cart)).toBe(2300 + 750);
    expect(cartTotal([])).toBe(0);
  });
});

describe("changing a line's quantity", () => {
  const cart = [line(1, burger, 1), line(2, cola, 2)];
  it("steps the one line", () => {
    expect(changeQuantity(cart, 2, 1).map((l) => l.quantity)).toEqual([1, 3]);
    expect(changeQuantity(cart, 2, -1).map((l) => l.quantity)).toEqual([1, 1]);
  });
  it("removes a line that reaches zero", () => {
    expect(changeQuantity(cart, 1, -1).map((l) => l.key)).toEqual([2]);
  });
  it("leaves the cart it was given alone", () => {
    changeQuantity(cart, 2, 5);
    expect(cart[1].quantity).toBe(2);
  });
});

describe("modifier limits", () => {
  it("a tap adds a modifier, a second tap takes it off", () => {
    const on = toggleModifier([], toppings, cheese);
    expect(on).toEqual([cheese]);
    expect(toggleModifier(on, toppings, cheese)).toEqual([]);
  });
  it("a group holds no more than its max", () => {
    const two = toggleModifier(toggleModifier([], toppings, cheese), toppings, bacon);
    expect(two).toEqual([cheese, bacon]);
    expect(toggleModifier(two, toppings, onion)).toEqual([cheese, bacon]);
  });
  it("another group's choices do not count against a group's max", () => {
    const ketchup = sauce.modifiers[0];
    const chosen = toggleModifier(toggleModifier([], toppings, cheese), toppings, bacon);
    expect(toggleModifier(chosen, sauce, ketchup)).toEqual([cheese, bacon, ketchup]);
    expect(toggleModifier([ketchup], sauce, sauce.modifiers[1])).toEqual([ketchup]);
  });
  it("a group short of its min is named until it has them", () => {
    expect(missingGroup(burger, [cheese])?.id).toBe("sauce");
    expect(missingGroup(burger, [cheese, sauce.modifiers[1]])).toBeUndefined();
    expect(missingGroup(cola, [])).toBeUndefined();
  });
});

describe("a delivery's address", () => {
  it("reads a map position as latitude, longitude", () => {
    expect(parsePosition("52.3800, 4.9050")).toEqual({ lat: 52.38, lon: 4.905 });
    expect(parsePosition(" -33.9;18.42 ")).toEqual({ lat: -33.9, lon: 18.42 });
    expect(parsePosition("52.38 4.905")).toEqual({ lat: 52.38, lon: 4.905 });
    for (const t of ["", "52.38", "91, 4", "52, 181", "north, east"]) expect(parsePosition(t)).toBeNull();
  });
  it("is needed, whole, for a delivery only", () => {
    expect(chargeProblem("takeaway", noAddress)).toBeNull();
    expect(chargeProblem("delivery", noAddress)).toBe("A delivery needs the street, postcode and city.");
    const typed = { line1: "Damrak 1", postcode: "1012 LG", city: "Amsterdam", position: "here" };
    expect(chargeProblem("delivery", typed)).toMatch(/map position/);
    expect(chargeProblem("delivery", { ...typed, position: "52.38, 4.9" })).toBeNull();
  });
});

describe("the order a cart becomes", () => {
  const cart = [{ ...line(1, burger, 2, large, [cheese]), notes: "no pickle" }, line(2, cola, 1)];
  it("is a counter order with its lines", () => {
    expect(newOrder(cart, "takeaway", "quick", noAddress)).toEqual({
      channel: "counter",
      fulfilment: "takeaway",
      notes: "quick",
      delivery_address: null,
      lines: [
        { item_id: "burger", variant_id: "large", quantity: 2, modifiers: [{ modifier_id: "cheese", quantity: 1 }], notes: "no pickle" },
        { item_id: "cola", variant_id: null, quantity: 1, modifiers: [], notes: "" },
      ],
    });
  });
  it("is a phone order with its address when delivered", () => {
    const address = { line1: "Damrak 1", postcode: "1012 LG", city: "Amsterdam", position: "52.38, 4.9" };
    const order = newOrder(cart, "delivery", "", address);
    expect(order.channel).toBe("phone");
    expect(order.delivery_address).toEqual({ line1: "Damrak 1", postcode: "1012 LG", city: "Amsterdam", position: { lat: 52.38, lon: 4.9 } });
  });
});
