// The cloud link as the edge reports it (polled every 5 s); selling goes on whatever it says.

import { useEffect, useState } from "preact/hooks";
import { useApi } from "../../../shared/api/context";
import type { SyncStatus } from "../../../shared/api/edge";
import { linkText } from "./link";

export function CloudLink() {
  const edge = useApi();
  const [status, setStatus] = useState<SyncStatus | null>(null);
  const [edgeDown, setEdgeDown] = useState(false);
  useEffect(() => {
    let live = true;
    const poll = async () => {
      try {
        const s = await edge.call<SyncStatus>("GET", "/api/v1/sync/status");
        if (live) {
          setStatus(s);
          setEdgeDown(false);
        }
      } catch {
        if (live) setEdgeDown(true);
      }
    };
    poll();
    const t = setInterval(poll, 5000);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [edge]);
  const { text, kind } = linkText(status, edgeDown);
  return (
    <span class={`link link-${kind}`} role="status">
      {text}
    </span>
  );
}
