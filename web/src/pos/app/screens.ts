// The POS's screens, and who sees each (a manager sees them all).

import type { Role } from "../../shared/api/edge";

export type Screen = "order" | "queue" | "kitchen" | "stock" | "soldout" | "report" | "conflicts";

export const SCREENS: { id: Screen; label: string; roles: Role[] }[] = [
  { id: "order", label: "Order entry", roles: ["cashier"] },
  { id: "queue", label: "Orders", roles: ["cashier", "kitchen"] },
  { id: "kitchen", label: "Kitchen", roles: ["cashier", "kitchen"] },
  { id: "stock", label: "Stock", roles: ["cashier", "kitchen"] },
  { id: "soldout", label: "Sold out", roles: ["cashier", "kitchen"] },
  { id: "report", label: "Day report", roles: [] },
  { id: "conflicts", label: "Conflicts", roles: [] },
];

/// The screens `role` may open, in the header's order.
export function screensFor(role: Role) {
  return SCREENS.filter((s) => role === "manager" || s.roles.includes(role));
}

/// The screen a sign-in opens on.
export function firstScreen(role: Role): Screen {
  return role === "kitchen" ? "kitchen" : "order";
}
