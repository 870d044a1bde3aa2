#!/usr/bin/env node
/**
 * One-shot driver for sessiongate's database interop tests.
 *
 * Reads ONE JSON request {"op": "...", ...params} on stdin, runs the REAL library code
 * (@auth/pg-adapter, better-auth + bearer plugin, both on a `pg` Pool), writes ONE JSON
 * answer {"ok": true, "result": ...} or {"ok": false, "error": "..."} on stdout. Library
 * logging goes to stderr. Every op takes `dsn` and `schema` (the PostgreSQL schema the test
 * owns; it becomes the pool's search_path).
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { out, runOp } from "./run_op.mjs";
process.stdout.write = process.stderr.write.bind(process.stderr);
for (const level of ["log", "info", "debug", "warn"]) console[level] = (...a) => console.error(...a);

const HERE = path.dirname(fileURLToPath(import.meta.url));
const { default: pg } = await import("pg");
const { default: PostgresAdapter } = await import("@auth/pg-adapter");

function pool(p) {
  return new pg.Pool({ connectionString: p.dsn, options: `-c search_path="${p.schema}"`, max: 2 });
}

async function withPool(p, fn) {
  const db = pool(p);
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

async function betterAuth(p, db) {
  const { betterAuth } = await import("better-auth");
  const { bearer } = await import("better-auth/plugins");
  const options = {
    database: db,
    secret: p.secret,
    baseURL: p.baseURL ?? "http://localhost:3000",
    emailAndPassword: { enabled: true },
    plugins: [bearer()],
    logger: { disabled: true },
  };
  if (p.cookieCache) options.session = { cookieCache: { enabled: true, strategy: p.cookieCache } };
  return { auth: betterAuth(options), options };
}

const ops = {
  async "authjs.setup"(p) {
    const file = p.shape === "prisma" ? "prisma-schema.sql" : "pg-adapter-schema.sql";
    const sql = readFileSync(path.join(HERE, file), "utf8");
    await withPool(p, (db) => db.query(sql));
    return { file };
  },
  // the real adapter's createUser + createSession, with Auth.js core's default token
  async "authjs.create"(p) {
    return withPool(p, async (db) => {
      const adapter = PostgresAdapter(db);
      const user = await adapter.createUser({
        name: p.name, email: p.email, emailVerified: null, image: p.image ?? null,
      });
      const sessionToken = randomUUID(); // @auth/core generateSessionToken()
      const expires = new Date(p.expiresAt ?? Date.now() + 30 * 24 * 3600 * 1000);
      const session = await adapter.createSession({ sessionToken, userId: user.id, expires });
      return {
        userId: String(user.id),
        sessionToken: session.sessionToken,
        expires: new Date(session.expires).toISOString(),
      };
    });
  },
  async "authjs.getSessionAndUser"(p) {
    return withPool(p, async (db) => {
      const found = await PostgresAdapter(db).getSessionAndUser(p.sessionToken);
      return found && { userId: String(found.user.id), expires: new Date(found.session.expires).toISOString() };
    });
  },
  async "authjs.deleteSession"(p) {
    return withPool(p, async (db) => {
      await PostgresAdapter(db).deleteSession(p.sessionToken);
      return true;
    });
  },
  async "authjs.updateSession"(p) {
    return withPool(p, async (db) => {
      await PostgresAdapter(db).updateSession({ sessionToken: p.sessionToken, expires: new Date(p.expiresAt) });
      return true;
    });
  },
  // better-auth's own migrations, then a real email sign-up through its API
  async "ba.signup"(p) {
    return withPool(p, async (db) => {
      const { auth, options } = await betterAuth(p, db);
      const { getMigrations } = await import("better-auth/db/migration");
      const { runMigrations } = await getMigrations(options);
      await runMigrations();
      const res = await auth.api.signUpEmail({
        body: { email: p.email, password: p.password, name: p.name },
        asResponse: true,
      });
      const body = await res.json();
      return {
        status: res.status,
        setCookie: res.headers.getSetCookie(),
        setAuthToken: res.headers.get("set-auth-token"),
        userId: body.user?.id ?? null,
        token: body.token ?? null,
      };
    });
  },
  async "ba.getSession"(p) {
    return withPool(p, async (db) => {
      const { auth } = await betterAuth(p, db);
      const res = await auth.api.getSession({ headers: new Headers(p.headers), asResponse: true });
      const body = await res.json();
      return { status: res.status, userId: body?.user?.id ?? null, setCookie: res.headers.getSetCookie() };
    });
  },
  async "ba.signOut"(p) {
    return withPool(p, async (db) => {
      const { auth } = await betterAuth(p, db);
      const res = await auth.api.signOut({ headers: new Headers(p.headers), asResponse: true });
      return { status: res.status };
    });
  },
};

await runOp(ops);
