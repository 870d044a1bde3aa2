// Express middleware: ask the sessiongate sidecar whether the request carries a valid session.
//
//   import { sessiongate } from "./sessiongate.js";
//   app.use(sessiongate({ url: "http://127.0.0.1:8787" }));            // every route
//   app.get("/admin", sessiongate({ role: "admin" }), handler);        // one route, with a role
//
// The incoming Cookie and Authorization headers are forwarded to GET {url}/verify; on 200 the
// verified user (id, email, name, role, roles, permissions, source, expires_at) is set as
// req.user. 401 / 403 / 503 answers are passed on to the client as they are (status, JSON body,
// WWW-Authenticate / Retry-After). A sidecar that cannot be reached is a 503, never a 401.
// Nothing is logged; the token never leaves this process except to the sidecar.

const FORWARDED = ["cookie", "authorization"];
const PASSED_BACK = ["www-authenticate", "retry-after", "cache-control"];

export function sessiongate({
  url = process.env.SESSIONGATE_URL ?? "http://127.0.0.1:8787",
  role,
  permission,
  mode,
  timeoutMs = 2000,
  optional = false,
} = {}) {
  const query = new URLSearchParams();
  for (const r of [role ?? []].flat()) query.append("role", r);
  for (const p of [permission ?? []].flat()) query.append("permission", p);
  if (mode) query.set("mode", mode);
  const verifyUrl = `${url.replace(/\/$/, "")}/verify${query.size ? `?${query}` : ""}`;

  return async function sessiongateMiddleware(req, res, next) {
    const headers = {};
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
