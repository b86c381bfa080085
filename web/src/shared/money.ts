// Amounts are integer minor units (cents) everywhere; this only formats and parses them.

export function money(minor: number, currency = "EUR"): string {
  return new Intl.NumberFormat("en-IE", { style: "currency", currency }).format(minor / 100);
}

/// "12.5", "12,50" or "12" to minor units; null when it is not an amount.
export function parseMoney(text: string): number | null {
  const t = text.trim().replace(",", ".");
  if (!/^\d+(\.\d{0,2})?$/.test(t)) return null;
  return Math.round(parseFloat(t) * 100);
}
