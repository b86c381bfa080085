// The HQ dashboard in a real browser against a real cloud: Debian's Chromium driven by
// playwright-core, the cloud binary on a free loopback port (SQLite, its embedded MQTT broker),
// serving the built dashboard at /, and an edge linked to it. HQ signs in (a wrong password is
// refused) and sees the outlet overview (the link online, the day's orders, low stock). It sets a
// price for one outlet and publishes it: the outlet's published menu has it and the chain's price
// is unchanged, while a price that is not a number writes nothing. On the chain's menu it changes
// a modifier's price and adds an item (an item without a name writes nothing). It sees a driver
// and a delivery under way on the fleet map (the driver's position from an OwnTracks message on
// the broker), with tiles from a configured server only when asked for, searches orders, opens one with its event history, and reads the stock alerts and today's
// sales charts, and a dead letter among the notifications, which it sends again. An outlet
// manager sees only their outlet and no catalog. axe-core finds no
// serious or critical violation on any view; screenshots go to web/screenshots/.
//
// Needs: the cloud and edge binaries (PATTY_CLOUD_BIN, PATTY_EDGE_BIN; default $CARGO_TARGET_DIR/debug/, target/debug/),
// the built dashboard (npm run build), Chromium, and mosquitto_pub (Debian's mosquitto-clients).

import { execFileSync } from "node:child_process";
import http from "node:http";
import { join } from "node:path";
import { accessible, binary, call, check, inBrowser, root, screenshot, service, until, web } from "./harness.mjs";

const ADMIN = { email: "hq@pattypalace.example", password: "correct horse battery" };
const cloudBin = binary("PATTY_CLOUD_BIN", "patty-cloud");
// A tile server of the test's own (no real one is reachable): a 256-pixel PNG for every tile.
const tileRequests = [];
const tilePng = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/PchI7wAAAABJRU5ErkJggg==",
  "base64",
);
const tileServer = http.createServer((req, res) => {
  tileRequests.push(req.url);
  res.writeHead(200, { "content-type": "image/png" });
  res.end(tilePng);
});
await new Promise((r) => tileServer.listen(0, "127.0.0.1", r));
// An SMTP address where nothing listens: every email fails, and with one try allowed it is a dead
// letter at once.
const closed = http.createServer();
await new Promise((r) => closed.listen(0, "127.0.0.1", r));
const noSmtp = closed.address().port;
await new Promise((r) => closed.close(r));
const cloud = await service(cloudBin, {
  PATTY_NOTIFY__SMTP_URL: `smtp://127.0.0.1:${noSmtp}`,
  PATTY_NOTIFY__MAX_ATTEMPTS: "1",
  PATTY_HQ__TILES: `http://127.0.0.1:${tileServer.address().port}/{z}/{x}/{y}.png`,
  PATTY_HQ__TILES_ATTRIBUTION: "test tiles",
  PATTY_HQ__DIR: join(web, "dist/hq"),
  PATTY_AUTH__BOOTSTRAP_ADMIN: `${ADMIN.email}:${ADMIN.password}`,
  PATTY_MQTT__EMBEDDED_LISTEN: "127.0.0.1:0",
});
const base = cloud.base;
const stops = [cloud.stop];
const api = async (method, path, token, body, headers) => {
  const [status, json] = await call(base, method, path, token, body, headers);
  if (status >= 300) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(json)}`);
  return json;
};

try {
  // The chain as HQ set it up: one outlet, the sample menu published, a manager, a driver whose
  // OwnTracks app reports a position, a customer's order.
  const hq = (await api("POST", "/api/v1/auth/login", null, ADMIN)).access_token;
  const outlet = crypto.randomUUID();
  await api("POST", "/api/v1/outlets", hq, {
    id: outlet,
    name: "Damrak",
    position: { lat: 52.374, lon: 4.893 },
    delivery_zone: [[4.86, 52.35], [4.93, 52.35], [4.93, 52.39], [4.86, 52.39], [4.86, 52.35]],
    opening_hours: [1, 2, 3, 4, 5, 6, 7].map((day) => ({ day, open_minute: 0, close_minute: 1440 })),
    timezone: "Europe/Amsterdam",
    status: "active",
    currency: "EUR",
    tax_rate_bp: 900,
    prices_include_tax: true,
    delivery_fee: 299,
  });
  const seed = JSON.parse((await import("node:fs")).readFileSync(join(root, "outlet-edge/sample/seed.json"), "utf8"));
  await api("PUT", "/api/v1/catalog/draft", hq, { menu: seed.menu });
  await api("POST", "/api/v1/catalog/publish", hq, {});
  const burger = seed.menu.items.find((i) => i.name === "Classic Patty");
  await api("POST", "/api/v1/users", hq, {
    email: "mia@example.com",
    password: "manager-pass-1",
    name: "Mia Manager",
    role: "outlet_manager",
    outlet_id: outlet,
  });
  const dee = await api("POST", "/api/v1/users", hq, {
    email: "dee@example.com",
    password: "driver-pass-1",
    name: "Dee",
    role: "driver",
  });
  const key = await api("POST", "/api/v1/api-keys", hq, { kind: "device", subject: dee.id, name: "Dee's phone" });
  const device = key.api_key.id;
  await api("PUT", `/api/v1/fleet/devices/${device}/owntracks`, hq, { user: "dee", device: "phone" });
  const broker = new URL((await api("GET", "/healthz")).mqtt.replace("mqtt://", "http://"));
  const location = { _type: "location", lat: 52.378, lon: 4.9, tst: Math.floor(Date.now() / 1000) - 5, acc: 5, vel: 20, batt: 80 };
  await until("the driver's position", 30, async () => {
    execFileSync("mosquitto_pub", ["-h", "127.0.0.1", "-p", broker.port, "-q", "1", "-t", "owntracks/dee/phone", "-m", JSON.stringify(location)]);
    return (await api("GET", "/api/v1/fleet/positions", hq)).length === 1;
  });
  const ada = (await api("POST", "/api/v1/auth/register", null, { email: "ada@example.com", password: "s3cret-pass", name: "Ada" }))
    .access_token;
  const order = await api(
    "POST",
    "/api/v1/orders",
    ada,
    { outlet_id: outlet, fulfilment: "takeaway", lines: [{ item_id: burger.id, quantity: 2 }] },
    { "idempotency-key": "ada-1" },
  );
  // And a delivery order, ready at the outlet: a delivery under way for the map.
  const home = await api("POST", "/api/v1/me/addresses", ada, {
    label: "home",
    line1: "Prins Hendrikkade 1",
    city: "Amsterdam",
    postcode: "1012",
    position: { lat: 52.38, lon: 4.905 },
  });
  const cheese = seed.menu.items.find((i) => i.name === "Cheese Palace");
  const delivered = await api(
    "POST",
    "/api/v1/orders",
    ada,
    { outlet_id: outlet, fulfilment: "delivery", address_id: home.id, lines: [{ item_id: cheese.id, quantity: 1 }] },
    { "idempotency-key": "ada-2" },
  );
  for (const status of ["accepted", "preparing", "ready"]) {
    await api("POST", `/api/v1/outlets/${outlet}/orders/${delivered.id}/status`, hq, { status });
  }
  await until("the delivery", 30, async () => (await api("GET", "/api/v1/deliveries", hq)).length === 1);
  const [refused, why] = await call(base, "GET", "/api/v1/map", ada);
  check(refused === 403 && why.code === "forbidden", `the map's settings are not a customer's: ${refused} ${JSON.stringify(why)}`);
  // The outlet's edge, linked: its stock reaches the cloud, and HQ raises the beef patties'
  // reorder level above what is on hand, so they are low.
  const secret = (await api("POST", "/api/v1/api-keys", hq, { kind: "edge", subject: outlet, name: "edge" })).secret;
  const edge = await service(binary("PATTY_EDGE_BIN", "patty-edge"), {
    PATTY_OUTLET__ID: outlet,
    PATTY_CLOUD__URL: base,
    PATTY_CLOUD__API_KEY: secret,
  });
  stops.push(edge.stop);
  const patties = await until("the outlet's stock in the cloud", 60, async () =>
    (await api("GET", `/api/v1/outlets/${outlet}/stock`, hq)).find((s) => s.name === "Beef patty"),
  );
  await api("PUT", `/api/v1/outlets/${outlet}/stock/${patties.ingredient_id}/reorder-level`, hq, { reorder_level: 100000 });
  await until("the new reorder level back from the outlet", 60, async () =>
    (await api("GET", `/api/v1/outlets/${outlet}/stock`, hq)).some((s) => s.name === "Beef patty" && s.reorder_level === 100000),
  );

  await inBrowser("hq", async (page) => {
    const view = async (label, name) => {
      await page.getByRole("navigation", { name: "Views" }).getByRole("button", { name: label }).click();
      await page.getByRole("heading", { name: label, level: 2 }).waitFor();
      await accessible(page, label);
      await screenshot(page, `hq-${name}`);
    };
    const signIn = async (email, password) => {
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill(password);
      await page.getByLabel("Password").press("Enter");
    };

    await page.goto(`${base}/`);
    await page.getByLabel("Email").waitFor();
    await accessible(page, "sign-in");
    await screenshot(page, "hq-sign-in");
    await signIn(ADMIN.email, "not the password");
    await page.getByRole("alert").filter({ hasText: "Wrong email or password" }).waitFor();
    check(true, "a wrong password is refused with a message");
    await signIn(ADMIN.email, ADMIN.password);
    await page.getByText("HQ administrator").waitFor();

    // The outlets overview.
    await page.getByTestId("orders-Damrak").waitFor();
    await accessible(page, "Outlets");
    await screenshot(page, "hq-outlets");
    check((await page.getByTestId("orders-Damrak").textContent()) === "2", "Damrak has today's two orders");
    const damrak = await page.getByRole("row").filter({ hasText: "Damrak" }).textContent();
    check(damrak.includes("online") && damrak.includes("Beef patty"), `its link online, its beef patties low: ${damrak}`);

    // A price for one outlet, published.
    await view("Catalog", "catalog");
    await page.getByLabel("Prices for").selectOption({ label: "Damrak" });
    const price = page.getByLabel("Price of Classic Patty");
    await price.fill("eight");
    await page.getByRole("button", { name: "Save draft" }).click();
    await page.getByRole("alert").filter({ hasText: "is not a price" }).waitFor();
    check((await api("GET", "/api/v1/catalog/versions", hq)).length === 1, "a price that is not a number writes nothing");
    await price.fill("8.50");
    await page.getByRole("button", { name: "Publish" }).click();
    await page.getByText("Published version 2.").waitFor();
    const menu = await api("GET", `/api/v1/outlets/${outlet}/menu`, hq);
    check(menu.items.find((i) => i.name === "Classic Patty").price === 850, "Damrak's published menu has the new price");
    const draft = await api("GET", "/api/v1/catalog/draft", hq);
    check(draft.menu.items.find((i) => i.name === "Classic Patty").price === 790, "the chain's price is unchanged");

    // The chain's menu: an item without a name writes nothing; a modifier's price and a new item
    // are published.
    await page.getByLabel("Prices for").selectOption({ label: "The whole chain" });
    await page.getByLabel("Name of Cheese Palace").fill("  ");
    await page.getByRole("button", { name: "Save draft" }).click();
    await page.getByRole("alert").filter({ hasText: "needs a name" }).waitFor();
    check((await api("GET", "/api/v1/catalog/versions", hq)).length === 2, "an item without a name writes nothing");
    await page.getByLabel("Name of Cheese Palace").fill("Cheese Palace");
    await page.getByLabel("Price of Extra cheese on Classic Patty").fill("1.00");
    await page.getByLabel("Name", { exact: true }).fill("Truffle Crown");
    await page.getByLabel("Price", { exact: true }).fill("12.50");
    await page.getByRole("button", { name: "Publish" }).click();
    await page.getByText("Published version 3.").waitFor();
    const v3 = await api("GET", `/api/v1/outlets/${outlet}/menu`, hq);
    const classic = v3.items.find((i) => i.name === "Classic Patty");
    const extra = classic.modifier_groups.flatMap((g) => g.modifiers).find((m) => m.name === "Extra cheese");
    check(extra.price_delta === 100, "the modifier's new price is published");
    check(v3.items.find((i) => i.name === "Truffle Crown")?.price === 1250, "the new item is on the outlet's menu");
    check(classic.price === 850, "the outlet's own price stands");

    // The fleet map: the outlet, its zone and the driver, from the cloud's own data.
    await view("Fleet map", "fleet-map");
    await page.getByTestId("driver-marker").first().waitFor();
    check((await page.getByTestId("driver-marker").count()) === 1, "the driver is on the map");
    check((await page.getByTestId("outlet-marker").count()) === 1, "the outlet is on the map");
    await page.getByTestId("pickup-zone").waitFor({ state: "attached" });
    check(true, "with its pickup zone");
    check((await page.getByTestId("delivery-route").count()) === 1, "the delivery under way is on the map");
    check((await page.getByTestId("tile").count()) === 0 && tileRequests.length === 0, "no tiles until asked for");
    await page.getByLabel("Show map tiles").check();
    await page.getByTestId("tile").first().waitFor({ state: "attached" });
    await until("the tiles fetched", 10, async () => tileRequests.length > 0);
    check(/^\/1[0-9]\/\d+\/\d+\.png$/.test(tileRequests[0]), `tiles at city zoom from the configured server: ${tileRequests[0]}`);
    await page.getByText("Map tiles: test tiles").waitFor();
    await page.getByLabel("Show map tiles").uncheck();

    // An order and its lines.
    await view("Orders", "orders");
    await page.getByLabel("Number or text").fill("cheese palace");
    await until("the search", 10, async () => (await page.locator("tbody tr").count()) === 1);
    check((await page.locator("tbody tr").textContent()).includes("delivery"), "searching by item finds the delivery order");
    await page.getByLabel("Number or text").fill("");
    await page.getByLabel("Status").selectOption("placed");
    const rows = page.locator("tbody tr");
    const placedOnly = await until("the filter", 10, async () =>
      (await rows.count()) === 1 && (await rows.textContent()).includes("takeaway") ? true : undefined,
    );
    check(placedOnly, "filtering by status finds the placed order");
    await page.getByLabel("Status").selectOption("");
    // By day, at the cloud: a day with no orders shows none, today shows them again.
    await page.getByLabel("Day").fill("2020-01-01");
    await page.getByText("No orders.").waitFor();
    const today = new Date();
    const iso = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, "0")}-${String(today.getDate()).padStart(2, "0")}`;
    await page.getByLabel("Day").fill(iso);
    await until("today's orders", 10, async () => (await page.locator("tbody tr").count()) >= 2);
    check(true, "searching by day finds nothing on a day without orders, and today's orders today");
    await page.getByRole("row").filter({ hasText: "online / takeaway" }).getByRole("button").click();
    const detail = page.getByLabel(`Order ${order.number} detail`);
    await detail.waitFor();
    check((await detail.textContent()).includes("2 × Classic Patty"), "the order's detail shows its lines");
    await page.getByRole("list", { name: "Order history" }).getByText("order.placed").waitFor();
    check(true, "and its history, from the order's event stream");

    // Stock at or below its reorder level, across outlets.
    await view("Stock alerts", "stock-alerts");
    await page.getByRole("row").filter({ hasText: "Beef patty" }).waitFor();
    check(true, "the beef patties are on the stock alerts");

    // Today's sales, by outlet, item and hour.
    await view("Sales", "sales");
    const byItem = page.getByRole("img", { name: /By item/ });
    await byItem.waitFor();
    check((await byItem.getAttribute("aria-label")).includes("Classic Patty €15.80"), "the item chart has 2 × €7.90");

    // Ada's verification email could not reach the mail server: a dead letter HQ sees, with its
    // reason, and sends again.
    await view("Notifications", "notifications");
    const dead = page.getByRole("row").filter({ hasText: "security.email_verification" }).filter({ hasText: "ada@example.com" });
    await dead.waitFor();
    const why = await dead.textContent();
    check(why.includes("failed") && why.includes("SMTP"), `the dead letter says why: ${why}`);
    await dead.getByRole("button", { name: "Send again: security.email_verification to ada@example.com" }).click();
    await page.getByRole("status").filter({ hasText: "sent again" }).waitFor();
    check(true, "HQ sends a dead letter again");

    // An outlet manager sees their outlet, and no catalog.
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn("mia@example.com", "manager-pass-1");
    await page.getByText("Mia Manager").waitFor();
    await page.getByTestId("orders-Damrak").waitFor();
    const nav = page.getByRole("navigation", { name: "Views" });
    check((await nav.getByRole("button", { name: "Catalog" }).count()) === 0, "a manager has no catalog editor");
    check((await page.locator("tbody tr").count()) === 1, "a manager sees one outlet, theirs");
  });
  console.log("hq e2e: all passed");
} finally {
  for (const stop of stops.reverse()) stop();
  tileServer.close();
}
