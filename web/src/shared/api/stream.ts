// Server-Sent Events with the API's token (EventSource cannot send one): fetch, parsed by
// eventsource-parser (CRLF or LF lines, multi-line data, comments, `retry:`), reconnecting after a
// drop with the last event id seen as `Last-Event-ID`.

import { createParser } from "eventsource-parser";
import type { Api } from "./client";

/// An event's data: its JSON, or the text itself when it is not JSON.
export function eventData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/// Follows the stream at `path`, calling `onEvent` with each event's name ("message" when it has
/// none) and data; events without data are skipped. After a drop or a refusal it waits
/// `retryMs` (or what the stream's `retry:` said) and reconnects, sending the last `id:` seen.
/// Returns a function that stops.
export function follow(
  a: Api,
  path: string,
  onEvent: (name: string, data: unknown) => void,
  { retryMs = 2000 }: { retryMs?: number } = {},
): () => void {
  const stop = new AbortController();
  let lastId = "";
  let retry = retryMs;
  const parser = createParser({
    onEvent: (e) => {
      if (e.id !== undefined) lastId = e.id;
      if (e.data) onEvent(e.event ?? "message", eventData(e.data));
    },
    onRetry: (ms) => {
      retry = ms;
    },
  });
  (async () => {
    while (!stop.signal.aborted) {
      try {
        const headers: Record<string, string> = { accept: "text/event-stream" };
        if (a.token) headers.authorization = `Bearer ${a.token}`;
        if (lastId) headers["last-event-id"] = lastId;
        const r = await fetch(a.base + path, { headers, signal: stop.signal });
        if (!r.ok || !r.body) throw new Error(String(r.status));
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
      } catch {
        // Dropped or refused: try again shortly.
      }
      // A half-read event of the dropped connection is not joined to the next one's.
      parser.reset({ consume: false });
      if (!stop.signal.aborted) await new Promise((r) => setTimeout(r, retry));
    }
  })();
  return () => stop.abort();
}

/// Calls `load` now and again after each burst of events on `path` (100 ms after the last), for
/// views that show a list the stream changes; `onEvent` also sees each event as it comes.
/// Returns a function that stops.
export function reloadOnEvents(
  a: Api,
  path: string,
  load: () => void,
  onEvent?: (name: string, data: unknown) => void,
): () => void {
  load();
  let pending: ReturnType<typeof setTimeout> | undefined;
  const stop = follow(a, path, (name, data) => {
    onEvent?.(name, data);
    clearTimeout(pending);
    pending = setTimeout(load, 100);
  });
  return () => {
    stop();
    clearTimeout(pending);
  };
}
