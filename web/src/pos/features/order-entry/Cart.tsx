// The cart beside the menu: fulfilment, the delivery address, the lines with their steppers, the
// order note, the total and the Charge button.

import type { Fulfilment } from "../../../shared/api/edge";
import { money } from "../../../shared/money";
import { Problem } from "../../../shared/ui";
import { type AddressForm, type CartLine, cartTotal, lineTotal } from "./cart";

const FULFILMENTS: Record<Fulfilment, string> = { takeaway: "Takeaway", dine_in: "Dine in", delivery: "Delivery" };

const ADDRESS_FIELDS = [
  ["line1", "Street and number", "street-address"],
  ["postcode", "Postcode", "postal-code"],
  ["city", "City", "address-level2"],
  ["position", "Map position (lat, lon)", "off"],
] as const;

export function Cart(props: {
  cart: CartLine[];
  currency: string;
  fulfilment: Fulfilment;
  onFulfilment: (f: Fulfilment) => void;
  address: AddressForm;
  onAddress: (a: AddressForm) => void;
  notes: string;
  onNotes: (n: string) => void;
  error: string;
  busy: boolean;
  onChange: (key: number, by: number) => void;
  onCharge: () => void;
}) {
  const { cart, currency, fulfilment, address, onAddress, onChange } = props;
  const total = cartTotal(cart);
  return (
    <section class="cart" aria-label="Cart">
      <h2>Order</h2>
      <fieldset class="fulfilment">
        <legend>Fulfilment</legend>
        {(["takeaway", "dine_in", "delivery"] as const).map((f) => (
          <label key={f}>
            <input type="radio" name="fulfilment" checked={fulfilment === f} onChange={() => props.onFulfilment(f)} />
            {FULFILMENTS[f]}
          </label>
        ))}
      </fieldset>
      {fulfilment === "delivery" && (
        <fieldset class="address">
          <legend>Deliver to</legend>
          {ADDRESS_FIELDS.map(([field, label, auto]) => (
            <div key={field}>
              <label for={`address-${field}`}>{label}</label>
              <input
                id={`address-${field}`}
                autocomplete={auto}
                placeholder={field === "position" ? "52.3800, 4.9050" : undefined}
                value={address[field]}
                onInput={(e) => onAddress({ ...address, [field]: (e.target as HTMLInputElement).value })}
              />
            </div>
          ))}
        </fieldset>
      )}
      <ul class="lines">
        {cart.map((l) => (
          <li key={l.key}>
            <div class="line-main">
              <span>
                {l.quantity} × {l.item.name}
                {l.variant ? ` (${l.variant.name})` : ""}
              </span>
              <span>{money(lineTotal(l), currency)}</span>
            </div>
            {(l.modifiers.length > 0 || l.notes) && (
              <div class="line-extra">
                {l.modifiers.map((m) => m.name).join(", ")}
                {l.notes ? ` · ${l.notes}` : ""}
              </div>
            )}
            <div class="line-tools">
              <button onClick={() => onChange(l.key, -1)} aria-label={`One fewer ${l.item.name}`}>
                −
              </button>
              <button onClick={() => onChange(l.key, 1)} aria-label={`One more ${l.item.name}`}>
                +
              </button>
            </div>
          </li>
        ))}
      </ul>
      <label for="order-notes">Order note</label>
      <input id="order-notes" value={props.notes} onInput={(e) => props.onNotes((e.target as HTMLInputElement).value)} />
      <p class="total">
        Total <strong data-testid="cart-total">{money(total, currency)}</strong>
        {fulfilment === "delivery" && <small> + delivery fee</small>}
      </p>
      <Problem text={props.error} />
      <button class="primary big" disabled={!cart.length || props.busy} onClick={props.onCharge}>
        Charge {money(total, currency)}
      </button>
    </section>
  );
}
