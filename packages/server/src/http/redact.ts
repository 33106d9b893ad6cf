/**
 * Secrets kept out of logs and API answers. Push, probe, callback and sweep URLs may carry
 * credentials (`https://user:password@host/…`, `?token=…`): the server keeps them to make its
 * requests, and shows and logs them only with the credentials replaced by "***". Request URLs
 * are logged with secret-looking query values replaced the same way (a client that sends its
 * token in the query string must not find it in the log).
 */
const HIDDEN = "***";

/** Query parameter names whose values are secrets. */
const SECRET_PARAM = /token|secret|passw|pwd|auth|sig|api[-_]?key|access[-_]?key|credential|session/i;

/** An absolute URL with its user info and secret query values hidden. */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // Not a URL we can parse: hide anything that looks like user info all the same.
    return text.replace(/\/\/[^/@\s]*@/g, `//${HIDDEN}@`);
  }
  if (url.username || url.password) {
    url.username = HIDDEN;
    url.password = "";
  }
  hideSecretParams(url.searchParams);
  return url.toString();
}

/** A request's path and query (`request.url`) with secret query values hidden. */
export function redactRequestUrl(pathAndQuery: string): string {
  const question = pathAndQuery.indexOf("?");
  if (question < 0) return pathAndQuery;
  const params = new URLSearchParams(pathAndQuery.slice(question + 1));
  if (!hideSecretParams(params)) return pathAndQuery;
  return `${pathAndQuery.slice(0, question)}?${params.toString()}`;
}

function hideSecretParams(params: URLSearchParams): boolean {
  let hidden = false;
  for (const name of new Set(params.keys())) {
    if (SECRET_PARAM.test(name)) {
      params.set(name, HIDDEN);
      hidden = true;
    }
  }
  return hidden;
}

/** The named URL fields of a settings value, redacted, for an API answer. */
export function withRedactedUrls<T extends object, K extends keyof T>(value: T, fields: readonly K[]): T {
  const shown = { ...value };
  for (const field of fields) {
    const url = shown[field];
    if (typeof url === "string") shown[field] = redactUrl(url) as T[K];
  }
  return shown;
}
