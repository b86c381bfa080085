// Calls to a Patty Palace service: JSON in and out, the bearer token, and the services' error
// body ({ code, message }) turned into an ApiError the screens can show. A client is a value: a
// new token is a new client (`withToken`), handed to the components by `ApiProvider`.

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
  /// Where the service is ("" for the origin that served the page).
  readonly base: string;
  readonly token: string | null;
  call<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  /// The same service, with another token (null: none).
  withToken(token: string | null): Api;
}

export function api(token: string | null = null, base = ""): Api {
  return {
    base,
    token,
    withToken: (t) => api(t, base),
    async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
      const h: Record<string, string> = { ...headers };
      if (token) h.authorization = `Bearer ${token}`;
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
}

/// A fresh idempotency key: one per action, kept for its retries, so a double tap or a retry after
/// a lost answer is the same action.
export function idempotencyKey(): string {
  return crypto.randomUUID();
}
