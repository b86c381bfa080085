// The HQ dashboard, served by the cloud at /: sign-in (HQ administrators, and outlet managers who
// see their own outlet), the outlets overview, the live fleet map drawn from the cloud's own
// geography (no tile server), the catalog editor with per-outlet prices, draft and publish, and
// orders with their detail. It speaks only to the cloud's API.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { type Api, ApiError, api as makeApi } from "../shared/api";
import "../shared/base.css";
import { Problem } from "../shared/ui";
import "./hq.css";
import { FleetMap } from "./map";
import { Sales } from "./sales";
import type { Outlet, User } from "./types";
import { Catalog, Orders, Outlets, StockAlerts } from "./views";

const cloud: Api = makeApi();

type View = "outlets" | "map" | "catalog" | "orders" | "stock" | "sales";
const VIEWS: { id: View; label: string; hqOnly: boolean }[] = [
  { id: "outlets", label: "Outlets", hqOnly: false },
  { id: "map", label: "Fleet map", hqOnly: false },
  { id: "catalog", label: "Catalog", hqOnly: true },
  { id: "orders", label: "Orders", hqOnly: false },
  { id: "stock", label: "Stock alerts", hqOnly: false },
  { id: "sales", label: "Sales", hqOnly: false },
];

function App() {
  const [user, setUser] = useState<User | null>(null);
  const [view, setView] = useState<View>("outlets");
  const [outlets, setOutlets] = useState<Outlet[]>([]);
  const [error, setError] = useState("");

  useEffect(() => {
    const token = sessionStorage.getItem("patty-hq-token");
    if (!token) return;
    cloud.token = token;
    cloud
      .call<User>("GET", "/api/v1/auth/whoami")
      .then(setUser)
      .catch(() => sessionStorage.removeItem("patty-hq-token"));
  }, []);
  useEffect(() => {
    if (!user) return;
    cloud
      .call<Outlet[]>("GET", "/api/v1/outlets")
      .then((all) => setOutlets(user.role === "hq_admin" ? all : all.filter((o) => o.id === user.outlet_id)))
      .catch((e) => setError(e instanceof ApiError ? e.message : String(e)));
  }, [user]);

  if (!user) {
    return (
      <SignIn
        onUser={(u, token) => {
          sessionStorage.setItem("patty-hq-token", token);
          setUser(u);
        }}
      />
    );
  }
  const signOut = () => {
    sessionStorage.removeItem("patty-hq-token");
    cloud.token = null;
    setView("outlets");
    setOutlets([]);
    setUser(null);
  };
  const mine = VIEWS.filter((v) => user.role === "hq_admin" || !v.hqOnly);
  return (
    <div class="hq">
      <header class="bar">
        <strong class="brand">Patty Palace HQ</strong>
        <nav aria-label="Views">
          {mine.map((v) => (
            <button key={v.id} aria-pressed={view === v.id} onClick={() => setView(v.id)}>
              {v.label}
            </button>
          ))}
        </nav>
        <span class="who">
          {user.name} <small>({user.role.replace("_", " ")})</small>
        </span>
        <button onClick={signOut}>Sign out</button>
      </header>
      <main>
        <Problem text={error} />
        {view === "outlets" && <Outlets cloud={cloud} outlets={outlets} />}
        {view === "map" && <FleetMap cloud={cloud} outlets={outlets} />}
        {view === "catalog" && <Catalog cloud={cloud} outlets={outlets} />}
        {view === "orders" && <Orders cloud={cloud} outlets={outlets} />}
        {view === "stock" && <StockAlerts cloud={cloud} outlets={outlets} />}
        {view === "sales" && <Sales cloud={cloud} outlets={outlets} />}
      </main>
    </div>
  );
}

function SignIn({ onUser }: { onUser: (u: User, token: string) => void }) {
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
      cloud.token = login.access_token;
      const user = await cloud.call<User>("GET", "/api/v1/auth/whoami");
      if (user.role !== "hq_admin" && user.role !== "outlet_manager") {
        cloud.token = null;
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

render(<App />, document.getElementById("app")!);
