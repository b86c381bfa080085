// Tender: the charged order's lines and total, cash (typed or a quick amount) and card until
// nothing is due, then the change and a new order.

import { useEffect, useRef, useState } from "preact/hooks";
import { useApi } from "../../../shared/api/context";
import type { NewTender, Order } from "../../../shared/api/edge";
import { money, parseMoney } from "../../../shared/money";
import { addressLine } from "../../common/address";
import { cardAmount, changeGiven, due as dueOf, quickAmounts } from "./tender";

export function TenderPanel(props: {
  order: Order;
  onOrder: (o: Order) => void;
  onDone: () => void;
  onError: (e: unknown) => void;
}) {
  const { order, onOrder, onDone, onError } = props;
  const edge = useApi();
  const [cash, setCash] = useState("");
  const [busy, setBusy] = useState(false);
  const due = dueOf(order);
  const amount = useRef<HTMLInputElement>(null);
  useEffect(() => amount.current?.focus(), []);
  const tender = async (body: NewTender) => {
    if (busy) return;
    setBusy(true);
    try {
      onOrder(await edge.call<Order>("POST", `/api/v1/orders/${order.id}/tenders`, body));
      setCash("");
    } catch (e) {
      onError(e);
    } finally {
      setBusy(false);
    }
  };
  const typed = parseMoney(cash);
  const card = cardAmount(typed, due);
  return (
    <section class="tender" aria-label="Tender">
      <h2>Order {order.number}</h2>
      <ul class="lines">
        {order.lines.map((l, i) => (
          <li key={i}>
            <div class="line-main">
              <span>
                {l.quantity} × {l.name}
                {l.variant_name ? ` (${l.variant_name})` : ""}
              </span>
              <span>{money(l.line_total, order.currency)}</span>
            </div>
            {l.modifiers.length > 0 && <div class="line-extra">{l.modifiers.map((m) => m.name).join(", ")}</div>}
          </li>
        ))}
      </ul>
      {order.delivery_address && (
        <p class="deliver-to">
          Deliver to {addressLine(order.delivery_address)} · delivery {money(order.delivery_fee ?? 0, order.currency)}
        </p>
      )}
      <p class="total">
        Total <strong>{money(order.total, order.currency)}</strong>
      </p>
      {due > 0 ? (
        <>
          <p class="due">
            Due <strong data-testid="due">{money(due, order.currency)}</strong>
          </p>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (typed) tender({ method: "cash", tendered: typed });
            }}
          >
            <label for="cash">Cash handed over</label>
            <input
              id="cash"
              ref={amount}
              inputMode="decimal"
              value={cash}
              onInput={(e) => setCash((e.target as HTMLInputElement).value)}
            />
            <div class="quick" role="group" aria-label="Quick cash amounts">
              {quickAmounts(due).map((v) => (
                <button type="button" key={v} onClick={() => tender({ method: "cash", tendered: v })}>
                  {money(v, order.currency)}
                </button>
              ))}
            </div>
            <button type="submit" class="primary big" disabled={!typed || busy}>
              Take cash
            </button>
          </form>
          <button
            class="big"
            disabled={busy}
            onClick={() => tender({ method: "card", amount: card, reference: `terminal-${Date.now()}` })}
          >
            Card {money(card, order.currency)} (terminal)
          </button>
        </>
      ) : (
        <div class="paid" role="status">
          <p>
            Paid. Change due <strong data-testid="change">{money(changeGiven(order), order.currency)}</strong>
          </p>
          <button class="primary big" onClick={onDone}>
            New order
          </button>
        </div>
      )}
    </section>
  );
}
