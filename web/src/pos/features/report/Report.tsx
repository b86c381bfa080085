// The end-of-day report (managers).

import { useEffect, useState } from "preact/hooks";
import { useApi } from "../../../shared/api/context";
import type { DayReport, Menu } from "../../../shared/api/edge";
import { money } from "../../../shared/money";
import { Problem, message } from "../../../shared/ui";

/// The end-of-day report (managers).
export function Report() {
  const edge = useApi();
  const [report, setReport] = useState<DayReport | null>(null);
  const [currency, setCurrency] = useState("EUR");
  const [error, setError] = useState("");
  useEffect(() => {
    edge
      .call<DayReport>("GET", "/api/v1/reports/day")
      .then(setReport)
      .catch((e) => setError(message(e)));
    edge
      .call<Menu>("GET", "/api/v1/menu")
      .then((m) => setCurrency(m.currency))
      .catch(() => {});
  }, [edge]);
  const m = (v: number) => money(v, currency);
  return (
    <section class="page" aria-label="Day report">
      <h2>Day report {report?.date}</h2>
      <Problem text={error} />
      {report && (
        <>
          <dl class="figures">
            <div>
              <dt>Orders</dt>
              <dd data-testid="report-orders">{report.orders}</dd>
            </div>
            <div>
              <dt>Net sales</dt>
              <dd data-testid="report-sales">{m(report.net_sales)}</dd>
            </div>
            <div>
              <dt>Tax</dt>
              <dd>{m(report.tax)}</dd>
            </div>
            <div>
              <dt>Voids</dt>
              <dd>
                {report.voids.count} ({m(report.voids.amount)})
              </dd>
            </div>
            <div>
              <dt>Discounts</dt>
              <dd>
                {report.discounts.count} ({m(report.discounts.amount)})
              </dd>
            </div>
          </dl>
          <h3>By tender</h3>
          <ul>
            {Object.entries(report.by_tender).map(([k, t]) => (
              <li key={k}>
                {k}: {t.count} ({m(t.amount)})
              </li>
            ))}
          </ul>
          <h3>By item</h3>
          <table>
            <thead>
              <tr>
                <th scope="col">Item</th>
                <th scope="col">Sold</th>
                <th scope="col">Gross</th>
              </tr>
            </thead>
            <tbody>
              {report.by_item.map((i) => (
                <tr key={i.name}>
                  <th scope="row">{i.name}</th>
                  <td>{i.quantity}</td>
                  <td>{m(i.gross)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
