// Notifications: the signed-in user's inbox, live, and (HQ) every message the notifier recorded,
// the dead letters first to hand, each of which can be sent again.

import { useEffect, useState } from "preact/hooks";
import type { InboxItem, NotificationMessage, Role } from "../../../shared/api/cloud";
import { useApi } from "../../../shared/api/context";
import { follow } from "../../../shared/api/stream";
import { Problem, message } from "../../../shared/ui";

const when = (ms: number) => new Date(ms).toLocaleString();

/// The user's in-app messages, newest first, new ones added as they arrive.
function Inbox() {
  const cloud = useApi();
  const [items, setItems] = useState<InboxItem[]>([]);
  const [unread, setUnread] = useState(0);
  const [error, setError] = useState("");
  useEffect(() => {
    cloud
      .call<{ unread: number; items: InboxItem[] }>("GET", "/api/v1/me/notifications")
      .then((inbox) => {
        setItems(inbox.items);
        setUnread(inbox.unread);
      })
      .catch((e) => setError(message(e)));
    return follow(cloud, "/api/v1/me/notifications/stream", (name, data) => {
      if (name !== "notification") return;
      const item = data as InboxItem;
      setItems((old) => (old.some((i) => i.id === item.id) ? old : [item, ...old]));
      setUnread((n) => n + 1);
    });
  }, [cloud]);
  const readAll = () =>
    cloud
      .call<{ unread: number }>("POST", "/api/v1/me/notifications/read")
      .then((r) => {
        setUnread(r.unread);
        setItems((old) => old.map((i) => ({ ...i, read_ms: i.read_ms ?? Date.now() })));
      })
      .catch((e) => setError(message(e)));
  return (
    <section aria-label="My inbox">
      <h3>
        My inbox <small>({unread} unread)</small>
      </h3>
      <Problem text={error} />
      {items.length === 0 && <p role="status">No messages.</p>}
      {items.length > 0 && (
        <>
          <button onClick={readAll} disabled={unread === 0}>
            Mark all read
          </button>
          <ul class="inbox">
            {items.map((i) => (
              <li key={i.id} class={i.read_ms ? "read" : "unread"}>
                <strong>{i.title}</strong> <small>{when(i.created_ms)}</small>
                <p>{i.body}</p>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}

/// Every message, newest first, filtered by state; a dead letter can be sent again.
function Messages() {
  const cloud = useApi();
  const [state, setState] = useState("failed");
  const [rows, setRows] = useState<NotificationMessage[] | null>(null);
  const [done, setDone] = useState("");
  const [error, setError] = useState("");
  const load = () => {
    const q = new URLSearchParams({ limit: "200" });
    if (state) q.set("state", state);
    cloud
      .call<NotificationMessage[]>("GET", `/api/v1/notifications?${q}`)
      .then(setRows)
      .catch((e) => setError(message(e)));
  };
  useEffect(load, [cloud, state]);
  const retry = (m: NotificationMessage) =>
    cloud
      .call("POST", `/api/v1/notifications/${m.id}/retry`)
      .then(() => {
        setDone(`${m.template} to ${m.address ?? m.recipient} sent again`);
        load();
      })
      .catch((e) => setError(message(e)));
  return (
    <section aria-label="Messages">
      <h3>Messages</h3>
      <label>
        State{" "}
        <select value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value)}>
          <option value="failed">failed (dead letters)</option>
          <option value="queued">queued</option>
          <option value="sent">sent</option>
          <option value="delivered">delivered</option>
          <option value="suppressed">suppressed</option>
          <option value="">all</option>
        </select>
      </label>
      <Problem text={error} />
      {done && <p role="status">{done}</p>}
      {rows?.length === 0 && <p role="status">No messages in this state.</p>}
      {rows && rows.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Message</th>
              <th scope="col">Channel</th>
              <th scope="col">To</th>
              <th scope="col">State</th>
              <th scope="col">Tries</th>
              <th scope="col">Why</th>
              <th scope="col">
                <span class="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((m) => (
              <tr key={m.id}>
                <td>{when(m.created_ms)}</td>
                <th scope="row">{m.template}</th>
                <td>{m.channel}</td>
                <td>{m.address ?? m.recipient}</td>
                <td>{m.state}</td>
                <td>{m.attempts}</td>
                <td>{m.reason ?? ""}</td>
                <td>
                  {m.state === "failed" && (
                    <button onClick={() => retry(m)} aria-label={`Send again: ${m.template} to ${m.address ?? m.recipient}`}>
                      Send again
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/// The view: the inbox for everyone, the messages for HQ.
export function Notifications({ role }: { role: Role }) {
  return (
    <section aria-label="Notifications">
      <h2>Notifications</h2>
      <Inbox />
      {role === "hq_admin" && <Messages />}
    </section>
  );
}
