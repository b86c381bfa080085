// The POS in a real browser against a real edge: Debian's Chromium driven by playwright-core,
// the edge binary on a free loopback port with its own data directory, serving the built POS at
// /pos/. A cashier signs in with the keyboard, builds an order with a modifier and a size (by
// click, and by type-to-search with a number key for the quantity), charges it with a double tap
// (one order, not two), takes cash with change; the kitchen sees it and bumps it, and the edge
// says it is ready. axe-core finds no serious or critical accessibility violation on any screen.
// Screenshots of each screen go to web/screenshots/ (PATTY_SCREENSHOTS elsewhere).
//
// Needs: the edge binary (PATTY_EDGE_BIN, default target/debug/patty-edge), the built POS
// (npm run build), Chromium (PATTY_CHROMIUM, default /usr/bin/chromium).

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(web, "..");
const edgeBin = process.env.PATTY_EDGE_BIN ?? join(root, "target/debug/patty-edge");
const shots = process.env.PATTY_SCREENSHOTS ?? join(web, "screenshots");
mkdirSync(shots, { recursive: true });

function check(ok, what) {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

async function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function until(what, secs, probe) {
  const deadline = Date.now() + secs * 1000;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const data = mkdtempSync(join(tmpdir(), "patty-pos-e2e-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const edge = spawn(edgeBin, ["--listen", `127.0.0.1:${port}`, "--data-dir", data], {
  env: { ...process.env, PATTY_POS__DIR: join(web, "dist/pos"), RUST_LOG: "warn" },
  stdio: ["ignore", "ignore", "inherit"],
});
let browser;
try {
  await until("the edge", 30, async () => (await fetch(`${base}/healthz`)).ok);
  const api = async (method, path, token, body) => {
    const r = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body && JSON.stringify(body),
    });
    return r.json();
  };
  const manager = (await (await fetch(`${base}/api/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pin: "1234" }),
  })).json()).token;

  browser = await chromium.launch({
    executablePath: process.env.PATTY_CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const axe = async (screen) => {
    await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
    const result = await page.evaluate(() => globalThis.axe.run());
    const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    check(bad.length === 0, `no serious accessibility violation on ${screen}: ${bad.map((v) => v.id).join(", ")}`);
  };
  const shot = (name) => page.screenshot({ path: join(shots, `pos-${name}.png`), fullPage: true });

  // Sign in with the keyboard alone.
  await page.goto(`${base}/pos/`);
  await page.getByLabel("Staff PIN").waitFor();
  await axe("sign-in");
  await shot("sign-in");
  await page.keyboard.type("9999");
  await page.keyboard.press("Enter");
  await page.getByRole("alert").filter({ hasText: "not known" }).waitFor();
  check(true, "a wrong PIN is refused with a message");
  await page.keyboard.type("1111");
  await page.keyboard.press("Enter");
  await page.getByText("Carl Cashier").waitFor();
  await page.getByRole("status").filter({ hasText: "Cloud link: off" }).waitFor();
  check(true, "signed in; the header says the cloud link is off and selling goes on");

  // A burger with extra cheese, by touch.
  await page.getByRole("button", { name: /Classic Patty/ }).click();
  const dialog = page.getByRole("dialog", { name: "Classic Patty" });
  await dialog.getByLabel(/Extra cheese/).check();
  await dialog.getByRole("button", { name: /^Add/ }).click();
  await page.getByText("1 × Classic Patty").waitFor();
  // Two fries by keyboard: the number key sets the quantity, typing searches, Enter adds the
  // first match and opens its sizes, Enter again takes the default size.
  await page.keyboard.press("2");
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
  const orders = await api("GET", "/api/v1/orders", manager);
  const list = Array.isArray(orders) ? orders : orders.orders ?? orders.items;
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
  await page.getByRole("button", { name: "Sign out" }).click();

  // The kitchen sees it, bumps it, and the edge has it ready.
  await page.getByLabel("Staff PIN").waitFor();
  await page.keyboard.type("2222");
  await page.keyboard.press("Enter");
  const ticket = page.getByRole("listitem", { name: "Order 1" });
  await ticket.waitFor();
  check((await ticket.textContent()).includes("Extra cheese"), "the ticket shows the modifier");
  await axe("kitchen");
  await shot("kitchen");
  await ticket.getByRole("button", { name: "Bump #1" }).click();
  await page.getByText("No orders waiting.").waitFor();
  const ready = await until("the order ready", 10, async () => {
    const o = await api("GET", `/api/v1/orders/${id}`, manager);
    return o.status === "ready" ? o : undefined;
  });
  check(ready.status === "ready", "bumped: the edge has the order ready");
  console.log("pos e2e: all passed");
} finally {
  await browser?.close();
  edge.kill();
  rmSync(data, { recursive: true, force: true });
}
