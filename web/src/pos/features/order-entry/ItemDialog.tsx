// The dialog for an item with sizes or modifiers: a size, modifiers within each group's limits,
// a kitchen note and the quantity, before the line joins the cart.

import { useEffect, useRef, useState } from "preact/hooks";
import type { Item, Modifier, Variant } from "../../../shared/api/edge";
import { money } from "../../../shared/money";
import { missingGroup, toggleModifier, unitPrice } from "./cart";

export function ItemDialog(props: {
  item: Item;
  currency: string;
  quantity: number;
  onAdd: (item: Item, variant: Variant | null, modifiers: Modifier[], qty: number, notes: string) => void;
  onClose: () => void;
}) {
  const { item, currency, onAdd, onClose } = props;
  const variants = item.variants ?? [];
  const groups = item.modifier_groups ?? [];
  const [variant, setVariant] = useState<Variant | null>(variants[0] ?? null);
  const [chosen, setChosen] = useState<Modifier[]>([]);
  const [qty, setQty] = useState(props.quantity);
  const [notes, setNotes] = useState("");
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  const missing = missingGroup(item, chosen);
  const price = unitPrice({ item, variant, modifiers: chosen });
  return (
    <dialog ref={dialog} onClose={onClose} aria-labelledby="dialog-title">
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (!missing) onAdd(item, variant, chosen, qty, notes);
        }}
      >
        <h2 id="dialog-title">{item.name}</h2>
        {variants.length > 0 && (
          <fieldset>
            <legend>Size</legend>
            {variants.map((v) => (
              <label key={v.id}>
                <input type="radio" name="variant" checked={variant === v} onChange={() => setVariant(v)} />
                {v.name}
                {v.price_delta ? ` (+${money(v.price_delta, currency)})` : ""}
              </label>
            ))}
          </fieldset>
        )}
        {groups.map((g) => (
          <fieldset key={g.id}>
            <legend>
              {g.name}
              {g.min ? ` (choose at least ${g.min})` : ""}
            </legend>
            {g.modifiers.map((m) => (
              <label key={m.id}>
                <input type="checkbox" checked={chosen.includes(m)} onChange={() => setChosen((c) => toggleModifier(c, g, m))} />
                {m.name}
                {m.price_delta ? ` (+${money(m.price_delta, currency)})` : ""}
              </label>
            ))}
          </fieldset>
        ))}
        <label for="line-notes">Kitchen note</label>
        <input id="line-notes" value={notes} onInput={(e) => setNotes((e.target as HTMLInputElement).value)} />
        <div class="stepper" role="group" aria-label="Quantity">
          <button type="button" onClick={() => setQty((q) => Math.max(1, q - 1))} aria-label="One fewer">
            −
          </button>
          <output aria-live="polite">{qty}</output>
          <button type="button" onClick={() => setQty((q) => Math.min(99, q + 1))} aria-label="One more">
            +
          </button>
        </div>
        {missing && <p class="hint">Choose {missing.name.toLowerCase()}.</p>}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={!!missing}>
            Add {money(price * qty, currency)}
          </button>
        </div>
      </form>
    </dialog>
  );
}
