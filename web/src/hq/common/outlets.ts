// What several dashboard views read from the cloud, read one way.

import { useEffect, useState } from "preact/hooks";
import type { Api } from "../../shared/api/client";
import type { Outlet, OutletSales, OutletStock } from "../../shared/api/cloud";
import { message } from "../../shared/ui";

/// Rows read for each outlet in turn, joined, reloaded when the outlets change: the rows (null
/// until read) and the error that stopped the reading, if any.
export function useAcrossOutlets<R>(outlets: Outlet[], load: (o: Outlet) => Promise<R[]>): [R[] | null, string] {
  const [rows, setRows] = useState<R[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    (async () => {
      try {
        const out: R[] = [];
        for (const o of outlets) out.push(...(await load(o)));
        setRows(out);
        setError("");
      } catch (e) {
        setError(message(e));
      }
    })();
  }, [outlets]);
  return [rows, error];
}

/// The outlet's figures for its own local today (in its time zone), summed by the cloud over
/// every order of the day.
export async function todaysSales(cloud: Api, outlet: Outlet): Promise<OutletSales[]> {
  return [await cloud.call<OutletSales>("GET", `/api/v1/outlets/${outlet.id}/sales`)];
}

/// The outlet's ingredients at or below their reorder level.
export async function lowStock(cloud: Api, outlet: Outlet): Promise<OutletStock[]> {
  const stock = await cloud.call<OutletStock[]>("GET", `/api/v1/outlets/${outlet.id}/stock`);
  return stock.filter((s) => s.on_hand <= s.reorder_level);
}
