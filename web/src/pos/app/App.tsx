// The outlet POS: PIN sign-in, then the screens of the signed-in staff member's role. It talks to
// its outlet's edge node only (the page is served by it), so it keeps working while the cloud
// link is down; the header says how that link is. The session (its token) is state here, and the
// edge's client with that token is handed to every screen by `ApiProvider`.

import { useMemo, useState } from "preact/hooks";
import { api } from "../../shared/api/client";
import { ApiProvider } from "../../shared/api/context";
import type { SessionOut } from "../../shared/api/edge";
import { Conflicts } from "../features/conflicts/Conflicts";
import { Kitchen } from "../features/kitchen/Kitchen";
import { OrderEntry } from "../features/order-entry/OrderEntry";
import { OrderQueue } from "../features/order-queue/OrderQueue";
import { Report } from "../features/report/Report";
import { SignIn } from "../features/sign-in/SignIn";
import { SoldOut } from "../features/sold-out/SoldOut";
import { Stock } from "../features/stock/Stock";
import { Header } from "./Header";
import { type Screen, firstScreen } from "./screens";

const SAVED = "patty-pos-session";

export function App() {
  const [session, setSession] = useState<SessionOut | null>(() => {
    const saved = sessionStorage.getItem(SAVED);
    return saved ? (JSON.parse(saved) as SessionOut) : null;
  });
  const [mode, setMode] = useState<Screen>("order");
  const token = session?.token ?? null;
  const edge = useMemo(() => api(token), [token]);

  const signedIn = (s: SessionOut) => {
    sessionStorage.setItem(SAVED, JSON.stringify(s));
    setMode(firstScreen(s.staff.role));
    setSession(s);
  };
  const signOut = async () => {
    try {
      await edge.call("DELETE", "/api/v1/sessions/current");
    } catch {
      // The session may have ended already.
    }
    sessionStorage.removeItem(SAVED);
    setSession(null);
  };

  return (
    <ApiProvider api={edge}>
      {!session ? (
        <SignIn onSession={signedIn} />
      ) : (
        <div class="pos">
          <Header staff={session.staff} mode={mode} setMode={setMode} onSignOut={signOut} />
          <main>
            {mode === "order" && <OrderEntry onExpired={signOut} />}
            {mode === "queue" && <OrderQueue manager={session.staff.role === "manager"} />}
            {mode === "kitchen" && <Kitchen />}
            {mode === "stock" && <Stock manager={session.staff.role === "manager"} />}
            {mode === "soldout" && <SoldOut />}
            {mode === "report" && <Report />}
            {mode === "conflicts" && <Conflicts />}
          </main>
        </div>
      )}
    </ApiProvider>
  );
}
