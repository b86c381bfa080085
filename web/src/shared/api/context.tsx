// The one way components get the API client: `ApiProvider` at the top of a front end (with the
// signed-in token, or none), `useApi()` below it.

import { createContext, type ComponentChildren } from "preact";
import { useContext } from "preact/hooks";
import type { Api } from "./client";

const ApiContext = createContext<Api | null>(null);

export function ApiProvider({ api, children }: { api: Api; children: ComponentChildren }) {
  return <ApiContext.Provider value={api}>{children}</ApiContext.Provider>;
}

/// The client of the nearest `ApiProvider`.
export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error("useApi() outside an ApiProvider");
  return api;
}
