#!/usr/bin/env node
/**
 * One-shot driver for sessiongate's configuration-parity interop tests (issue #13, items 6-8).
 *
 * Reads ONE JSON request {"op": "...", ...params} on stdin, runs the REAL library code, writes
 * ONE JSON answer {"ok": true, "result": ...} or {"ok": false, "error": "..."} on stdout
 * (library logging goes to stderr). `now` (epoch milliseconds) freezes Date for the op.
 *
 * - better-auth 1.7.25 on PostgreSQL with `usePlural` (its Kysely adapter) or renamed models and
 *   fields; the tables come from better-auth's own migrations (`getMigrations`);
 * - @auth/core 0.41.3 `Auth()` with the database strategy on @auth/pg-adapter: the real
 *   `/auth/session` route and its `updateAge` arithmetic;
 * - @auth/core `Auth()` with the jwt strategy and a project's own `jwt.encode` / `jwt.decode`
 *   writing a JWS with jose (HS256 with a secret, RS256 / ES256 / EdDSA with a private key).
 */
import { randomUUID } from "node:crypto";

import { out, runOp } from "./run_op.mjs";
process.stdout.write = process.stderr.write.bind(process.stderr);
for (const level of ["log", "info", "debug", "warn"]) console[level] = (...a) => console.error(...a);

const RealDate = globalThis.Date;

function freezeClock(ms) {
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
}

const logger = { error: (e) => console.error(e), warn: (w) => console.error(w), debug: () => {} };

async function withPool(p, fn) {
  const { default: pg } = await import("pg");
  const db = new pg.Pool({ connectionString: p.dsn, options: `-c search_path="${p.schema}"`, max: 2 });
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

// ------------------------------------------------------------------------------- Better Auth

async function betterAuthOn(p, db, options) {
  const { betterAuth } = await import("better-auth");
  const base = {
    secret: p.secret,
    baseURL: "http://localhost:3000",
    emailAndPassword: { enabled: true },
    logger: { disabled: true },
    ...options,
  };
  if (p.usePlural) {
    const { Kysely, PostgresDialect } = await import("kysely");
    const { kyselyAdapter } = await import("@better-auth/kysely-adapter");
    const kysely = new Kysely({ dialect: new PostgresDialect({ pool: db }) });
    base.database = kyselyAdapter(kysely, { type: "postgres", usePlural: true });
  } else {
    base.database = db;
  }
  return betterAuth(base);
}

// The tables better-auth's own migrations create for these model options. usePlural is an
// adapter setting the migrator does not read, so plural tables are created by naming every
// model in plural: exactly the names the plural adapter then queries.
async function migrate(db, p, models) {
  const { getMigrations } = await import("better-auth/db/migration");
  const { runMigrations } = await getMigrations({
    database: db,
    secret: p.secret,
    emailAndPassword: { enabled: true },
    logger: { disabled: true },
    ...models,
  });
  await runMigrations();
}

const PLURAL_MODELS = {
  user: { modelName: "users" },
  session: { modelName: "sessions" },
  account: { modelName: "accounts" },
  verification: { modelName: "verifications" },
};

// ----------------------------------------------------------------------------------- Auth.js

async function authjsDatabaseConfig(db, p) {
  const { default: PostgresAdapter } = await import("@auth/pg-adapter");
  const { default: GitHub } = await import("@auth/core/providers/github");
  return {
    secret: "parity-interop-secret",
    basePath: "/auth",
    trustHost: true,
    adapter: PostgresAdapter(db),
    providers: [GitHub({ clientId: "id", clientSecret: "secret" })],
    session: { strategy: "database", maxAge: p.maxAge, updateAge: p.updateAge },
    logger,
  };
}

async function jwsHooks(p) {
  const jose = await import("jose");
  let signKey;
  let verifyKey;
  let publicKey = null;
  if (p.alg === "HS256") {
    signKey = verifyKey = new TextEncoder().encode(p.secret);
  } else {
    const pair = await jose.generateKeyPair(p.alg, { extractable: true, crv: p.crv });
    signKey = pair.privateKey;
    verifyKey = pair.publicKey;
    publicKey = {
      pem: await jose.exportSPKI(pair.publicKey),
      jwk: { ...(await jose.exportJWK(pair.publicKey)), kid: "parity-1", alg: p.alg },
    };
  }
  const header = p.alg === "HS256" ? { alg: "HS256", typ: "JWT" } : { alg: p.alg, kid: "parity-1" };
  // what a project writes in `jwt: { encode, decode }` (NextAuthConfig / AuthConfig)
  const encode = async ({ token, maxAge }) =>
    new jose.SignJWT(token)
      .setProtectedHeader(header)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + (maxAge ?? 2592000))
      .sign(signKey);
  const decode = async ({ token }) => {
    if (!token) return null;
    const { payload } = await jose.jwtVerify(token, verifyKey, { algorithms: [p.alg] });
    return payload;
  };
  return { encode, decode, publicKey };
}

// ------------------------------------------------------------------------------------ ops

const ops = {
  async "ba.signup"(p) {
    return withPool(p, async (db) => {
      await migrate(db, p, p.usePlural ? PLURAL_MODELS : p.models ?? {});
      const auth = await betterAuthOn(p, db, p.usePlural ? {} : p.models ?? {});
      const res = await auth.api.signUpEmail({
        body: { email: p.email, password: "correct horse battery staple", name: p.name },
        asResponse: true,
      });
      const body = await res.json();
      return { status: res.status, setCookie: res.headers.getSetCookie(), userId: body.user?.id ?? null };
    });
  },
  async "ba.getSession"(p) {
    return withPool(p, async (db) => {
      const auth = await betterAuthOn(p, db, p.usePlural ? {} : p.models ?? {});
      const res = await auth.api.getSession({ headers: new Headers(p.headers), asResponse: true });
      const body = await res.json();
      return { status: res.status, userId: body?.user?.id ?? null };
    });
  },
  async "authjs.setup"(p) {
    const { readFileSync } = await import("node:fs");
    const sql = readFileSync(new URL("./pg-adapter-schema.sql", import.meta.url), "utf8");
    await withPool(p, (db) => db.query(sql));
    return true;
  },
  // the real adapter's createUser, then createSession for each expiry (ms), as Auth.js core
  async "authjs.create"(p) {
    const { default: PostgresAdapter } = await import("@auth/pg-adapter");
    return withPool(p, async (db) => {
      const adapter = PostgresAdapter(db);
      const user = await adapter.createUser({ name: "Ada", email: `${randomUUID()}@example.com`, emailVerified: null });
      const tokens = [];
      for (const expiresAt of p.expiresAt) {
        const session = await adapter.createSession({ sessionToken: randomUUID(), userId: user.id, expires: new Date(expiresAt) });
        tokens.push(session.sessionToken);
      }
      return { userId: String(user.id), tokens };
    });
  },
  async "authjs.expires"(p) {
    const { default: PostgresAdapter } = await import("@auth/pg-adapter");
    return withPool(p, async (db) => {
      const found = await PostgresAdapter(db).getSessionAndUser(p.sessionToken);
      return found && { expires: found.session.expires.valueOf(), userId: String(found.user.id) };
    });
  },
  // GET /auth/session through the real Auth() (database strategy) at the frozen `now`
  async "authjs.session"(p) {
    const { Auth } = await import("@auth/core");
    return withPool(p, async (db) => {
      const config = await authjsDatabaseConfig(db, p);
      const request = new Request("http://localhost/auth/session", {
        headers: { cookie: `authjs.session-token=${p.sessionToken}` },
      });
      const response = await Auth(request, config);
      return { status: response.status, body: await response.json() };
    });
  },
  // Auth() (jwt strategy) with the project's jwt.encode/decode writing a JWS: a first cookie from
  // the same encode, then GET /auth/session re-issues it through Auth.js's own cookie machinery
  async "authjs.jws"(p) {
    const { Auth } = await import("@auth/core");
    const { default: Credentials } = await import("@auth/core/providers/credentials");
    const hooks = await jwsHooks(p);
    const cookieName = p.https ? "__Secure-authjs.session-token" : "authjs.session-token";
    const first = await hooks.encode({ token: p.claims, maxAge: p.maxAge });
    const config = {
      secret: "parity-interop-secret",
      basePath: "/auth",
      trustHost: true,
      providers: [Credentials({ credentials: {}, authorize: async () => null })],
      session: { strategy: "jwt", maxAge: p.maxAge },
      jwt: { encode: hooks.encode, decode: hooks.decode },
      callbacks: { jwt: ({ token }) => ({ ...token, role: "admin" }) },
      logger,
    };
    const request = new Request(`${p.https ? "https" : "http"}://localhost/auth/session`, {
      headers: { cookie: `${cookieName}=${first}` },
    });
    const response = await Auth(request, config);
    return {
      status: response.status,
      body: await response.json(),
      setCookie: response.headers.getSetCookie(),
      cookieName,
      publicKey: hooks.publicKey,
    };
  },
  // the project's decode hook: what the JS side accepts (to compare verdicts)
  async "authjs.jwsDecode"(p) {
    const jose = await import("jose");
    const key = p.alg === "HS256" ? new TextEncoder().encode(p.secret) : await jose.importSPKI(p.pem, p.alg);
    try {
      const { payload } = await jose.jwtVerify(p.token, key, { algorithms: [p.alg] });
      return { ok: true, payload };
    } catch (error) {
      return { ok: false, code: error.code ?? String(error) };
    }
  },
};

await runOp(ops, (request) => {
  if (request.now != null) freezeClock(request.now);
});
