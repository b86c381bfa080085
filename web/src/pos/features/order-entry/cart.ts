// The cart before the order exists: line prices and the total shown, quantities, modifier
// choices held to their group's limits, the delivery address as typed, and the order it becomes.

import type { Fulfilment, Item, Modifier, ModifierGroup, NewOrder, Variant } from "../../../shared/api/edge";

/// A line in the cart.
export interface CartLine {
  key: number;
  item: Item;
  variant: Variant | null;
  modifiers: Modifier[];
  quantity: number;
  notes: string;
}

/// One of the line's item, in its size, with its modifiers (minor units).
export function unitPrice(l: Pick<CartLine, "item" | "variant" | "modifiers">): number {
  return l.item.price + (l.variant?.price_delta ?? 0) + l.modifiers.reduce((s, m) => s + (m.price_delta ?? 0), 0);
}

/// The line's price: its unit price times its quantity.
export function lineTotal(l: CartLine): number {
  return unitPrice(l) * l.quantity;
}

/// What the cart shows as its total (before any delivery fee, which the edge adds).
export function cartTotal(cart: CartLine[]): number {
  return cart.reduce((s, l) => s + lineTotal(l), 0);
}

/// The cart with line `key` changed by `by`; a line that reaches zero leaves the cart.
export function changeQuantity(cart: CartLine[], key: number, by: number): CartLine[] {
  return cart.flatMap((l) => (l.key !== key ? [l] : l.quantity + by <= 0 ? [] : [{ ...l, quantity: l.quantity + by }]));
}

/// The modifiers chosen after a tap on `m` of `group`: off if it was on; on unless the group has
/// its `max` already.
export function toggleModifier(chosen: Modifier[], group: Pick<ModifierGroup, "max" | "modifiers">, m: Modifier): Modifier[] {
  if (chosen.includes(m)) return chosen.filter((x) => x !== m);
  const inGroup = chosen.filter((x) => group.modifiers.includes(x)).length;
  return inGroup >= group.max ? chosen : [...chosen, m];
}

/// The first of the item's groups with fewer than its `min` chosen, if any: the item cannot be
/// added until it has them.
export function missingGroup(item: Item, chosen: Modifier[]): ModifierGroup | undefined {
  return (item.modifier_groups ?? []).find((g) => chosen.filter((x) => g.modifiers.includes(x)).length < (g.min ?? 0));
}

/// The delivery address form as typed.
export interface AddressForm {
  line1: string;
  postcode: string;
  city: string;
  position: string;
}

/// The delivery address form, empty.
export const noAddress: AddressForm = { line1: "", postcode: "", city: "", position: "" };

/// "52.3800, 4.9050" (a pin shared from a map) as a position, or null when it is not one.
export function parsePosition(text: string): { lat: number; lon: number } | null {
  const m = /^\s*(-?\d{1,3}(?:\.\d+)?)\s*[,;\s]\s*(-?\d{1,3}(?:\.\d+)?)\s*$/.exec(text);
  if (!m) return null;
  const [lat, lon] = [Number(m[1]), Number(m[2])];
  return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? { lat, lon } : null;
}

/// Why the cart cannot be charged as it is, or null. A delivery is a phone order: it needs where
/// to go, with the pin the dispatcher routes to.
export function chargeProblem(fulfilment: Fulfilment, address: AddressForm): string | null {
  if (fulfilment !== "delivery") return null;
  if (!address.line1.trim() || !address.postcode.trim() || !address.city.trim()) {
    return "A delivery needs the street, postcode and city.";
  }
  if (!parsePosition(address.position)) return "The map position is latitude, longitude, as 52.3800, 4.9050.";
  return null;
}

/// The order the cart becomes (POST /api/v1/orders).
export function newOrder(cart: CartLine[], fulfilment: Fulfilment, notes: string, address: AddressForm): NewOrder {
  const position = parsePosition(address.position);
  return {
    channel: fulfilment === "delivery" ? "phone" : "counter",
    fulfilment,
    notes,
    delivery_address:
      fulfilment === "delivery" && position
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
}
