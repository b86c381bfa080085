// A horizontal bar chart in SVG, labelled for screen readers with every value.

import { money } from "../../../shared/money";
import type { Series } from "./series";

export function Bars({ title, data, currency }: { title: string; data: Series; currency: string }) {
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
