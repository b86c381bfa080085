// Today's sales across the outlets the user sees: by outlet, by item and by hour (each outlet's
// local hours), as bar charts drawn in SVG from the figures the cloud sums for each outlet.

import type { Api } from "../shared/api";
import { money } from "../shared/money";
import { Problem } from "../shared/ui";
import { todaysSales, useAcrossOutlets } from "./data";
import type { Outlet, OutletSales } from "./types";

type Series = [string, number][];

function Bars({ title, data, currency }: { title: string; data: Series; currency: string }) {
  const max = Math.max(1, ...data.map(([, v]) => v));
  const row = 28;
  const labelW = 180;
  const barW = 420;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg
        viewBox={`0 0 ${labelW + barW + 110} ${Math.max(1, data.length) * row + 8}`}
        role="img"
        aria-label={`${title}: ${data.map(([k, v]) => `${k} ${money(v, currency)}`).join("; ") || "nothing yet"}`}
      >
        {data.map(([k, v], i) => (
          <g key={k} transform={`translate(0 ${i * row + 4})`}>
            <text x={labelW - 8} y={row / 2 + 5} text-anchor="end" font-size="15">
              {k}
            </text>
            <rect x={labelW} y="3" width={(v / max) * barW} height={row - 8} fill="#1d5c2e" />
            <text x={labelW + (v / max) * barW + 6} y={row / 2 + 5} font-size="15">
              {money(v, currency)}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}

export function Sales({ cloud, outlets }: { cloud: Api; outlets: Outlet[] }) {
  const [read, error] = useAcrossOutlets<[Outlet, OutletSales]>(outlets, async (o) =>
    (await todaysSales(cloud, o)).map((s): [Outlet, OutletSales] => [o, s]),
  );
  const days = read ?? [];
  const sum = (key: (o: Outlet, s: OutletSales) => [string, number][]): Series => {
    const m = new Map<string, number>();
    for (const [o, s] of days) for (const [k, v] of key(o, s)) m.set(k, (m.get(k) ?? 0) + v);
    return [...m.entries()];
  };
  const currency = outlets[0]?.currency ?? "EUR";
  const byOutlet = sum((o, s) => [[o.name, s.net_sales]]).sort((a, b) => b[1] - a[1]);
  const byItem = sum((_, s) => s.by_item.map((i) => [i.name, i.gross] as [string, number]))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10);
  const byHour = sum((_, s) => s.by_hour.map((h) => [`${String(h.hour).padStart(2, "0")}:00`, h.total] as [string, number])).sort(
    (a, b) => a[0].localeCompare(b[0]),
  );
  return (
    <section aria-label="Sales">
      <h2>Sales</h2>
      <Problem text={error} />
      <p>
        Today: {days.reduce((n, [, s]) => n + s.orders, 0)} orders, {money(days.reduce((n, [, s]) => n + s.net_sales, 0), currency)}
      </p>
      <Bars title="By outlet" data={byOutlet} currency={currency} />
      <Bars title="By item (top 10)" data={byItem} currency={currency} />
      <Bars title="By hour" data={byHour} currency={currency} />
    </section>
  );
}
