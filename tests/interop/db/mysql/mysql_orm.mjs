#!/usr/bin/env node
/**
 * One-shot driver for sessiongate's MySQL/MariaDB interop tests: the REAL Prisma client (Prisma 7
 * on the Rust-free @prisma/adapter-mariadb), the REAL Drizzle ORM on mysql2 behind the real
 * @auth/drizzle-adapter, and REAL better-auth (its Kysely adapter on a mysql2 pool, its own
 * migrations) write sessions into MariaDB. Python then reads them.
 *
 * Reads ONE JSON request {"op": "...", ...params} on stdin and writes ONE JSON answer
 * {"ok": true, "result": ...} or {"ok": false, "error": "..."} on stdout (library logging goes
 * to stderr). Every op takes `url`, the DATABASE_URL exactly as the app would hold it (the
 * same string sessiongate is then given).
 *
 * Auth.js ops take `orm` ("prisma", with `client`: the folder `prisma generate` wrote; or
 * "drizzle"). Better Auth ops ("ba.*") take `secret`.
 */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";

import { out, runOp } from "../run_op.mjs";
process.stdout.write = process.stderr.write.bind(process.stderr);
for (const level of ["log", "info", "debug", "warn"]) console[level] = (...a) => console.error(...a);

const require = createRequire(import.meta.url);

// --------------------------------------------------------------------------- Auth.js adapters

async function withPrisma(p, fn) {
  const { PrismaAdapter } = await import("@auth/prisma-adapter");
  const { PrismaMariaDb } = await import("@prisma/adapter-mariadb");
  const { PrismaClient } = require(path.join(p.client, "index.js"));
  // the Prisma 7 docs' set-up: the adapter takes the DATABASE_URL string (mysql:// is rewritten
  // to mariadb:// for the mariadb connector)
  const prisma = new PrismaClient({ adapter: new PrismaMariaDb(p.url) });
  try {
    return await fn(PrismaAdapter(prisma));
  } finally {
    await prisma.$disconnect();
  }
}

async function withDrizzle(p, fn) {
  const { DrizzleAdapter } = await import("@auth/drizzle-adapter");
  const { drizzle } = await import("drizzle-orm/mysql2");
  const db = drizzle(p.url); // the Drizzle docs' set-up: a mysql2 pool from the URL
  try {
    return await fn(DrizzleAdapter(db));
  } finally {
    await db.$client.end();
  }
}

function withAdapter(p, fn) {
  if (p.orm === "prisma") return withPrisma(p, fn);
  if (p.orm === "drizzle") return withDrizzle(p, fn);
  throw new Error(`unknown ORM ${p.orm}`);
}

// ------------------------------------------------------------------------------- Better Auth

async function withBetterAuth(p, fn) {
  const { betterAuth } = await import("better-auth");
  const { bearer } = await import("better-auth/plugins");
  const { createPool } = await import("mysql2/promise");
  const pool = createPool(p.url); // better-auth's MySQL docs: a mysql2 pool from the URL
  const options = {
    database: pool,
    secret: p.secret,
    baseURL: "http://localhost:3000",
    emailAndPassword: { enabled: true },
    plugins: [bearer()],
    logger: { disabled: true },
  };
  try {
    return await fn(betterAuth(options), options);
  } finally {
    await pool.end();
  }
}

const ops = {
  // the adapter's createUser + createSession, with Auth.js core's default session token
  async create(p) {
    return withAdapter(p, async (adapter) => {
      const user = await adapter.createUser({
        id: randomUUID(), // Drizzle's default; Prisma ignores it and uses cuid()
        name: p.name ?? null,
        email: p.email,
        emailVerified: null,
        image: p.image ?? null,
      });
      const sessions = [];
      for (const expiresAt of p.expiresAt) {
        const created = await adapter.createSession({
          sessionToken: randomUUID(), // @auth/core generateSessionToken()
          userId: user.id,
          expires: new Date(expiresAt),
        });
        sessions.push({
          sessionToken: created.sessionToken,
          expires: new Date(created.expires).getTime(),
        });
      }
      return { userId: String(user.id), sessions };
    });
  },
  async getSessionAndUser(p) {
    return withAdapter(p, async (adapter) => {
      const found = await adapter.getSessionAndUser(p.sessionToken);
      return found && { userId: String(found.user.id), expires: new Date(found.session.expires).getTime() };
    });
  },
  async updateSession(p) {
    return withAdapter(p, async (adapter) => {
      const updated = await adapter.updateSession({
        sessionToken: p.sessionToken,
        expires: new Date(p.expiresAt),
      });
      return updated && { expires: new Date(updated.expires).getTime() };
    });
  },
  async deleteSession(p) {
    return withAdapter(p, async (adapter) => {
      await adapter.deleteSession(p.sessionToken);
      return true;
    });
  },
  // better-auth's own migrations (Kysely DDL for MySQL), then a real email sign-up
  async "ba.signup"(p) {
    return withBetterAuth(p, async (auth, options) => {
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
    return withBetterAuth(p, async (auth) => {
      const res = await auth.api.getSession({ headers: new Headers(p.headers), asResponse: true });
      const body = await res.json();
      return {
        status: res.status,
        userId: body?.user?.id ?? null,
        expiresAt: body?.session ? new Date(body.session.expiresAt).getTime() : null,
      };
    });
  },
  async "ba.signOut"(p) {
    return withBetterAuth(p, async (auth) => {
      const res = await auth.api.signOut({ headers: new Headers(p.headers), asResponse: true });
      return { status: res.status };
    });
  },
  async versions() {
    const { readFileSync } = await import("node:fs");
    const here = path.dirname(new URL(import.meta.url).pathname);
    const pkg = (name) =>
      JSON.parse(readFileSync(path.join(here, "node_modules", name, "package.json"), "utf8")).version;
    return Object.fromEntries(
      [
        "@prisma/client",
        "@prisma/adapter-mariadb",
        "mariadb",
        "@auth/prisma-adapter",
        "@auth/drizzle-adapter",
        "drizzle-orm",
        "mysql2",
        "better-auth",
        "kysely",
      ].map((name) => [name, pkg(name)]),
    );
  },
};

await runOp(ops);
