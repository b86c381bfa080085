// PIN sign-in, by keyboard or the on-screen keypad.

import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../../../shared/api/client";
import { useApi } from "../../../shared/api/context";
import type { SessionOut } from "../../../shared/api/edge";
import { Problem, message } from "../../../shared/ui";

export function SignIn({ onSession }: { onSession: (s: SessionOut) => void }) {
  const edge = useApi();
  const [pin, setPin] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = async (e?: Event) => {
    e?.preventDefault();
    if (busy || !pin) return;
    setBusy(true);
    try {
      onSession(await edge.call<SessionOut>("POST", "/api/v1/sessions", { pin }));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "That PIN is not known here." : message(err));
      setPin("");
    } finally {
      setBusy(false);
      input.current?.focus();
    }
  };
  const press = (d: string) => {
    setPin((p) => (p + d).slice(0, 12));
    input.current?.focus();
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Patty Palace</h1>
        <label for="pin">Staff PIN</label>
        <input
          id="pin"
          ref={input}
          type="password"
          inputMode="numeric"
          autoComplete="off"
          value={pin}
          onInput={(e) => setPin((e.target as HTMLInputElement).value.replace(/\D/g, ""))}
        />
        <div class="keypad" role="group" aria-label="PIN keypad">
          {["1", "2", "3", "4", "5", "6", "7", "8", "9"].map((d) => (
            <button type="button" key={d} onClick={() => press(d)}>
              {d}
            </button>
          ))}
          <button type="button" onClick={() => setPin("")} aria-label="Clear the PIN">
            Clear
          </button>
          <button type="button" onClick={() => press("0")}>
            0
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Sign in
          </button>
        </div>
        <Problem text={error} />
      </form>
    </main>
  );
}
