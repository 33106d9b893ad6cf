import { createContext } from "preact";
import { useContext } from "preact/hooks";

export type Scope = "read" | "produce" | "consume" | "admin";

export interface Session {
  scopes: Set<string>;
  open: boolean;
}

export const SessionContext = createContext<Session>({ scopes: new Set(), open: false });

/** Whether the token may do what a route needing `scope` does (admin may do everything). */
export function useCan(scope: Scope): boolean {
  const { scopes } = useContext(SessionContext);
  return scopes.has("admin") || scopes.has(scope);
}
