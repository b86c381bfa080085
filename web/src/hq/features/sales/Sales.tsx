// Today's sales across the outlets the user sees: by outlet, by item and by hour (each outlet's
// local hours), as bar charts drawn in SVG from the figures the cloud sums for each outlet.

import type { Outlet, OutletSales } from "../../../shared/api/cloud";
import { useApi } from "../../../shared/api/context";
import { money } from "../../../shared/money";
import { Problem } from "../../../shared/ui";
import { todaysSales, useAcrossOutlets } from "../../common/outlets";
import { Bars } from "./Bars";
import { salesSeries } from "./series";

export function Sales({ outlets }: { outlets: Outlet[] }) {
  const cloud = useApi();
  const [read, error] = useAcrossOutlets<[Outlet, OutletSales]>(outlets, async (o) =>
    (await todaysSales(cloud, o)).map((s): [Outlet, OutletSales] => [o, s]),
  );
  const day = salesSeries(read ?? []);
  const currency = outlets[0]?.currency ?? "EUR";
  return (
    <section aria-label="Sales">
      <h2>Sales</h2>
      <Problem text={error} />
      <p>
        Today: {day.orders} orders, {money(day.netSales, currency)}
      </p>
      <Bars title="By outlet" data={day.byOutlet} currency={currency} />
      <Bars title="By item (top 10)" data={day.byItem} currency={currency} />
      <Bars title="By hour" data={day.byHour} currency={currency} />
    </section>
  );
}
