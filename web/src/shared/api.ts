// Calls to a Patty Palace service: JSON in and out, the bearer token, and the services' error
// body ({ code, message }) turned into an ApiError the screens can show.

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Api {
  token: string | null;
  call<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
}

export function api(base = ""): Api {
  const self: Api = {
    token: null,
    async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
      const h: Record<string, string> = { ...headers };
      if (self.token) h.authorization = `Bearer ${self.token}`;
      if (body !== undefined) h["content-type"] = "application/json";
      let r: Response;
      try {
        r = await fetch(base + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
      } catch {
        throw new ApiError(0, "unreachable", "The server does not answer. Check the outlet's network.");
      }
      const text = await r.text();
      const json = text ? JSON.parse(text) : null;
      if (!r.ok) throw new ApiError(r.status, json?.code ?? "error", json?.message ?? r.statusText);
      return json as T;
    },
  };
  return self;
}

/// A fresh idempotency key: one per action, kept for its retries, so a double tap or a retry after
/// a lost answer is the same action.
export function idempotencyKey(): string {
  return crypto.randomUUID();
}

/// Follows a Server-Sent Events stream of `path` with the API's token (EventSource cannot send
/// one), calling `onEvent` for each event; reconnects after a drop. Returns a function that stops.
export function follow(a: Api, path: string, onEvent: (name: string, data: unknown) => void): () => void {
  const stop = new AbortController();
  (async () => {
    while (!stop.signal.aborted) {
      try {
        const r = await fetch(path, { headers: { authorization: `Bearer ${a.token}` }, signal: stop.signal });
        if (!r.ok || !r.body) throw new Error(String(r.status));
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end: number;
          while ((end = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let name = "message";
            let data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("event:")) name = line.slice(6).trim();
              else if (line.startsWith("data:")) data += line.slice(5).trim();
            }
            if (data) onEvent(name, JSON.parse(data));
          }
        }
      } catch {
        // Dropped or refused: try again shortly.
      }
      if (!stop.signal.aborted) await new Promise((r) => setTimeout(r, 2000));
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
