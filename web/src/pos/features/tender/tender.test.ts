import { describe, expect, it } from "vitest";
import type { Order } from "../../../shared/api/edge";
import { cardAmount, changeGiven, due, quickAmounts } from "./tender";

describe("tender", () => {
  it("what is due never goes below zero", () => {
    expect(due({ total: 1250, paid: 0 })).toBe(1250);
    expect(due({ total: 1250, paid: 1000 })).toBe(250);
    expect(due({ total: 1250, paid: 2000 })).toBe(0);
  });
  it("offers the exact sum and the next notes above it, each once", () => {
    expect(quickAmounts(1250)).toEqual([1250, 1500, 2000]);
    expect(quickAmounts(1000)).toEqual([1000, 2000]);
    expect(quickAmounts(2000)).toEqual([2000]);
    expect(quickAmounts(2150)).toEqual([2150, 2500, 3000, 4000]);
    expect(quickAmounts(0)).toEqual([]);
  });
  it("the change is the cash tenders' change", () => {
    const tenders = [
      { kind: { cash: { tendered: 2000, change: 750 } }, amount: 1250 },
      { kind: { card: { reference: "t-1" } }, amount: 500 },
    ] as unknown as Order["tenders"];
    expect(changeGiven({ tenders })).toBe(750);
    expect(changeGiven({ tenders: [] })).toBe(0);
  });
  it("a card pays what is typed when it is part of what is due, else all of it", () => {
    expect(cardAmount(null, 1250)).toBe(1250);
    expect(cardAmount(500, 1250)).toBe(500);
    expect(cardAmount(1250, 1250)).toBe(1250);
    expect(cardAmount(2000, 1250)).toBe(1250);
  });
});
