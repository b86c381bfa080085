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

/// Where a delivery goes; the position is what the dispatcher and the driver's drop-off zone use.
export interface DeliveryAddress {
  line1: string;
  city: string;
  postcode: string;
  position: { lat: number; lon: number };
}

export interface Order {
  id: string;
  number: number;
  channel: string;
  fulfilment: "dine_in" | "takeaway" | "delivery";
  status: string;
  lines: OrderLine[];
  notes: string;
  currency: string;
  delivery_fee: number;
  delivery_address: DeliveryAddress | null;
  customer_id: string | null;
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

/// A counter delivery as the cloud dispatches it, with the code the customer gives the driver.
export interface CounterDelivery {
  id: string;
  job: number;
  status: string;
  driver_id: string | null;
  eta_dropoff_s: number | null;
  handover_code: string;
}

/// "52.3800, 4.9050" (a pin shared from a map) as a position, or null when it is not one.
export function parsePosition(text: string): { lat: number; lon: number } | null {
  const m = /^\s*(-?\d{1,3}(?:\.\d+)?)\s*[,;\s]\s*(-?\d{1,3}(?:\.\d+)?)\s*$/.exec(text);
  if (!m) return null;
  const [lat, lon] = [Number(m[1]), Number(m[2])];
  return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? { lat, lon } : null;
}

/// One line for an address: "Damrak 1, 1012 LG Amsterdam".
export function addressLine(a: DeliveryAddress): string {
  return `${a.line1}, ${a.postcode} ${a.city}`;
}
