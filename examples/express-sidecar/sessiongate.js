// Express middleware: ask the sessiongate sidecar whether the request carries a valid session.
//
//   import { sessiongate } from "./sessiongate.js";
//   app.use(sessiongate({ url: "http://127.0.0.1:8787" }));            // every route
//   app.get("/admin", sessiongate({ role: "admin" }), handler);        // one route, with a role
//   app.get("/books", sessiongate({ role: ["admin", "billing"], mode: "any" }), handler);
//
// The incoming Cookie, Authorization, Origin and Referer headers are forwarded to
// GET {url}/verify, with the original method and host (X-Original-Method, X-Forwarded-Host,
// X-Forwarded-Proto) so that the sidecar refuses cookie-authenticated writes from other sites
// (403 csrf_failed; allow more origins with `sessiongate serve --trusted-origin`). On 200 the
// verified user (id, email, name, role, roles, permissions, source, expires_at) is set as
// req.user. 401 / 403 / 503 answers are passed on to the client as they are (status, JSON body,
// WWW-Authenticate / Retry-After). A sidecar that cannot be reached is a 503, never a 401.
// Nothing is logged; the token never leaves this process except to the sidecar.
//
// Requirements are fixed here, in the query string, never taken from the client's headers:
// role/permission lists mean "all of them" (mode: "all"), or "one of them" with mode: "any",
// sent as the sidecar's `a|b` alternatives.

const FORWARDED = ["cookie", "authorization", "origin", "referer"];
const PASSED_BACK = ["www-authenticate", "retry-after", "cache-control"];

export function sessiongate({
  url = process.env.SESSIONGATE_URL ?? "http://127.0.0.1:8787",
  role,
  permission,
  mode = "all",
  timeoutMs = 2000,
  optional = false,
} = {}) {
  if (mode !== "all" && mode !== "any") throw new Error('sessiongate: mode must be "all" or "any"');
  const query = new URLSearchParams();
  const add = (name, values) => {
    const list = [values ?? []].flat();
    if (list.length === 0) return;
    if (mode === "any") query.append(name, list.join("|"));
    else for (const value of list) query.append(name, value);
  };
  add("role", role);
  add("permission", permission);
  const verifyUrl = `${url.replace(/\/$/, "")}/verify${query.size ? `?${query}` : ""}`;

  return async function sessiongateMiddleware(req, res, next) {
    const headers = {
      "x-original-method": req.method,
      "x-forwarded-proto": req.protocol,
    };
    if (req.headers.host) headers["x-forwarded-host"] = req.headers.host;
    for (const name of FORWARDED) {
      if (req.headers[name]) headers[name] = req.headers[name];
    }
    let answer;
    try {
      answer = await fetch(verifyUrl, { headers, signal: AbortSignal.timeout(timeoutMs) });
    } catch {
      res.status(503).json({ error: "provider_unavailable", message: "the session verifier is unavailable" });
      return;
    }
    const body = await answer.json().catch(() => ({}));
    if (answer.status === 200) {
      req.user = body.user;
      req.auth = { credential: body.credential, authenticator: body.authenticator };
      next();
      return;
    }
    if (optional && answer.status === 401) {
      req.user = null;
      next();
      return;
    }
    for (const name of PASSED_BACK) {
      const value = answer.headers.get(name);
      if (value) res.set(name, value);
    }
    const status = [401, 403, 503].includes(answer.status) ? answer.status : 503;
    res.status(status).json(
      body.error ? body : { error: "provider_unavailable", message: "unexpected verifier answer" },
    );
  };
}
