// The outlets overview.

import { useEffect, useState } from "preact/hooks";
import type { Outlet, OutletSync } from "../../../shared/api/cloud";
import { useApi } from "../../../shared/api/context";
import { money } from "../../../shared/money";
import { Problem } from "../../../shared/ui";
import { lowStock, todaysSales, useAcrossOutlets } from "../../common/outlets";

interface Row {
  outlet: Outlet;
  sync?: OutletSync;
  ordersToday: number;
  salesToday: number;
  lowStock: string[];
}

/// Each outlet: its link (online, or offline since when), today's orders and sales, low stock and
/// open conflicts.
export function Outlets({ outlets }: { outlets: Outlet[] }) {
  const cloud = useApi();
  const [links, setLinks] = useState<OutletSync[]>([]);
  useEffect(() => {
    cloud.call<OutletSync[]>("GET", "/api/v1/sync/outlets").then(setLinks, () => setLinks([]));
  }, [outlets]);
  const [read, error] = useAcrossOutlets<Row>(outlets, async (outlet) => {
    const [today] = await todaysSales(cloud, outlet);
    const low = await lowStock(cloud, outlet).catch(() => []);
    return [
      {
        outlet,
        ordersToday: today.orders,
        salesToday: today.net_sales,
        lowStock: low.map((s) => s.name),
      },
    ];
  });
  const rows = (read ?? []).map((r) => ({ ...r, sync: links.find((l) => l.outlet_id === r.outlet.id) }));
  return (
    <section aria-label="Outlets">
      <h2>Outlets</h2>
      <Problem text={error} />
      <table>
        <thead>
          <tr>
            <th scope="col">Outlet</th>
            <th scope="col">Link</th>
            <th scope="col">Orders today</th>
            <th scope="col">Sales today</th>
            <th scope="col">Low stock</th>
            <th scope="col">Open conflicts</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.outlet.id}>
              <th scope="row">{r.outlet.name}</th>
              <td>
                {!r.sync ? (
                  "never connected"
                ) : r.sync.link === "online" ? (
                  <span class="link-online">online</span>
                ) : (
                  <span class="link-offline">
                    offline{r.sync.since_ms ? ` since ${new Date(r.sync.since_ms).toLocaleString()}` : ""}
                  </span>
                )}
              </td>
              <td data-testid={`orders-${r.outlet.name}`}>{r.ordersToday}</td>
              <td>{money(r.salesToday, r.outlet.currency)}</td>
              <td>{r.lowStock.length ? r.lowStock.join(", ") : "none"}</td>
              <td>{r.sync?.open_conflicts ?? 0}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {outlets.length === 0 && <p role="status">No outlets yet.</p>}
    </section>
  );
}
