import { afterEach, describe, expect, it, vi } from "vitest";
import { api } from "./client";
import { eventData, follow, reloadOnEvents } from "./stream";

/// A fetch that answers each call with the next of `streams` (its chunks, then the end), and
/// then with a stream that never ends; it records each request's URL and headers.
function fakeFetch(streams: string[][]) {
  const calls: { url: string; headers: Record<string, string> }[] = [];
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    calls.push({ url, headers: { ...(init.headers as Record<string, string>) } });
    const chunks = streams.shift();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        // As a real fetch's body, it fails when the request is aborted.
        init.signal?.addEventListener("abort", () => c.error(new DOMException("aborted", "AbortError")));
        if (!chunks) return; // open, silent
        for (const chunk of chunks) c.enqueue(new TextEncoder().encode(chunk));
        c.close();
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  vi.stubGlobal("fetch", fetch);
  return calls;
}

/// Follows with a fake server; resolves with the events once `count` have come.
async function events(streams: string[][], count: number, token: string | null = "t0k") {
  const calls = fakeFetch(streams);
  const seen: [string, unknown][] = [];
  const stop = follow(api(token, "http://edge"), "/stream", (name, data) => seen.push([name, data]), { retryMs: 1 });
  await vi.waitFor(() => expect(seen.length).toBeGreaterThanOrEqual(count));
  stop();
  return { seen, calls };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("eventData", () => {
  it("is the JSON, or the text when it is not JSON", () => {
    expect(eventData('{"a":1}')).toEqual({ a: 1 });
    expect(eventData("3")).toBe(3);
    expect(eventData("lagged behind")).toBe("lagged behind");
  });
});

describe("follow", () => {
  it("reads named and unnamed events, with the token", async () => {
    const { seen, calls } = await events([['event: order_placed\ndata: {"id":"o1"}\n\ndata: {"n":2}\n\n']], 2);
    expect(seen).toEqual([
      ["order_placed", { id: "o1" }],
      ["message", { n: 2 }],
    ]);
    expect(calls[0].url).toBe("http://edge/stream");
    expect(calls[0].headers.authorization).toBe("Bearer t0k");
    expect(calls[0].headers["last-event-id"]).toBeUndefined();
  });
  it("takes CRLF and CR line ends", async () => {
    const { seen } = await events([['event: a\r\ndata: {"x":1}\r\n\r\nevent: b\rdata: 2\r\rdata: 3\n\n']], 3);
    expect(seen).toEqual([
      ["a", { x: 1 }],
      ["b", 2],
      ["message", 3],
    ]);
  });
  it("joins multi-line data with newlines", async () => {
    const { seen } = await events([['data: {"lines":\ndata:  ["one",\ndata: "two"]}\n\ndata: first\ndata: second\n\n']], 2);
    expect(seen).toEqual([
      ["message", { lines: ["one", "two"] }],
      ["message", "first\nsecond"],
    ]);
  });
  it("joins an event split anywhere across chunks, and skips comments and empty events", async () => {
    const { seen } = await events([[": keep-alive\n\nev", "ent: pos", 'ition\ndata: {"lat":', "52}\r", "\n\r\n", "event: empty\n\n", "data: 1\n\n"]], 2);
    expect(seen).toEqual([
      ["position", { lat: 52 }],
      ["message", 1],
    ]);
  });
  it("reconnects after a drop, sending the last id seen as Last-Event-ID", async () => {
    const { seen, calls } = await events(
      [
        ["id: 7\nevent: placed\ndata: {}\n\nid: 8\nevent: paid\ndata: {}\n\n"],
        ['event: ready\ndata: {"half":'], // dropped half-way through an event
        ["id: 9\nevent: ready\ndata: {}\n\n"],
      ],
      3,
    );
    expect(seen.map(([name]) => name)).toEqual(["placed", "paid", "ready"]);
    expect(calls.map((c) => c.headers["last-event-id"])).toEqual([undefined, "8", "8", "9"].slice(0, calls.length));
    expect(calls.length).toBeGreaterThanOrEqual(3);
  });
  it("keeps no id when the stream sends none, and sends no token it does not have", async () => {
    const { calls } = await events([["event: a\ndata: 1\n\n"], ["event: b\ndata: 2\n\n"]], 2, null);
    expect(calls[1].headers["last-event-id"]).toBeUndefined();
    expect(calls[0].headers.authorization).toBeUndefined();
  });
  it("reconnects after a refusal", async () => {
    let n = 0;
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => (n++ === 0 ? new Response("no", { status: 503 }) : new Response("data: 1\n\n"))),
    );
    const seen: unknown[] = [];
    const stop = follow(api(), "/s", (_, d) => seen.push(d), { retryMs: 1 });
    await vi.waitFor(() => expect(seen.length).toBeGreaterThan(0));
    stop();
    expect(seen[0]).toBe(1);
  });
  it("stops when asked", async () => {
    const calls = fakeFetch([]);
    const stop = follow(api(), "/s", () => {}, { retryMs: 1 });
    await vi.waitFor(() => expect(calls.length).toBe(1));
    await new Promise((r) => setTimeout(r, 20));
    stop();
    await new Promise((r) => setTimeout(r, 20));
    expect(calls.length).toBe(1);
  });
});

describe("reloadOnEvents", () => {
  it("loads now, and once after a burst of events", async () => {
    fakeFetch([["data: 1\n\ndata: 2\n\ndata: 3\n\n"]]);
    const load = vi.fn();
    const names: unknown[] = [];
    const stop = reloadOnEvents(api(), "/s", load, (_, d) => names.push(d));
    expect(load).toHaveBeenCalledTimes(1);
    await vi.waitFor(() => expect(load).toHaveBeenCalledTimes(2));
    expect(names).toEqual([1, 2, 3]);
    await new Promise((r) => setTimeout(r, 150));
    expect(load).toHaveBeenCalledTimes(2);
    stop();
  });
});
