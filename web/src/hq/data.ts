// What several dashboard views read from the cloud, read one way.

import type { Api } from "../shared/api";
import type { Order, Outlet, OutletStock } from "./types";

/// The outlet's orders taken since local midnight that still count (not cancelled or voided),
/// from its latest 500.
export async function todaysOrders(cloud: Api, outlet: Outlet): Promise<Order[]> {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const orders = await cloud.call<Order[]>("GET", `/api/v1/outlets/${outlet.id}/orders?limit=500`);
  return orders.filter((o) => o.created_ms >= midnight.getTime() && !["cancelled", "voided"].includes(o.status));
}

/// The outlet's ingredients at or below their reorder level.
export async function lowStock(cloud: Api, outlet: Outlet): Promise<OutletStock[]> {
  const stock = await cloud.call<OutletStock[]>("GET", `/api/v1/outlets/${outlet.id}/stock`);
  return stock.filter((s) => s.on_hand <= s.reorder_level);
}
