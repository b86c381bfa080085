/// A local day's sales figures, in the shape both services give them: the edge's day report
/// (`GET /api/v1/reports/day`) and the cloud's per-outlet sales (`GET /api/v1/outlets/{id}/sales`).
export interface DayFigures {
  date: string;
  orders: number;
  net_sales: number;
  tax: number;
  by_item: { name: string; quantity: number; gross: number }[];
  /// Local hours of the outlet.
  by_hour: { hour: number; orders: number; total: number }[];
}
