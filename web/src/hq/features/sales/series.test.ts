import { describe, expect, it } from "vitest";
import type { Outlet, OutletSales } from "../../../shared/api/cloud";
import { salesSeries, sumBy } from "./series";

const outlet = (name: string) => ({ id: name, name }) as Outlet;
const day = (net_sales: number, by_item: [string, number][], by_hour: [number, number][]) =>
  ({
    orders: by_item.length,
    net_sales,
    by_item: by_item.map(([name, gross]) => ({ name, gross, quantity: 1 })),
    by_hour: by_hour.map(([hour, total]) => ({ hour, total, orders: 1 })),
  }) as unknown as OutletSales;

describe("sales series", () => {
  it("sums by label in the order labels are first seen", () => {
    expect(sumBy([1, 2, 3], (n) => [["odd", n % 2], ["all", n]])).toEqual([
      ["odd", 2],
      ["all", 6],
    ]);
  });
  it("adds the outlets' days", () => {
    const s = salesSeries([
      [outlet("Centrum"), day(3000, [["Burger", 2000], ["Fries", 1000]], [[12, 3000]])],
      [outlet("Zuid"), day(5000, [["Burger", 5000]], [[9, 1000], [12, 4000]])],
    ]);
    expect(s.orders).toBe(3);
    expect(s.netSales).toBe(8000);
    expect(s.byOutlet).toEqual([["Zuid", 5000], ["Centrum", 3000]]);
    expect(s.byItem).toEqual([["Burger", 7000], ["Fries", 1000]]);
    expect(s.byHour).toEqual([["09:00", 1000], ["12:00", 7000]]);
  });
  it("keeps the ten best items", () => {
    const items: [string, number][] = Array.from({ length: 12 }, (_, i) => [`item ${i}`, i * 100]);
    const s = salesSeries([[outlet("Centrum"), day(0, items, [])]]);
    expect(s.byItem).toHaveLength(10);
    expect(s.byItem[0]).toEqual(["item 11", 1100]);
  });
  it("is empty with no outlets", () => {
    expect(salesSeries([])).toEqual({ orders: 0, netSales: 0, byOutlet: [], byItem: [], byHour: [] });
  });
});
