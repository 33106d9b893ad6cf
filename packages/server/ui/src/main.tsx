import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, savedToken, saveToken } from "./api";
import { CheckPage } from "./pages/checks";
import { DeadPage } from "./pages/dead";
import { JobPage } from "./pages/job";
import { JobsPage } from "./pages/jobs";
import { OverviewPage } from "./pages/overview";
import { SchedulesPage } from "./pages/schedules";
import { SweepsPage } from "./pages/sweeps";
import { type Session, SessionContext } from "./session";
import "uplot/dist/uPlot.min.css";
import "./style.css";

/** Hash routes (#/jobs?queue=…): the server serves one page, every view lives after the #. */
export interface Route {
  path: string[];
  params: URLSearchParams;
}

function currentRoute(): Route {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path = "", query = ""] = hash.split("?");
  return { path: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
}

const PAGES = [
  { id: "overview", label: "Overview" },
  { id: "jobs", label: "Jobs" },
  { id: "dead", label: "Dead letters" },
  { id: "checks", label: "Checks" },
  { id: "schedules", label: "Schedules" },
  { id: "sweeps", label: "Sweeps" },
];

function TokenForm({ onSession, problem }: { onSession: (s: Session) => void; problem: string | null }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(problem);
  const submit = async (event: Event) => {
    event.preventDefault();
    try {
      const who = await api<{ open: boolean; scopes: string[] }>("GET", "/v1/token", undefined, token);
      saveToken(token);
      onSession({ open: who.open, scopes: new Set(who.scopes) });
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "That token is not known to this server." : String(err));
    }
  };
  return (
    <main class="login">
      <h1>checkback</h1>
      <form onSubmit={submit}>
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        <p class="hint">
          A token with the read scope can look; acting needs produce (jobs, checks, schedules, sweeps) or admin (dead
          letters).
        </p>
        <button type="submit">Open the dashboard</button>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}

function LiveStamp() {
  const [at, setAt] = useState<Date | null>(null);
  useEffect(() => {
    const seen = () => setAt(new Date());
    document.addEventListener("checkback:updated", seen);
    return () => document.removeEventListener("checkback:updated", seen);
  }, []);
  return (
    <span class="live" data-testid="live">
      <span aria-hidden="true" class="dot" /> Live
      {at ? ` · updated ${at.toLocaleTimeString(undefined, { hour12: false })}` : ""}
    </span>
  );
}

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(true);
  const [problem, setProblem] = useState<string | null>(null);
  const [route, setRoute] = useState(currentRoute);

  useEffect(() => {
    const moved = () => setRoute(currentRoute());
    addEventListener("hashchange", moved);
    return () => removeEventListener("hashchange", moved);
  }, []);

  useEffect(() => {
    // An open server, or a token kept from earlier in this tab, goes straight in.
    api<{ open: boolean; scopes: string[] }>("GET", "/v1/token", undefined, savedToken())
      .then((who) => setSession({ open: who.open, scopes: new Set(who.scopes) }))
      .catch((err) => {
        if (savedToken()) setProblem(err instanceof ApiError ? err.message : String(err));
        saveToken(null);
      })
      .finally(() => setChecking(false));
  }, []);

  if (checking) return <p class="loading">Loading…</p>;
  if (!session) return <TokenForm onSession={setSession} problem={problem} />;

  const page = route.path[0] ?? "overview";
  const signOut = () => {
    saveToken(null);
    setSession(null);
  };
  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span class="brand">checkback</span>
        <nav aria-label="Pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.id}>
                <a href={`#/${p.id}`} aria-current={page === p.id ? "page" : undefined}>
                  {p.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <LiveStamp />
        <span class="who">
          {session.open ? "open API" : `scopes: ${[...session.scopes].join(", ")}`}
          {!session.open && (
            <button type="button" class="link" onClick={signOut}>
              Sign out
            </button>
          )}
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {page === "overview" && <OverviewPage />}
        {page === "jobs" && route.path.length >= 3 && <JobPage queue={route.path[1]!} id={route.path[2]!} />}
        {page === "jobs" && route.path.length < 3 && <JobsPage params={route.params} />}
        {page === "dead" && <DeadPage params={route.params} />}
        {page === "checks" && <CheckPage />}
        {page === "schedules" && <SchedulesPage />}
        {page === "sweeps" && <SweepsPage />}
      </main>
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById("app")!);
