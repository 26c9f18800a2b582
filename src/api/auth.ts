// API-key checks for the HTTP API (keys: src/auth/keys.ts). A key comes as
// `Authorization: Bearer <key>` or `X-API-Key: <key>`:
//   no key (or another auth scheme) → 401 with WWW-Authenticate;
//   a key that matches no entry     → 403;
//   no keys configured at all       → 503: write endpoints are never open by default.
// The key itself never reaches the logs (app.ts logs no headers); the matching entry's name is
// kept in res.locals.apiKeyName and logged. A key is never taken from the query string: under
// /v1 a credential-looking query parameter is refused with 400 (query-secrets.ts), its value is
// redacted in the request log, and no problem's `instance` carries a query string.
import type { RequestHandler } from "express";
import type { ApiKeys } from "../auth/keys.js";
import { HttpProblem, instanceOf, sendProblem } from "./problem.js";

export const WWW_AUTHENTICATE = 'Bearer realm="pruning-advisor"';

/** The presented key, undefined when none, or null for a malformed Authorization header. */
function presentedKey(authorization: string | undefined, xApiKey: string | string[] | undefined): string | undefined | null {
  if (typeof xApiKey === "string" && xApiKey !== "") return xApiKey;
  if (authorization === undefined || authorization === "") return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  return m ? m[1]! : null;
}

export function requireApiKey(keys: ApiKeys, what = "this endpoint"): RequestHandler {
  return (req, res, next) => {
    if (typeof res.locals.apiKeyName === "string") {
      next(); // already checked (ADVISOR_PROTECT_READS covers the route too)
      return;
    }
    if (!keys.configured) {
      next(
        new HttpProblem(
          503,
          "Service Unavailable",
          `${what} needs an API key, and no API keys are configured on this server: set ADVISOR_API_KEYS_FILE (or --api-keys-file) to a file of name:sha256hex lines made with \`advisor keys hash\``,
        ),
      );
      return;
    }
    const key = presentedKey(req.headers.authorization, req.headers["x-api-key"]);
    if (key === undefined || key === null) {
      res.setHeader("WWW-Authenticate", WWW_AUTHENTICATE);
      sendProblem(res, {
        status: 401,
        title: "Unauthorized",
        detail:
          key === null
            ? "the Authorization header must be `Bearer <API key>` (or send the key as X-API-Key)"
            : `${what} needs an API key: send it as \`Authorization: Bearer <key>\` or \`X-API-Key: <key>\``,
        instance: instanceOf(req),
      });
      return;
    }
    const name = keys.verify(key);
    if (name === null) {
      sendProblem(res, { status: 403, title: "Forbidden", detail: "the API key is not valid", instance: instanceOf(req) });
      return;
    }
    res.locals.apiKeyName = name;
    req.log?.info({ apiKey: name }, "authenticated");
    next();
  };
}
