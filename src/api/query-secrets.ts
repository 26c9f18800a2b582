// Keys never travel in URLs here: a URL ends up in access logs, proxy logs and browser history.
// - problem `instance` is the request path without its query (pathOf), so nothing a client put
//   in the query string is echoed back (problem.ts);
// - the request log shows the URL with the values of secret-looking parameters redacted
//   (redactUrl), whatever the route;
// - under /v1 a request with such a parameter is refused with 400 (rejectSecretsInQuery), even
//   when it also sends a valid key in a header: the client should stop putting it in URLs.
import type { RequestHandler } from "express";
import { HttpProblem } from "./problem.js";

/** Parameter names (lower case, without `-`, `_`, `.`, `[]`…) whose values are treated as secrets. */
const SECRET_NAMES = new Set([
  "apikey",
  "xapikey",
  "key",
  "token",
  "accesstoken",
  "authtoken",
  "bearer",
  "idtoken",
  "refreshtoken",
  "authorization",
  "auth",
  "password",
  "passwd",
  "secret",
  "clientsecret",
]);

export const REDACTED = "[REDACTED]";

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return s;
  }
}

/** Whether a query parameter name looks like it carries a credential (api_key, X-API-Key, access_token, key[]…). */
export function isSecretParam(name: string): boolean {
  return SECRET_NAMES.has(decode(name).toLowerCase().replace(/[^a-z0-9]/g, ""));
}

/** The URL with the value of every secret-looking query parameter replaced by [REDACTED]. */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return url;
  const params = url
    .slice(q + 1)
    .split("&")
    .map((p) => {
      const eq = p.indexOf("=");
      const name = eq === -1 ? p : p.slice(0, eq);
      return eq !== -1 && isSecretParam(name) ? `${name}=${REDACTED}` : p;
    });
  return `${url.slice(0, q)}?${params.join("&")}`;
}

/** The names of the secret-looking parameters in a URL's query, in order, each once. */
export function secretParams(url: string): string[] {
  const q = url.indexOf("?");
  if (q === -1) return [];
  const names = url
    .slice(q + 1)
    .split("&")
    .map((p) => decode(p.split("=", 1)[0]!))
    .filter((n) => n !== "" && isSecretParam(n));
  return [...new Set(names)];
}

/** 400 for a request that puts a credential in its query string (mounted on /v1). */
export const rejectSecretsInQuery: RequestHandler = (req, _res, next) => {
  const names = secretParams(req.originalUrl);
  if (names.length === 0) {
    next();
    return;
  }
  const name = names[0]!;
  next(
    new HttpProblem(
      400,
      "Bad Request",
      `credentials are never accepted in the query string (parameter ${JSON.stringify(name)}): send the API key as \`Authorization: Bearer <key>\` or \`X-API-Key: <key>\`. A key in a URL ends up in logs and proxies — treat this one as exposed and rotate it`,
      name,
    ),
  );
};
