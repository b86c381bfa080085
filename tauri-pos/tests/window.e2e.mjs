// The desktop POS in a real window: the patty-pos binary (Tauri 2, WebKitGTK) under Xvfb, driven
// through tauri-driver and WebKitWebDriver by selenium-webdriver, against a real edge on a free
// loopback port serving the built POS. A cashier signs in and places and pays one order; the
// edge holds it, paid. Run it under `xvfb-run -a`.
//
// Needs: PATTY_POS_BIN (the built app), PATTY_EDGE_BIN (default patty-edge in $CARGO_TARGET_DIR/debug, target/debug),
// TAURI_DRIVER (default tauri-driver on the PATH), the built POS in web/dist/pos.

import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Builder, By, Key, until } from "selenium-webdriver";
import { binary, call, check, freePort, given, root, service, shots, until as eventually } from "../../web/tests/harness.mjs";

const app = given("PATTY_POS_BIN") ?? join(root, "tauri-pos/src-tauri/target/debug/patty-pos");
const edgeBin = binary("PATTY_EDGE_BIN", "patty-edge");
const edge = await service(edgeBin, { PATTY_POS__DIR: join(root, "web/dist/pos") });
const base = edge.base;
const [driverPort, nativePort] = [await freePort(), await freePort()];
const driver = spawn(
  process.env.TAURI_DRIVER ?? "tauri-driver",
  ["--port", String(driverPort), "--native-port", String(nativePort)],
  { env: { ...process.env, PATTY_POS_EDGE: base }, stdio: ["ignore", "ignore", "inherit"] },
);
let session;
try {
  await eventually("tauri-driver", 30, async () => (await fetch(`http://127.0.0.1:${driverPort}/status`)).ok);
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
  // Clicks once the element is shown and enabled (a dialog opens after its first render).
  const press = async (xpath) => {
    const el = await find(xpath);
    await session.wait(until.elementIsVisible(el), 10_000);
    await session.wait(until.elementIsEnabled(el), 10_000);
    await el.click();
  };
  await press("//button[.//span[text()='Classic Patty']]");
  await press("//dialog//label[contains(., 'Extra cheese')]/input");
  await press("//dialog//button[starts-with(normalize-space(.), 'Add')]");
  await find("//section[@aria-label='Cart']//span[contains(normalize-space(.), '1 × Classic Patty')]");
  await press("//button[starts-with(normalize-space(.), 'Charge')]");
  const cash = await session.wait(until.elementLocated(By.id("cash")), 10_000);
  await cash.sendKeys("10", Key.ENTER);
  const change = await session.wait(until.elementLocated(By.css("[data-testid=change]")), 10_000);
  check((await change.getText()) === "€1.30", `change due €1.30 on €8.70 (${await change.getText()})`);
  const png = await session.takeScreenshot();
  writeFileSync(join(shots, "pos-desktop-window.png"), Buffer.from(png, "base64"));

  // The edge holds the order, paid.
  const token = (await call(base, "POST", "/api/v1/sessions", null, { pin: "1234" }))[1].token;
  const orders = (await call(base, "GET", "/api/v1/orders", token))[1];
  check(orders.length === 1 && orders[0].paid === 870 && orders[0].total === 870, "the edge holds one order, paid");
  console.log("pos desktop e2e: all passed");
} finally {
  await session?.quit().catch(() => {});
  driver.kill();
  edge.stop();
}
