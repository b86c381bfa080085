// Stock alerts across the outlets the user sees.

import type { Outlet, OutletStock } from "../../../shared/api/cloud";
import { useApi } from "../../../shared/api/context";
import { Problem } from "../../../shared/ui";
import { lowStock, useAcrossOutlets } from "../../common/outlets";

/// Every ingredient at or below its reorder level, across the outlets the user sees.
export function StockAlerts({ outlets }: { outlets: Outlet[] }) {
  const cloud = useApi();
  const [rows, error] = useAcrossOutlets<[Outlet, OutletStock]>(outlets, async (o) =>
    (await lowStock(cloud, o)).map((s): [Outlet, OutletStock] => [o, s]),
  );
  return (
    <section aria-label="Stock alerts">
      <h2>Stock alerts</h2>
      <Problem text={error} />
      {rows?.length === 0 && <p role="status">No ingredient is at or below its reorder level.</p>}
      {rows && rows.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Outlet</th>
              <th scope="col">Ingredient</th>
              <th scope="col">On hand</th>
              <th scope="col">Reorder at</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([o, s]) => (
              <tr key={`${o.id}-${s.ingredient_id}`} class="low">
                <th scope="row">{o.name}</th>
                <td>{s.name}</td>
                <td>
                  {s.on_hand} {s.unit}
                </td>
                <td>{s.reorder_level}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
