// Delivery addresses as the POS shows them.

import type { DeliveryAddress } from "../../shared/api/edge";

/// One line for an address: "Damrak 1, 1012 LG Amsterdam".
export function addressLine(a: DeliveryAddress): string {
  return `${a.line1}, ${a.postcode} ${a.city}`;
}
