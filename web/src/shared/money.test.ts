import { describe, expect, it } from "vitest";
import { money, parseMoney } from "./money";

describe("money", () => {
  it("formats minor units in the currency", () => {
    expect(money(1250)).toBe("€12.50");
    expect(money(0)).toBe("€0.00");
    expect(money(5, "EUR")).toBe("€0.05");
    expect(money(123456, "EUR")).toBe("€1,234.56");
    expect(money(1250, "GBP")).toBe("£12.50");
  });
  it("formats a negative amount with its sign", () => {
    expect(money(-250)).toBe("-€2.50");
  });
});

describe("parseMoney", () => {
  it("reads whole and decimal amounts, with a point or a comma", () => {
    expect(parseMoney("12")).toBe(1200);
    expect(parseMoney("12.5")).toBe(1250);
    expect(parseMoney("12,50")).toBe(1250);
    expect(parseMoney(" 0.05 ")).toBe(5);
    expect(parseMoney("12.")).toBe(1200);
  });
  it("rounds to the cent the way it is typed, not the way floats add", () => {
    expect(parseMoney("0.29")).toBe(29);
    expect(parseMoney("1.15")).toBe(115);
    expect(parseMoney("19.99")).toBe(1999);
  });
  it("refuses what is not an amount", () => {
    for (const t of ["", "abc", "-1", "1.234", "1,2,3", "€5", "1e3", ".5"]) expect(parseMoney(t)).toBeNull();
  });
});
