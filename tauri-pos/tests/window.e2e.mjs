// The desktop POS in a real window: the patty-pos binary (Tauri 2, WebKitGTK) under Xvfb, driven
// through tauri-driver and WebKitWebDriver by selenium-webdriver, against a real edge on a free
// loopback port serving the built POS. A cashier signs in and places and pays one order; the
// edge holds it, paid. Run it under `xvfb-run -a`.
//
// Needs: PATTY_POS_BIN (the built app), PATTY_EDGE_BIN (default target/debug/patty-edge),
// TAURI_DRIVER (default tauri-driver on the PATH), the built POS in web/dist/pos.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Builder, By, Key, until } from "selenium-webdriver";

const here = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const root = resolve(here, "..");
const app = given("PATTY_POS_BIN") ?? join(here, "src-tauri/target/debug/patty-pos");
const edgeBin = given("PATTY_EDGE_BIN") ?? join(root, "target/debug/patty-edge");
const shots = given("PATTY_SCREENSHOTS") ?? join(root, "web/screenshots");
mkdirSync(shots, { recursive: true });

// A path from the environment, relative to where the command was started (npm --prefix runs
// this script from its own folder).
function given(name) {
  const v = process.env[name];
  return v && resolve(process.env.INIT_CWD ?? process.cwd(), v);
}

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

async function waitFor(what, secs, probe) {
  const deadline = Date.now() + secs * 1000;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const data = mkdtempSync(join(tmpdir(), "patty-pos-window-"));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const edge = spawn(edgeBin, ["--listen", `127.0.0.1:${port}`, "--data-dir", data], {
  env: { ...process.env, PATTY_POS__DIR: join(root, "web/dist/pos"), RUST_LOG: "warn" },
  stdio: ["ignore", "ignore", "inherit"],
});
const [driverPort, nativePort] = [await freePort(), await freePort()];
const driver = spawn(
  process.env.TAURI_DRIVER ?? "tauri-driver",
  ["--port", String(driverPort), "--native-port", String(nativePort)],
  { env: { ...process.env, PATTY_POS_EDGE: base }, stdio: ["ignore", "ignore", "inherit"] },
);
let session;
try {
  await waitFor("the edge", 30, async () => (await fetch(`${base}/healthz`)).ok);
  await waitFor("tauri-driver", 30, async () => (await fetch(`http://127.0.0.1:${driverPort}/status`)).ok);
  session = await new Builder()
    .usingServer(`http://127.0.0.1:${driverPort}/`)
    .withCapabilities({ browserName: "wry", "tauri:options": { application: app } })
    .build();
  // The window opens on the edge's POS.
  const pin = await session.wait(until.elementLocated(By.id("pin")), 60_000);
  await session.wait(until.elementIsVisible(pin), 10_000);
  check((await session.getCurrentUrl()).startsWith(`${base}/pos/`), "the window shows the edge's POS");
  await pin.sendKeys("1111", Key.ENTER);
  await session.wait(until.elementLocated(By.xpath("//*[contains(text(), 'Carl Cashier')]")), 20_000);
  check(true, "signed in with the keyboard");
  const find = (xpath) => session.wait(until.elementLocated(By.xpath(xpath)), 20_000);
  await (await find("//button[.//span[text()='Classic Patty']]")).click();
  const cheese = await session.wait(
    until.elementLocated(By.xpath("//dialog//label[contains(., 'Extra cheese')]/input")),
    10_000,
  );
  await cheese.click();
  await (await find("//dialog//button[starts-with(normalize-space(.), 'Add')]")).click();
  await find("//section[@aria-label='Cart']//span[contains(normalize-space(.), '1 × Classic Patty')]");
  await (await find("//button[starts-with(normalize-space(.), 'Charge') and not(@disabled)]")).click();
  const cash = await session.wait(until.elementLocated(By.id("cash")), 10_000);
  await cash.sendKeys("10", Key.ENTER);
  const change = await session.wait(until.elementLocated(By.css("[data-testid=change]")), 10_000);
  check((await change.getText()) === "€1.30", `change due €1.30 on €8.70 (${await change.getText()})`);
  const png = await session.takeScreenshot();
  const { writeFileSync } = await import("node:fs");
  writeFileSync(join(shots, "pos-desktop-window.png"), Buffer.from(png, "base64"));

  // The edge holds the order, paid.
  const token = (await (await fetch(`${base}/api/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pin: "1234" }),
  })).json()).token;
  const orders = await (await fetch(`${base}/api/v1/orders`, { headers: { authorization: `Bearer ${token}` } })).json();
  check(orders.length === 1 && orders[0].paid === 870 && orders[0].total === 870, "the edge holds one order, paid");
  console.log("pos desktop e2e: all passed");
} finally {
  await session?.quit().catch(() => {});
  driver.kill();
  edge.kill();
  rmSync(data, { recursive: true, force: true });
}
