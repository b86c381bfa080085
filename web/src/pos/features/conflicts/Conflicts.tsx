// Conflicts: what the outlet and the cloud disagreed on, settled by a manager with a note.

import { useEffect, useState } from "preact/hooks";
import { useApi } from "../../../shared/api/context";
import type { Conflict } from "../../../shared/api/edge";
import { Problem, message } from "../../../shared/ui";

/// What the outlet and the cloud disagreed on, for a manager to settle with a note.
export function Conflicts() {
  const edge = useApi();
  const [list, setList] = useState<Conflict[] | null>(null);
  const [notes, setNotes] = useState<Record<string, string>>({});
  const [error, setError] = useState("");
  const load = () =>
    edge
      .call<Conflict[]>("GET", "/api/v1/conflicts")
      .then(setList)
      .catch((e) => setError(message(e)));
  useEffect(() => {
    load();
  }, [edge]);
  const resolve = async (c: Conflict) => {
    try {
      await edge.call("POST", `/api/v1/conflicts/${c.id}/resolve`, { note: notes[c.id] ?? "" });
      setError("");
      load();
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <section class="page" aria-label="Conflicts">
      <h2>Conflicts</h2>
      <Problem text={error} />
      {list?.length === 0 && <p role="status">Nothing to settle.</p>}
      <ul class="conflicts">
        {list?.map((c) => (
          <li key={c.id}>
            <h3>{c.kind.replace(/_/g, " ")}</h3>
            <p>
              Outlet: {c.outlet_side}
              <br />
              Cloud: {c.cloud_side}
            </p>
            {c.resolution ? (
              <p>Settled: {c.resolution.note}</p>
            ) : (
              <>
                <label for={`note-${c.id}`}>Decision</label>
                <input
                  id={`note-${c.id}`}
                  value={notes[c.id] ?? ""}
                  onInput={(e) => setNotes((n) => ({ ...n, [c.id]: (e.target as HTMLInputElement).value }))}
                />
                <button onClick={() => resolve(c)}>Settle</button>
              </>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
