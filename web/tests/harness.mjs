// What the browser tests share: paths from the environment, free ports, waiting on a condition
// with a deadline, starting a service binary, Debian's Chromium, axe-core and screenshots.

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
export const web = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const root = resolve(web, "..");

/// A path from the environment, relative to where the command was started (npm --prefix runs
/// the scripts from web/).
export function given(name) {
  const v = process.env[name];
  return v && resolve(process.env.INIT_CWD ?? process.cwd(), v);
}

/// A built service binary: `$env` if set, else `name` in the debug build of the Cargo target
/// directory (CARGO_TARGET_DIR, default target/).
export function binary(env, name) {
  return given(env) ?? join(given("CARGO_TARGET_DIR") ?? join(root, "target"), "debug", name);
}

export const shots = given("PATTY_SCREENSHOTS") ?? join(web, "screenshots");
mkdirSync(shots, { recursive: true });

export function check(ok, what) {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok: ${what}`);
}

export async function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/// `probe()` until it returns something truthy; fails after `secs` seconds.
export async function until(what, secs, probe) {
  const deadline = Date.now() + secs * 1000;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/// Starts `bin` on a free loopback port with a data directory of its own; resolves once its
/// /healthz answers. `stop()` kills it and removes the directory.
export async function service(bin, env) {
  const data = mkdtempSync(join(tmpdir(), "patty-web-e2e-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ["--listen", `127.0.0.1:${port}`, "--data-dir", data], {
    env: { ...process.env, RUST_LOG: "warn", ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const stop = () => {
    child.kill();
    rmSync(data, { recursive: true, force: true });
  };
  try {
    await until(`${bin} on ${base}`, 60, async () => (await fetch(`${base}/healthz`)).ok);
  } catch (e) {
    stop();
    throw e;
  }
  return { base, stop };
}

/// JSON over HTTP with a bearer token; returns [status, body].
export async function call(base, method, path, token, body, headers = {}) {
  const r = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return [r.status, text ? JSON.parse(text) : null];
}

/// Debian's Chromium, headless, with nothing reaching for the network.
export async function browser() {
  return chromium.launch({
    executablePath: given("PATTY_CHROMIUM") ?? "/usr/bin/chromium",
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
}

/// No serious or critical axe-core violation on the page as it is.
export async function accessible(page, screen) {
  await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const result = await page.evaluate(() => globalThis.axe.run());
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(bad.length === 0, `no serious accessibility violation on ${screen}: ${bad.map((v) => v.id).join(", ")}`);
}

export function screenshot(page, name) {
  return page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/// Runs `body(page)` in a fresh browser page; on failure saves what the page showed as
/// `<name>-failure.png`.
export async function inBrowser(name, body) {
  const b = await browser();
  const page = await b.newPage({ viewport: { width: 1280, height: 800 } });
  try {
    await body(page);
  } catch (e) {
    await screenshot(page, `${name}-failure`).catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
}
