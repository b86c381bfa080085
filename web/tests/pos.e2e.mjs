// The POS in a real browser against a real edge: Debian's Chromium driven by playwright-core,
// the edge binary on a free loopback port with its own data directory, serving the built POS at
// /pos/. A cashier signs in with the keyboard, builds an order with a modifier and a size (by
// click, and by type-to-search with a number key for the quantity), charges it with a double tap
// (one order, not two), takes cash with change; a second order is paid part by card, part in
// cash; the kitchen sees both, bumps one (the edge says it is ready), recalls it, bumps both. axe-core finds no serious or critical accessibility violation on any screen.
// Then the manager's screens: the order queue (a refund at the till), stock (a bad quantity refused, a delivery received,
// a count that leaves an ingredient low, another terminal locked after five wrong PINs),
// a sold-out mark that stops the item being added, the day's report and the conflicts list. Last,
// an edge whose cloud does not answer: the header says so, an order is still taken, and so is a
// phone order for delivery (its address and map position checked before it is sent), whose
// driver and code the queue says must wait for the cloud.
// Screenshots of each screen go to web/screenshots/ (PATTY_SCREENSHOTS elsewhere).
//
// Needs: the edge binary (PATTY_EDGE_BIN, default patty-edge in $CARGO_TARGET_DIR/debug, target/debug), the built POS
// (npm run build), Chromium (PATTY_CHROMIUM, default /usr/bin/chromium).

import { request } from "node:http";
import { join } from "node:path";
import { accessible, binary, call, check, freePort, inBrowser, screenshot, service, until, web } from "./harness.mjs";

const edgeBin = binary("PATTY_EDGE_BIN", "patty-edge");
/// A PIN sign-in from another terminal (`from`, a loopback address of its own); its status.
function signInFrom(from, base, pin) {
  const body = JSON.stringify({ pin });
  return new Promise((resolve, reject) => {
    const req = request(
      `${base}/api/v1/sessions`,
      { method: "POST", localAddress: from, headers: { "content-type": "application/json", "content-length": body.length } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const edge = await service(edgeBin, { PATTY_POS__DIR: join(web, "dist/pos") });
const base = edge.base;
const api = async (method, path, token, body) => (await call(base, method, path, token, body))[1];
try {
  const manager = (await api("POST", "/api/v1/sessions", null, { pin: "1234" })).token;
  await inBrowser("pos", async (page) => {
    const axe = (screen) => accessible(page, screen);
    const shot = (name) => screenshot(page, `pos-${name}`);
    // The sign-in screen takes the keyboard at once: the PIN field has the focus.
    const signIn = async (pin) => {
      await page.waitForFunction(() => document.activeElement?.id === "pin");
      await page.keyboard.type(pin);
      await page.keyboard.press("Enter");
    };

    // Sign in with the keyboard alone.
    await page.goto(`${base}/pos/`);
    await page.getByLabel("Staff PIN").waitFor();
    await axe("sign-in");
    await shot("sign-in");
    await signIn("9999");
    await page.getByRole("alert").filter({ hasText: "not known" }).waitFor();
    check(true, "a wrong PIN is refused with a message");
    await signIn("1111");
    await page.getByText("Carl Cashier").waitFor();
    await page.getByRole("status").filter({ hasText: "Cloud link: off" }).waitFor();
    check(true, "signed in; the header says the cloud link is off and selling goes on");

    // A burger with extra cheese, by touch.
    await page.getByRole("button", { name: /Classic Patty/ }).click();
    const dialog = page.getByRole("dialog", { name: "Classic Patty" });
    await dialog.getByLabel(/Extra cheese/).check();
    // Two fries by keyboard: the number key sets the quantity, typing searches, Enter adds the
    // first match and opens its sizes, Enter again takes the default size. A quick cashier's
    // number key lands the moment the dialog closes, after the page has drawn the cart but before
    // it has finished reacting: it must not be lost.
    await dialog.getByRole("button", { name: /^Add/ }).evaluate(
      (add) =>
        new Promise((done) => {
          add.click();
          setTimeout(() => {
            document.body.dispatchEvent(new KeyboardEvent("keydown", { key: "2", bubbles: true }));
            done();
          }, 0);
        }),
    );
    await page.getByText("1 × Classic Patty").waitFor();
    await page.getByText("Next item ×2").waitFor();
    await page.keyboard.type("fries");
    await page.keyboard.press("Enter");
    await page.getByRole("dialog", { name: "Fries" }).waitFor();
    await page.keyboard.press("Enter");
    await page.getByText("2 × Fries (Regular)").waitFor();
    const total = await page.getByTestId("cart-total").textContent();
    check(total === "€14.50", `the cart totals 8.70 + 2 × 2.90 = €14.50 (${total})`);
    await axe("order entry");
    await shot("order-entry");
    await page.setViewportSize({ width: 1920, height: 1080 });
    await shot("order-entry-24in");
    await page.setViewportSize({ width: 1280, height: 800 });

    // A double tap on Charge is one order.
    await page.getByRole("button", { name: /^Charge/ }).dblclick();
    await page.getByTestId("due").waitFor();
    const list = await api("GET", "/api/v1/orders", manager);
    check(list.length === 1, `one order after a double tap (${list.length})`);
    const id = list[0].id;
    check((await page.getByTestId("due").textContent()) === "€14.50", "due €14.50");
    await axe("tender");
    await shot("tender");
    await page.getByLabel("Cash handed over").fill("20");
    await page.keyboard.press("Enter");
    await page.getByTestId("change").waitFor();
    check((await page.getByTestId("change").textContent()) === "€5.50", "change due €5.50");
    await shot("paid");
    const paid = await api("GET", `/api/v1/orders/${id}`, manager);
    check(paid.paid === 1450 && paid.tenders[0].kind.cash.change === 550, "the edge holds the cash tender and change");
    await page.getByRole("button", { name: "New order" }).click();

    // A split tender: €5.00 on the card terminal, the rest in cash.
    await page.getByRole("button", { name: /Cheese Palace/ }).click();
    await page.getByRole("dialog", { name: "Cheese Palace" }).getByRole("button", { name: /^Add/ }).click();
    await page.getByRole("button", { name: /^Charge/ }).click();
    await page.getByLabel("Cash handed over").fill("5");
    await page.getByRole("button", { name: "Card €5.00 (terminal)" }).click();
    await page.getByTestId("due").filter({ hasText: "€3.90" }).waitFor();
    await page.getByRole("button", { name: "€3.90", exact: true }).click();
    await page.getByTestId("change").waitFor();
    const split = (await api("GET", "/api/v1/orders", manager)).find((o) => o.number === 2);
    check(
      split.paid === 890 && split.tenders[0].kind.card && split.tenders[0].amount === 500 && split.tenders[1].amount === 390,
      "a split tender: €5.00 by card, €3.90 in cash",
    );
    await page.getByRole("button", { name: "New order" }).click();
    await page.getByRole("button", { name: "Sign out" }).click();

    // The kitchen sees both, bumps the first (the edge has it ready), recalls it, bumps both.
    await signIn("2222");
    const ticket = page.getByRole("listitem", { name: "Order 1" });
    await ticket.waitFor();
    await page.getByRole("listitem", { name: "Order 2" }).waitFor();
    check((await ticket.textContent()).includes("Extra cheese"), "the ticket shows the modifier");
    await axe("kitchen");
    await shot("kitchen");
    await ticket.getByRole("button", { name: "Bump #1" }).click();
    await ticket.waitFor({ state: "detached" });
    const ready = await until("the order ready", 10, async () => {
      const o = await api("GET", `/api/v1/orders/${id}`, manager);
      return o.status === "ready" ? o : undefined;
    });
    check(ready.status === "ready", "bumped: the edge has the order ready");
    await page.getByRole("button", { name: "Recall last bumped" }).click();
    await ticket.waitFor();
    check(true, "recalled: the ticket is back on the screen");
    await ticket.getByRole("button", { name: "Bump #1" }).click();
    await page.getByRole("button", { name: "Bump #2" }).click();
    await page.getByText("No orders waiting.").waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();

    // The manager's screens: the order queue, stock, sold-out marks, the day's report, conflicts.
    await signIn("1234");
    await page.getByText("Maya Manager").waitFor();
    const screen = async (label, name) => {
      await page.getByRole("navigation", { name: "Screens" }).getByRole("button", { name: label }).click();
      await page.getByRole("heading", { name: label }).first().waitFor();
      await axe(label);
      await shot(name);
    };
    await screen("Orders", "orders");
    const row = page.getByRole("row").filter({ hasText: "Classic Patty" });
    check((await row.textContent()).includes("ready"), "the order queue shows the order ready");
    // The manager gives €2.00 of the cash order back at the till, with a reason.
    await row.getByRole("button", { name: "Refund order 1" }).click();
    const refund = page.getByRole("form", { name: "Refund order 1" });
    await refund.getByLabel("Amount").fill("2");
    await refund.getByLabel("Reason").fill("cold fries");
    await axe("refund");
    await refund.getByRole("button", { name: "Refund" }).click();
    await refund.getByRole("status").filter({ hasText: "Refunded €2.00" }).waitFor();
    const refunded = await api("GET", `/api/v1/orders/${id}`, manager);
    check(refunded.paid === 1250 && refunded.tenders.at(-1).kind.refund, "refunded at the till: a €2.00 refund tender");

    await screen("Stock", "stock");
    const level = async (name) =>
      (await api("GET", "/api/v1/inventory", manager)).find((l) => l.ingredient.name === name).on_hand;
    const before = await level("Beef patty");
    await page.getByRole("button", { name: "Waste Beef patty" }).click();
    await page.getByRole("alert").filter({ hasText: "Enter a whole number" }).waitFor();
    check((await level("Beef patty")) === before, "no quantity: a clear message and nothing written");
    await page.getByLabel("Quantity of Beef patty").fill("10");
    await page.getByRole("button", { name: "Receive Beef patty" }).click();
    await page.getByText("Beef patty: received 10").waitFor();
    check((await level("Beef patty")) === before + 10, "receiving 10 beef patties raises the level by 10");
    // A count below the reorder level: the level is what was counted, and the screen names it low.
    await page.getByLabel("Quantity of Apple pie").fill("4");
    await page.getByRole("button", { name: "Count Apple pie" }).click();
    await page.getByText("Apple pie: counted 4").waitFor();
    check((await level("Apple pie")) === 4, "a manager's count sets the level");
    await page.getByRole("status").filter({ hasText: /Low: .*Apple pie/ }).waitFor();
    check(true, "and the apple pies are named low");
    // Another terminal guesses PINs: its fifth wrong one locks it, and the manager's screen says so.
    const guesses = [];
    for (let i = 0; i < 5; i++) guesses.push(await signInFrom("127.0.0.2", edge.base, "9876"));
    check(guesses.every((s) => s === 401), "each wrong PIN is refused");
    await page.getByRole("alert").filter({ hasText: "Terminal 127.0.0.2 locked for 30 s after 5 wrong PINs" }).waitFor();
    check(true, "the stock screen shows the locked terminal");

    await screen("Sold out", "sold-out");
    await page.getByRole("button", { name: /On sale\s*:\s*Cheese Palace/ }).click();
    await page.getByRole("button", { name: /Sold out\s*:\s*Cheese Palace/, pressed: true }).waitFor();
    await page.getByRole("navigation", { name: "Screens" }).getByRole("button", { name: "Order entry" }).click();
    const cheese = page.getByRole("button", { name: /Cheese Palace/ });
    await cheese.waitFor();
    check((await cheese.isDisabled()) && (await cheese.textContent()).includes("Sold out"), "a sold-out item cannot be added");

    await page.getByRole("navigation", { name: "Screens" }).getByRole("button", { name: "Day report" }).click();
    await page.getByTestId("report-orders").waitFor();
    await axe("Day report");
    await shot("report");
    check((await page.getByTestId("report-orders").textContent()) === "2", "the day report counts both orders");
    await screen("Conflicts", "conflicts");
    await page.getByText("Nothing to settle.").waitFor();
    check(true, "the conflicts list is empty on an outlet working alone");
  });

  // An edge whose cloud does not answer: the header says the link is down, and selling goes on.
  const closed = await freePort();
  const alone = await service(edgeBin, {
    PATTY_POS__DIR: join(web, "dist/pos"),
    PATTY_CLOUD__URL: `http://127.0.0.1:${closed}`,
    PATTY_CLOUD__API_KEY: "an-outlet-key",
  });
  try {
    await inBrowser("pos-offline", async (page) => {
      await page.goto(`${alone.base}/pos/`);
      await page.waitForFunction(() => document.activeElement?.id === "pin");
      await page.keyboard.type("1111");
      await page.keyboard.press("Enter");
      await page.getByRole("status").filter({ hasText: /Cloud link: offline since .*selling goes on/ }).waitFor();
      check(true, "the header says the cloud link is offline, and since when");
      await page.getByRole("button", { name: /Classic Patty/ }).click();
      await page.getByRole("dialog", { name: "Classic Patty" }).getByRole("button", { name: /^Add/ }).click();
      await page.getByRole("button", { name: /^Charge/ }).click();
      await page.getByTestId("due").waitFor();
      await screenshot(page, "pos-offline");
      await page.getByRole("button", { name: /^Card/ }).click();
      await page.getByRole("button", { name: "New order" }).click();

      // A phone order for delivery: the address with its map pin is required, and checked.
      await page.getByRole("radio", { name: "Delivery" }).check();
      await page.getByRole("button", { name: /Classic Patty/ }).click();
      await page.getByRole("dialog", { name: "Classic Patty" }).getByRole("button", { name: /^Add/ }).click();
      await page.getByRole("button", { name: /^Charge/ }).click();
      await page.getByRole("alert").filter({ hasText: "needs the street, postcode and city" }).waitFor();
      await page.getByLabel("Street and number").fill("Prins Hendrikkade 1");
      await page.getByLabel("Postcode").fill("1012");
      await page.getByLabel("City").fill("Amsterdam");
      await page.getByLabel("Map position (lat, lon)").fill("somewhere near the station");
      await page.getByRole("button", { name: /^Charge/ }).click();
      await page.getByRole("alert").filter({ hasText: "latitude, longitude" }).waitFor();
      await page.getByLabel("Map position (lat, lon)").fill("52.3800, 4.9050");
      await accessible(page, "delivery order entry");
      await screenshot(page, "pos-delivery");
      await page.getByRole("button", { name: /^Charge/ }).click();
      await page.getByText("Deliver to Prins Hendrikkade 1, 1012 Amsterdam").waitFor();
      await page.getByRole("button", { name: /^Card/ }).click();
      await page.getByRole("button", { name: "New order" }).click();
      await page.getByRole("button", { name: "Sign out" }).click();

      // The manager's queue shows where it goes; its code waits for the cloud, and says so.
      await page.waitForFunction(() => document.activeElement?.id === "pin");
      await page.keyboard.type("1234");
      await page.keyboard.press("Enter");
      await page.getByRole("navigation", { name: "Screens" }).getByRole("button", { name: "Orders" }).click();
      await page.getByText("Prins Hendrikkade 1, 1012 Amsterdam").waitFor();
      await page.getByRole("button", { name: "Driver & code for order 2" }).click();
      await page.getByRole("alert").filter({ hasText: "out of reach" }).waitFor();
      await accessible(page, "order queue with a delivery");
    });
    const token = (await call(alone.base, "POST", "/api/v1/sessions", null, { pin: "1234" }))[1].token;
    const orders = (await call(alone.base, "GET", "/api/v1/orders", token))[1];
    check(orders.length === 2, "both orders were taken with the cloud unreachable");
    const phone = orders.find((o) => o.fulfilment === "delivery");
    check(
      phone?.channel === "phone" && phone.delivery_address.position.lat === 52.38 && phone.delivery_address.city === "Amsterdam",
      "the delivery went in as a phone order with its address and map position",
    );
  } finally {
    alone.stop();
  }
  console.log("pos e2e: all passed");
} finally {
  edge.stop();
}
