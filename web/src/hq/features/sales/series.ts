// Today's figures of several outlets summed into the series the sales charts draw.

import type { Outlet, OutletSales } from "../../../shared/api/cloud";

/// Labelled values, in the order drawn.
export type Series = [string, number][];

/// The values `key` gives for each row, summed by label, labels in the order first seen.
export function sumBy<R>(rows: R[], key: (r: R) => Series): Series {
  const m = new Map<string, number>();
  for (const r of rows) for (const [k, v] of key(r)) m.set(k, (m.get(k) ?? 0) + v);
  return [...m.entries()];
}

/// The chain's day across `days` (each outlet with its figures): orders and net sales in all,
/// sales by outlet and by item (largest first, the top ten items), and by local hour.
export function salesSeries(days: [Outlet, OutletSales][]) {
  return {
    orders: days.reduce((n, [, s]) => n + s.orders, 0),
    netSales: days.reduce((n, [, s]) => n + s.net_sales, 0),
    byOutlet: sumBy(days, ([o, s]) => [[o.name, s.net_sales]]).sort((a, b) => b[1] - a[1]),
    byItem: sumBy(days, ([, s]) => s.by_item.map((i): [string, number] => [i.name, i.gross]))
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10),
    byHour: sumBy(days, ([, s]) => s.by_hour.map((h): [string, number] => [`${String(h.hour).padStart(2, "0")}:00`, h.total])).sort(
      (a, b) => a[0].localeCompare(b[0]),
    ),
  };
}
