// The POS's header: the screens of the staff member's role, the cloud link, who is signed in.

import type { Staff } from "../../shared/api/edge";
import { CloudLink } from "../features/cloud-link/CloudLink";
import { type Screen, screensFor } from "./screens";

export function Header(props: { staff: Staff; mode: Screen; setMode: (m: Screen) => void; onSignOut: () => void }) {
  const { staff, mode, setMode, onSignOut } = props;
  return (
    <header class="bar">
      <strong class="brand">Patty Palace</strong>
      <nav aria-label="Screens">
        {screensFor(staff.role).map((s) => (
          <button key={s.id} aria-pressed={mode === s.id} onClick={() => setMode(s.id)}>
            {s.label}
          </button>
        ))}
      </nav>
      <CloudLink />
      <span class="who">
        {staff.name} <small>({staff.role})</small>
      </span>
      <button onClick={onSignOut}>Sign out</button>
    </header>
  );
}
