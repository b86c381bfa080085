// Sign-in with email and password; the dashboard is for HQ administrators and outlet managers.

import { useState } from "preact/hooks";
import { ApiError } from "../../../shared/api/client";
import type { User } from "../../../shared/api/cloud";
import { useApi } from "../../../shared/api/context";
import { Problem } from "../../../shared/ui";

export function SignIn({ onUser }: { onUser: (u: User, token: string) => void }) {
  const cloud = useApi();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    try {
      const login = await cloud.call<{ access_token: string }>("POST", "/api/v1/auth/login", { email, password });
      const user = await cloud.withToken(login.access_token).call<User>("GET", "/api/v1/auth/whoami");
      if (user.role !== "hq_admin" && user.role !== "outlet_manager") {
        setError("The dashboard is for HQ and outlet managers.");
        return;
      }
      onUser(user, login.access_token);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "Wrong email or password." : String((err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Patty Palace HQ</h1>
        <label for="email">Email</label>
        <input id="email" type="email" autoComplete="username" value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
        <label for="password">Password</label>
        <input
          id="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
        />
        <button type="submit" class="primary big" disabled={busy}>
          Sign in
        </button>
        <Problem text={error} />
      </form>
    </main>
  );
}
