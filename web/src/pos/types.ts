// The edge's JSON, as far as the POS reads it.

export interface Staff {
  id: string;
  name: string;
  role: "manager" | "cashier" | "kitchen";
}

export interface Session {
  token: string;
  staff: Staff;
}

export interface Variant {
  id: string;
  name: string;
  price_delta: number;
}

export interface Modifier {
  id: string;
  name: string;
  price_delta: number;
  max_quantity: number;
}

export interface ModifierGroup {
  id: string;
  name: string;
  min: number;
  max: number;
  modifiers: Modifier[];
}

export interface Item {
  id: string;
  category_id: string;
  name: string;
  description: string;
  price: number;
  variants: Variant[];
  modifier_groups: ModifierGroup[];
  available: boolean;
  sold_out: boolean;
}

export interface Menu {
  version: number;
  currency: string;
  categories: { id: string; name: string; position: number }[];
  items: Item[];
}

export interface OrderLine {
  name: string;
  variant_name: string | null;
  quantity: number;
  modifiers: { name: string; quantity: number }[];
  notes: string;
  line_total: number;
}

export interface Tender {
  kind: { cash?: { tendered: number; change: number }; card?: { reference: string } };
  amount: number;
}

export interface Order {
  id: string;
  number: number;
  fulfilment: "dine_in" | "takeaway" | "delivery";
  status: string;
  lines: OrderLine[];
  notes: string;
  currency: string;
  total: number;
  paid: number;
  tenders: Tender[];
}

export interface KitchenTicket {
  order: Order;
}

export interface SyncStatus {
  enabled: boolean;
  link: string;
  since_ms: number;
  pending: number;
}

/// A line in the cart, before the order exists.
export interface CartLine {
  key: number;
  item: Item;
  variant: Variant | null;
  modifiers: Modifier[];
  quantity: number;
  notes: string;
}

export function unitPrice(l: Pick<CartLine, "item" | "variant" | "modifiers">): number {
  return l.item.price + (l.variant?.price_delta ?? 0) + l.modifiers.reduce((s, m) => s + m.price_delta, 0);
}
