// The cloud link in words, from the edge's sync status.

import type { SyncStatus } from "../../../shared/api/edge";

/// What the header says about the link, and its kind (the style): `edgeDown` when the edge itself
/// does not answer, `status` null until it first has.
export function linkText(status: SyncStatus | null, edgeDown: boolean): { text: string; kind: string } {
  if (edgeDown) return { text: "Outlet server not answering", kind: "down" };
  if (!status) return { text: "Cloud link: checking", kind: "unknown" };
  if (!status.enabled) return { text: "Cloud link: off (this outlet works alone)", kind: "off" };
  if (status.link === "online") {
    return { text: status.pending ? `Cloud link: online, ${status.pending} to send` : "Cloud link: online", kind: "online" };
  }
  const since = status.since_ms ? new Date(status.since_ms).toLocaleTimeString() : "";
  return { text: `Cloud link: offline${since ? ` since ${since}` : ""}, ${status.pending} waiting; selling goes on`, kind: "offline" };
}
