import { describe, expect, it } from "vitest";
import type { SyncStatus } from "../../../shared/api/edge";
import { linkText } from "./link";

const status = (s: Partial<SyncStatus>) => ({ enabled: true, link: "online", since_ms: 0, pending: 0, ...s }) as SyncStatus;

describe("the cloud link in words", () => {
  it("says when the edge itself does not answer, before anything else", () => {
    expect(linkText(status({}), true)).toEqual({ text: "Outlet server not answering", kind: "down" });
  });
  it("is checking until the edge first answers", () => {
    expect(linkText(null, false).kind).toBe("unknown");
  });
  it("off, online, online with some to send", () => {
    expect(linkText(status({ enabled: false }), false).kind).toBe("off");
    expect(linkText(status({}), false).text).toBe("Cloud link: online");
    expect(linkText(status({ pending: 3 }), false).text).toBe("Cloud link: online, 3 to send");
  });
  it("offline says since when and that selling goes on", () => {
    const t = linkText(status({ link: "offline", pending: 2 }), false);
    expect(t).toEqual({ text: "Cloud link: offline, 2 waiting; selling goes on", kind: "offline" });
    expect(linkText(status({ link: "offline", since_ms: 1_700_000_000_000 }), false).text).toMatch(/offline since .+, 0 waiting/);
  });
});
