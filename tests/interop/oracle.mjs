#!/usr/bin/env node
/**
 * sessiongate interop oracle.
 *
 * A long-lived Node process that runs the REAL JavaScript auth libraries
 * (next-auth 4, @auth/core, jsonwebtoken, jose) on behalf of the Python test
 * suite. It never re-implements their crypto: every op calls the shipped
 * library function, so the Python side can check its verifier against the
 * ground truth.
 *
 * Protocol: JSON lines.
 *   stdin : {"id": n, "op": "...", "params": {...}}            (one per line)
 *   stdout: {"id": n, "ok": true,  "result": ...}
 *           {"id": n, "ok": false, "error": "message", "errorName": "...", "errorCode": "..."}
 * Nothing else is ever written to stdout: console output and any library
 * logging go to stderr. Requests are handled strictly one at a time, in order,
 * which is what makes the per-request `now` and `env` overrides safe.
 *
 * Common params accepted by every op:
 *   now  (number, Unix seconds, may be fractional): freeze the global clock
 *        (Date.now() and `new Date()`) at this instant for the duration of the
 *        op. Every op honours it because the libraries read the clock through
 *        Date; jws.verify additionally passes it as `clockTimestamp`.
 *   env  ({NAME: string|null}): set (null = unset) process.env variables for
 *        the duration of the op, then restore them. Auth-related variables are
 *        cleared once at start-up so the caller's shell cannot leak into results.
 *
 * Secrets: a secret is a string (used as UTF-8, like the libraries do) or
 * {"$bytes": "<base64url>"} for raw key material passed programmatically.
 *
 * See README.md for the list of ops.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

// ---------------------------------------------------------------------------
// stdout is reserved for protocol responses.
// ---------------------------------------------------------------------------
const writeResponseLine = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);
for (const level of ["log", "info", "debug", "warn", "trace", "dir", "table"]) {
  console[level] = (...args) => console.error(...args);
}

/** Auth-related environment variables removed at start-up for reproducibility. */
const SCRUBBED_ENV = [
  "NEXTAUTH_URL",
  "NEXTAUTH_URL_INTERNAL",
  "NEXTAUTH_SECRET",
  "AUTH_SECRET",
  "AUTH_SECRET_1",
  "AUTH_SECRET_2",
  "AUTH_SECRET_3",
  "AUTH_URL",
  "AUTH_TRUST_HOST",
  "AUTH_REDIRECT_PROXY_URL",
  "VERCEL",
  "CF_PAGES",
  "BETTER_AUTH_SECRET",
  "BETTER_AUTH_SECRETS",
  "BETTER_AUTH_URL",
  "NEXT_PUBLIC_BETTER_AUTH_URL",
];
for (const name of SCRUBBED_ENV) delete process.env[name];

// ---------------------------------------------------------------------------
// Library loading. Internal modules that are not in a package's "exports" map
// are loaded by absolute file path, which yields the very same module instance
// the package itself uses.
// ---------------------------------------------------------------------------
const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

const v4jwt = require("next-auth/jwt");
const V4_ROOT = path.dirname(path.dirname(require.resolve("next-auth/jwt")));
const { SessionStore: V4SessionStore } = require(path.join(V4_ROOT, "core/lib/cookie.js"));
const { AuthHandler: v4AuthHandler } = require(path.join(V4_ROOT, "core/index.js"));
const { toResponse: v4ToResponse } = require(path.join(V4_ROOT, "next/utils.js"));
const V4Credentials = require("next-auth/providers/credentials").default;

const v5jwt = await import("@auth/core/jwt");
const { Auth } = await import("@auth/core");
const { default: V5Credentials } = await import("@auth/core/providers/credentials");
const { SessionStore: V5SessionStore } = await import(
  new URL("./lib/utils/cookie.js", import.meta.resolve("@auth/core/jwt")).href
);

const jsonwebtoken = require("jsonwebtoken");
const jose = await import("jose");

function packageVersion(dir) {
  return JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")).version;
}
const VERSIONS = {
  node: process.versions.node,
  "next-auth": packageVersion(V4_ROOT),
  "next-auth/jose (nested)": packageVersion(path.join(V4_ROOT, "node_modules/jose")),
  "@auth/core": packageVersion(
    path.dirname(fileURLToPath(import.meta.resolve("@auth/core/jwt"))),
  ),
  jose: packageVersion(path.join(HERE, "node_modules/jose")),
  jsonwebtoken: packageVersion(path.join(HERE, "node_modules/jsonwebtoken")),
};

// ---------------------------------------------------------------------------
// Helpers: validation, clock and environment control, cookies.
// ---------------------------------------------------------------------------
class BadRequest extends Error {
  constructor(message) {
    super(message);
    this.name = "BadRequest";
  }
}

const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

function typeOk(value, type) {
  switch (type) {
    case "string":
    case "number":
    case "boolean":
      return typeof value === type && (type !== "number" || Number.isFinite(value));
    case "object":
      return isPlainObject(value);
    case "array":
      return Array.isArray(value);
    case "secret":
      return isSecret(value);
    case "secrets":
      return isSecret(value) || (Array.isArray(value) && value.length > 0 && value.every(isSecret));
    case "stringMap":
      return isPlainObject(value) && Object.values(value).every((x) => typeof x === "string");
    case "timespan":
      return typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
    case "any":
      return true;
    default:
      throw new Error(`unknown type ${type}`);
  }
}

function isSecret(v) {
  return typeof v === "string" || (isPlainObject(v) && typeof v.$bytes === "string");
}

/**
 * Check `params` against `schema` ({key: "type" | "type?"}). Unknown keys are
 * rejected so typos in tests fail loudly. Returns the params unchanged.
 */
function check(params, schema) {
  for (const key of Object.keys(params)) {
    if (!(key in schema) && key !== "now" && key !== "env") {
      throw new BadRequest(`unknown param '${key}'`);
    }
  }
  for (const [key, spec] of Object.entries(schema)) {
    const optional = spec.endsWith("?");
    const type = optional ? spec.slice(0, -1) : spec;
    if (params[key] === undefined || params[key] === null) {
      if (!optional) throw new BadRequest(`missing param '${key}' (${type})`);
      continue;
    }
    if (!typeOk(params[key], type)) throw new BadRequest(`param '${key}' must be ${type}`);
  }
  return params;
}

/** Build an options object from the given keys, leaving out absent ones so library defaults apply. */
function pick(params, keys) {
  const out = {};
  for (const key of keys) {
    if (params[key] !== undefined && params[key] !== null) out[key] = params[key];
  }
  return out;
}

function toSecret(secret) {
  if (typeof secret === "string") return secret;
  return jose.base64url.decode(secret.$bytes);
}

const toSecrets = (s) => (Array.isArray(s) ? s.map(toSecret) : toSecret(s));

const RealDate = globalThis.Date;

/** Run `fn` with the global clock frozen at `ms` (epoch milliseconds). */
async function withFrozenClock(ms, fn) {
  class FrozenDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(ms);
      else super(...args);
    }
    static now() {
      return ms;
    }
    static [Symbol.hasInstance](value) {
      return value instanceof RealDate;
    }
  }
  globalThis.Date = FrozenDate;
  try {
    return await fn();
  } finally {
    globalThis.Date = RealDate;
  }
}

/** Run `fn` with process.env temporarily patched ({NAME: value | null}). */
async function withEnv(env, fn) {
  const saved = {};
  for (const [name, value] of Object.entries(env)) {
    saved[name] = Object.prototype.hasOwnProperty.call(process.env, name)
      ? process.env[name]
      : undefined;
    if (value === null || value === undefined) delete process.env[name];
    else process.env[name] = String(value);
  }
  try {
    return await fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** A logger for the libraries that writes to stderr only. */
const stderrLogger = {
  error: (...a) => console.error("[lib:error]", ...a),
  warn: (...a) => console.error("[lib:warn]", ...a),
  debug: () => {},
};

/** JSON-safe view of a library cookie object {name, value, options}. */
function cookieView(c) {
  const options = {};
  for (const [k, v] of Object.entries(c.options ?? {})) {
    if (v === undefined) continue;
    options[k] = v instanceof RealDate ? v.toISOString() : v;
  }
  return { name: c.name, value: c.value, options };
}

/** Parse one Set-Cookie header into {name, value, attributes}. */
function parseSetCookie(header) {
  const [pair, ...attrs] = header.split(";");
  const eq = pair.indexOf("=");
  const name = pair.slice(0, eq).trim();
  const rawValue = pair.slice(eq + 1).trim();
  let value = rawValue;
  try {
    value = decodeURIComponent(rawValue);
  } catch {
    // keep the raw value
  }
  const attributes = {};
  for (const attr of attrs) {
    const i = attr.indexOf("=");
    const key = (i === -1 ? attr : attr.slice(0, i)).trim().toLowerCase();
    if (!key) continue;
    attributes[key] = i === -1 ? true : attr.slice(i + 1).trim();
  }
  return { name, value, attributes };
}

/**
 * Summarise a Response from a real handler: status, body (JSON-parsed when
 * possible), raw Set-Cookie headers, parsed cookies, and the session token as
 * the library's own SessionStore reassembles it from the non-empty cookies
 * whose name starts with `cookieName`.
 */
async function summariseResponse(response, cookieName, reassemble) {
  const text = await response.text();
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  const setCookie = response.headers.getSetCookie();
  const cookies = setCookie.map(parseSetCookie);
  const live = {};
  for (const c of cookies) {
    if (c.name.startsWith(cookieName) && c.value !== "") live[c.name] = c.value;
  }
  const sessionToken = Object.keys(live).length ? reassemble(live) : null;
  return {
    status: response.status,
    body,
    setCookie,
    cookies,
    cookieName,
    sessionToken,
    sessionCookieNames: Object.keys(live),
  };
}

const v4Reassemble = (map) =>
  new V4SessionStore({ name: "", options: {} }, { cookies: map }, stderrLogger).value;
const v5Reassemble = (map) =>
  new V5SessionStore({ name: "", options: {} }, map, stderrLogger).value;

const cookieHeader = (cookies) => cookies.map((c) => `${c.name}=${c.value}`).join("; ");

function lowerCaseKeys(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) out[k.toLowerCase()] = v;
  return out;
}

// ---------------------------------------------------------------------------
// Ops. Each takes validated params and returns a JSON-serialisable result.
// ---------------------------------------------------------------------------
const OPS = {
  /** Versions of the libraries actually loaded. */
  "meta.versions": (p) => (check(p, {}), VERSIONS),

  /** Date.now() in milliseconds (honours `now`). */
  "time.now": (p) => (check(p, {}), Date.now()),

  // ----- NextAuth.js v4 ----------------------------------------------------
  "v4.encode": async (p) => {
    check(p, { token: "object", secret: "secret", maxAge: "number?", salt: "string?" });
    return v4jwt.encode({ ...pick(p, ["token", "maxAge", "salt"]), secret: toSecret(p.secret) });
  },

  "v4.decode": async (p) => {
    check(p, { token: "string", secret: "secret", salt: "string?" });
    const claims = await v4jwt.decode({
      ...pick(p, ["token", "salt"]),
      secret: toSecret(p.secret),
    });
    return claims ?? null;
  },

  /**
   * next-auth v4 getToken with req = {cookies, headers}. Plain-object headers
   * are lower-cased like Node's IncomingMessage (v4 reads
   * `req.headers.authorization`); `webHeaders: true` passes a `Headers`
   * instance instead (middleware / NextRequest shape).
   */
  "v4.getToken": async (p) => {
    check(p, {
      cookies: "stringMap?",
      headers: "stringMap?",
      secret: "secret?",
      secureCookie: "boolean?",
      cookieName: "string?",
      raw: "boolean?",
      webHeaders: "boolean?",
    });
    const headers = p.webHeaders ? new Headers(p.headers ?? {}) : lowerCaseKeys(p.headers ?? {});
    const req = { cookies: p.cookies ?? {}, headers };
    const params = { req, logger: stderrLogger, ...pick(p, ["secureCookie", "cookieName", "raw"]) };
    if (p.secret != null) params.secret = toSecret(p.secret);
    return (await v4jwt.getToken(params)) ?? null;
  },

  /**
   * Chunk `value` with v4's real SessionStore (core/lib/cookie.js). `existing`
   * ({name: value}) are cookies already on the request: stale chunks come back
   * as cleanup cookies with maxAge 0.
   */
  "v4.chunk": (p) => {
    check(p, { name: "string", value: "string", secure: "boolean?", existing: "stringMap?" });
    const store = new V4SessionStore(
      {
        name: p.name,
        options: { httpOnly: true, sameSite: "lax", path: "/", secure: p.secure ?? false },
      },
      { cookies: p.existing ?? {} },
      stderrLogger,
    );
    const cookies = store.chunk(p.value, {}).map(cookieView);
    return { cookies, count: cookies.filter((c) => c.value !== "").length, value: store.value };
  },

  /**
   * GET /api/auth/session through next-auth v4's real AuthHandler
   * (next-auth/core) with a Credentials provider and the jwt strategy. The
   * session cookie carries `jwt` (a raw token string) or `token` (claims that
   * are first encoded with v4 encode). NEXTAUTH_URL is set to
   * http(s)://localhost:3000/api/auth unless `env.NEXTAUTH_URL` is given, so the
   * library's own origin detection picks the cookie name.
   */
  "v4.session": async (p) => {
    check(p, {
      secret: "secret",
      token: "object?",
      jwt: "string?",
      https: "boolean?",
      cookieName: "string?",
      maxAge: "number?",
    });
    if ((p.token == null) === (p.jwt == null)) {
      throw new BadRequest("exactly one of 'token' (claims) or 'jwt' (string) is required");
    }
    const scheme = p.https ? "https" : "http";
    const env = { NEXTAUTH_URL: `${scheme}://localhost:3000/api/auth`, ...(p.env ?? {}) };
    return withEnv(env, async () => {
      const secret = toSecret(p.secret);
      const cookieName =
        p.cookieName ?? (p.https ? "__Secure-next-auth.session-token" : "next-auth.session-token");
      const jwt = p.jwt ?? (await v4jwt.encode({ token: p.token, secret }));
      const sent = new V4SessionStore({ name: cookieName, options: {} }, { cookies: {} }, stderrLogger)
        .chunk(jwt, {});
      const options = {
        secret,
        providers: [V4Credentials({ credentials: {}, authorize: async () => null })],
        session: { strategy: "jwt", ...pick(p, ["maxAge"]) },
        logger: stderrLogger,
      };
      if (p.cookieName) {
        options.cookies = {
          sessionToken: {
            name: p.cookieName,
            options: { httpOnly: true, sameSite: "lax", path: "/", secure: !!p.https },
          },
        };
      }
      const req = new Request(`${scheme}://localhost:3000/api/auth/session`, {
        headers: { cookie: cookieHeader(sent) },
      });
      const internal = await v4AuthHandler({ req, options });
      const summary = await summariseResponse(v4ToResponse(internal), cookieName, v4Reassemble);
      return { ...summary, sentToken: jwt, sentCookies: sent.map(cookieView) };
    });
  },

  // ----- Auth.js v5 (@auth/core) -------------------------------------------
  "v5.encode": async (p) => {
    check(p, { token: "object", secret: "secrets", salt: "string", maxAge: "number?" });
    return v5jwt.encode({ ...pick(p, ["token", "salt", "maxAge"]), secret: toSecrets(p.secret) });
  },

  "v5.decode": async (p) => {
    check(p, { token: "string", secret: "secrets", salt: "string" });
    const claims = await v5jwt.decode({
      ...pick(p, ["token", "salt"]),
      secret: toSecrets(p.secret),
    });
    return claims ?? null;
  },

  /** @auth/core getToken with req = {headers}; v5 reads cookies only from the Cookie header. */
  "v5.getToken": async (p) => {
    check(p, {
      headers: "stringMap?",
      secret: "secrets?",
      secureCookie: "boolean?",
      cookieName: "string?",
      salt: "string?",
      raw: "boolean?",
    });
    const params = {
      req: { headers: p.headers ?? {} },
      logger: stderrLogger,
      ...pick(p, ["secureCookie", "cookieName", "salt", "raw"]),
    };
    if (p.secret != null) params.secret = toSecrets(p.secret);
    return (await v5jwt.getToken(params)) ?? null;
  },

  /** Chunk `value` with @auth/core's real SessionStore (lib/utils/cookie.js). */
  "v5.chunk": (p) => {
    check(p, { name: "string", value: "string", secure: "boolean?", existing: "stringMap?" });
    const store = new V5SessionStore(
      {
        name: p.name,
        options: { httpOnly: true, sameSite: "lax", path: "/", secure: p.secure ?? false },
      },
      p.existing ?? {},
      stderrLogger,
    );
    const cookies = store.chunk(p.value, {}).map(cookieView);
    return { cookies, count: cookies.filter((c) => c.value !== "").length, value: store.value };
  },

  /**
   * GET /auth/session through the real `Auth()` of @auth/core (Credentials
   * provider, jwt strategy, basePath /auth, trustHost). The session cookie
   * carries `jwt` (raw string) or `token` (claims, encoded with v5 encode and
   * salt = cookie name, using the first secret).
   */
  "v5.session": async (p) => {
    check(p, {
      secret: "secrets",
      token: "object?",
      jwt: "string?",
      https: "boolean?",
      cookieName: "string?",
      maxAge: "number?",
    });
    if ((p.token == null) === (p.jwt == null)) {
      throw new BadRequest("exactly one of 'token' (claims) or 'jwt' (string) is required");
    }
    const secret = toSecrets(p.secret);
    const scheme = p.https ? "https" : "http";
    const cookieName =
      p.cookieName ?? (p.https ? "__Secure-authjs.session-token" : "authjs.session-token");
    const jwt = p.jwt ?? (await v5jwt.encode({ token: p.token, secret, salt: cookieName }));
    const sent = new V5SessionStore({ name: cookieName, options: {} }, {}, stderrLogger).chunk(jwt, {});
    const config = {
      secret,
      basePath: "/auth",
      trustHost: true,
      providers: [V5Credentials({ credentials: {}, authorize: async () => null })],
      session: { strategy: "jwt", ...pick(p, ["maxAge"]) },
      logger: stderrLogger,
    };
    if (p.cookieName) {
      config.cookies = {
        sessionToken: {
          name: p.cookieName,
          options: { httpOnly: true, sameSite: "lax", path: "/", secure: !!p.https },
        },
      };
    }
    const request = new Request(`${scheme}://localhost/auth/session`, {
      headers: { cookie: cookieHeader(sent) },
    });
    const response = await Auth(request, config);
    const summary = await summariseResponse(response, cookieName, v5Reassemble);
    return { ...summary, sentToken: jwt, sentCookies: sent.map(cookieView) };
  },

  // ----- hand-rolled JWS (jsonwebtoken) ---------------------------------------
  "jws.sign": (p) => {
    check(p, {
      payload: "object",
      secret: "secret",
      algorithm: "string?",
      expiresIn: "timespan?",
      notBefore: "timespan?",
      noTimestamp: "boolean?",
      issuer: "string?",
      audience: "string?",
      subject: "string?",
    });
    const options = {
      algorithm: p.algorithm ?? "HS256",
      ...pick(p, ["expiresIn", "notBefore", "noTimestamp", "issuer", "audience", "subject"]),
    };
    const key = toSecret(p.secret);
    return jsonwebtoken.sign(p.payload, typeof key === "string" ? key : Buffer.from(key), options);
  },

  "jws.verify": (p) => {
    check(p, {
      token: "string",
      secret: "secret",
      algorithms: "array",
      clockTolerance: "number?",
      clockTimestamp: "number?",
      issuer: "string?",
      audience: "string?",
    });
    const options = {
      algorithms: p.algorithms,
      ...pick(p, ["clockTolerance", "clockTimestamp", "issuer", "audience"]),
    };
    if (options.clockTimestamp === undefined && p.now != null) options.clockTimestamp = Math.floor(p.now);
    const key = toSecret(p.secret);
    return jsonwebtoken.verify(p.token, typeof key === "string" ? key : Buffer.from(key), options);
  },

  // ----- jose ------------------------------------------------------------------
  /** SignJWT with exactly {alg} as protected header; claims are `payload` plus optional iat/exp. */
  "jose.signHS": async (p) => {
    check(p, {
      payload: "object",
      secret: "secret",
      alg: "string",
      issuedAt: "boolean?",
      expirationTime: "timespan?",
    });
    const key = toSecret(p.secret);
    let jwt = new jose.SignJWT(p.payload).setProtectedHeader({ alg: p.alg });
    if (p.issuedAt) jwt = jwt.setIssuedAt();
    if (p.expirationTime != null) jwt = jwt.setExpirationTime(p.expirationTime);
    return jwt.sign(typeof key === "string" ? new TextEncoder().encode(key) : key);
  },

  /** EncryptJWT with alg "dir" and a raw key; header is {alg, enc[, kid]}. */
  "jose.encryptDir": async (p) => {
    check(p, {
      payload: "object",
      key_b64url: "string",
      enc: "string",
      kid: "string?",
      issuedAt: "boolean?",
      expirationTime: "timespan?",
    });
    const header = { alg: "dir", enc: p.enc };
    if (p.kid != null) header.kid = p.kid;
    let jwt = new jose.EncryptJWT(p.payload).setProtectedHeader(header);
    if (p.issuedAt) jwt = jwt.setIssuedAt();
    if (p.expirationTime != null) jwt = jwt.setExpirationTime(p.expirationTime);
    return jwt.encrypt(jose.base64url.decode(p.key_b64url));
  },
};

// ---------------------------------------------------------------------------
// Request loop.
// ---------------------------------------------------------------------------
function errorFields(err) {
  if (err instanceof Error) {
    const out = { error: err.message || String(err), errorName: err.name };
    if (err.code !== undefined) out.errorCode = String(err.code);
    if (err.type !== undefined && out.errorCode === undefined) out.errorCode = String(err.type);
    return out;
  }
  return { error: String(err), errorName: typeof err };
}

function send(obj) {
  let line;
  try {
    line = JSON.stringify(obj);
  } catch (err) {
    line = JSON.stringify({ id: obj.id ?? null, ok: false, ...errorFields(err) });
  }
  writeResponseLine(`${line}\n`);
}

async function handle(line) {
  if (!line.trim()) return;
  let request;
  try {
    request = JSON.parse(line);
  } catch (err) {
    send({ id: null, ok: false, error: `invalid JSON request: ${err.message}`, errorName: "BadRequest" });
    return;
  }
  const id = isPlainObject(request) && "id" in request ? request.id : null;
  try {
    if (!isPlainObject(request)) throw new BadRequest("request must be a JSON object");
    const { op, params = {} } = request;
    if (typeof op !== "string" || !Object.hasOwn(OPS, op)) {
      throw new BadRequest(`unknown op ${JSON.stringify(op)}`);
    }
    if (!isPlainObject(params)) throw new BadRequest("params must be an object");
    if (params.now != null && !typeOk(params.now, "number")) {
      throw new BadRequest("param 'now' must be a number (Unix seconds)");
    }
    if (
      params.env != null &&
      !(isPlainObject(params.env) &&
        Object.values(params.env).every((v) => v === null || typeof v === "string"))
    ) {
      throw new BadRequest("param 'env' must be an object of string|null");
    }
    const run = () => OPS[op](params);
    const withClock = params.now != null ? () => withFrozenClock(params.now * 1000, run) : run;
    // v4.session applies its own env (it merges a default NEXTAUTH_URL).
    const withEnvAndClock =
      params.env != null && op !== "v4.session" ? () => withEnv(params.env, withClock) : withClock;
    const result = await withEnvAndClock();
    send({ id, ok: true, result: result === undefined ? null : result });
  } catch (err) {
    send({ id, ok: false, ...errorFields(err) });
  }
}

process.on("uncaughtException", (err) => console.error("[oracle] uncaught exception:", err));
process.on("unhandledRejection", (err) => console.error("[oracle] unhandled rejection:", err));

let queue = Promise.resolve();
const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  queue = queue.then(() => handle(line));
});
rl.on("close", () => {
  queue.then(() => process.exit(0));
});
console.error(`[oracle] ready ${JSON.stringify(VERSIONS)}`);
