// The dashboard's views, and which are for HQ administrators only.

import type { Role } from "../../shared/api/cloud";

export type View = "outlets" | "map" | "catalog" | "orders" | "stock" | "sales" | "notifications";

export const VIEWS: { id: View; label: string; hqOnly: boolean }[] = [
  { id: "outlets", label: "Outlets", hqOnly: false },
  { id: "map", label: "Fleet map", hqOnly: false },
  { id: "catalog", label: "Catalog", hqOnly: true },
  { id: "orders", label: "Orders", hqOnly: false },
  { id: "stock", label: "Stock alerts", hqOnly: false },
  { id: "sales", label: "Sales", hqOnly: false },
  { id: "notifications", label: "Notifications", hqOnly: false },
];

/// The views `role` may open, in the header's order.
export function viewsFor(role: Role) {
  return VIEWS.filter((v) => role === "hq_admin" || !v.hqOnly);
}
