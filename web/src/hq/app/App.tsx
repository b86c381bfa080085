// The HQ dashboard, served by the cloud at /: sign-in (HQ administrators, and outlet managers who
// see their own outlet), then the views of the user's role over the outlets they see. It speaks
// only to the cloud's API; the token is state here, and the cloud's client with that token is
// handed to every view by `ApiProvider`.

import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, api } from "../../shared/api/client";
import type { Outlet, User } from "../../shared/api/cloud";
import { ApiProvider } from "../../shared/api/context";
import { Problem } from "../../shared/ui";
import { Catalog } from "../features/catalog/Catalog";
import { Notifications } from "../features/notifications/Notifications";
import { FleetMap } from "../features/fleet-map/FleetMap";
import { Orders } from "../features/orders/Orders";
import { Outlets } from "../features/outlets/Outlets";
import { Sales } from "../features/sales/Sales";
import { SignIn } from "../features/sign-in/SignIn";
import { StockAlerts } from "../features/stock-alerts/StockAlerts";
import { type View, viewsFor } from "./views";

const SAVED = "patty-hq-token";

export function App() {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(SAVED));
  const [user, setUser] = useState<User | null>(null);
  const [view, setView] = useState<View>("outlets");
  const [outlets, setOutlets] = useState<Outlet[]>([]);
  const [error, setError] = useState("");
  const cloud = useMemo(() => api(token), [token]);

  // A token kept from before a reload is used again if the cloud still knows it.
  useEffect(() => {
    if (!token || user) return;
    cloud
      .call<User>("GET", "/api/v1/auth/whoami")
      .then(setUser)
      .catch(() => {
        sessionStorage.removeItem(SAVED);
        setToken(null);
      });
  }, []);
  useEffect(() => {
    if (!user) return;
    cloud
      .call<Outlet[]>("GET", "/api/v1/outlets")
      .then((all) => setOutlets(user.role === "hq_admin" ? all : all.filter((o) => o.id === user.outlet_id)))
      .catch((e) => setError(e instanceof ApiError ? e.message : String(e)));
  }, [user]);

  const signedIn = (u: User, t: string) => {
    sessionStorage.setItem(SAVED, t);
    setToken(t);
    setUser(u);
  };
  const signOut = () => {
    sessionStorage.removeItem(SAVED);
    setToken(null);
    setView("outlets");
    setOutlets([]);
    setUser(null);
  };
  return (
    <ApiProvider api={cloud}>
      {!user ? (
        <SignIn onUser={signedIn} />
      ) : (
        <div class="hq">
          <header class="bar">
            <strong class="brand">Patty Palace HQ</strong>
            <nav aria-label="Views">
              {viewsFor(user.role).map((v) => (
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
            {view === "outlets" && <Outlets outlets={outlets} />}
            {view === "map" && <FleetMap outlets={outlets} />}
            {view === "catalog" && <Catalog outlets={outlets} />}
            {view === "orders" && <Orders outlets={outlets} />}
            {view === "stock" && <StockAlerts outlets={outlets} />}
            {view === "sales" && <Sales outlets={outlets} />}
            {view === "notifications" && <Notifications role={user.role} />}
          </main>
        </div>
      )}
    </ApiProvider>
  );
}
