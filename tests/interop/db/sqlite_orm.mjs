#!/usr/bin/env node
/**
 * One-shot driver for sessiongate's SQLite interop tests: the REAL Prisma client (Prisma 7 with
 * its better-sqlite3 or libSQL driver adapter) and the REAL Drizzle ORM, each behind the real
 * Auth.js adapter (@auth/prisma-adapter, @auth/drizzle-adapter), write Auth.js sessions into an
 * SQLite file. Python then reads that file.
 *
 * Reads ONE JSON request {"op": "...", ...params} on stdin and writes ONE JSON answer
 * {"ok": true, "result": ...} or {"ok": false, "error": "..."} on stdout (library logging goes
 * to stderr). Every op takes `cwd` (the process changes into it first, so a relative `url` such
 * as `file:./dev.db` is resolved exactly as a Next.js app started in that folder resolves it)
 * and `url` (the database URL as the app's DATABASE_URL would hold it).
 *
 * Prisma ops also take `client` (the folder `prisma generate` wrote), `adapter`
 * ("better-sqlite3" | "libsql") and `timestampFormat` ("iso8601", the Prisma 7 default, or
 * "unixepoch-ms", the format of Prisma's native SQLite connector). Drizzle ops take `driver`
 * ("better-sqlite3" | "libsql") and `mode` ("timestamp_ms", the Auth.js schema, or
 * "timestamp", seconds).
 */
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";

import { out, runOp } from "./run_op.mjs";
process.stdout.write = process.stderr.write.bind(process.stderr);
for (const level of ["log", "info", "debug", "warn"]) console[level] = (...a) => console.error(...a);

const require = createRequire(import.meta.url);

// ------------------------------------------------------------------------------------ Prisma

async function prismaClient(p) {
  const { PrismaClient } = require(path.join(p.client, "index.js"));
  const options = { timestampFormat: p.timestampFormat ?? "iso8601" };
  let adapter;
  if (p.adapter === "libsql") {
    const { PrismaLibSql } = await import("@prisma/adapter-libsql");
    adapter = new PrismaLibSql({ url: p.url }, options);
  } else if (p.adapter === "better-sqlite3") {
    const { PrismaBetterSqlite3 } = await import("@prisma/adapter-better-sqlite3");
    adapter = new PrismaBetterSqlite3({ url: p.url }, options);
  } else {
    throw new Error(`unknown Prisma adapter ${p.adapter}`);
  }
  return new PrismaClient({ adapter });
}

async function withPrisma(p, fn) {
  const { PrismaAdapter } = await import("@auth/prisma-adapter");
  const prisma = await prismaClient(p);
  try {
    return await fn(PrismaAdapter(prisma), prisma);
  } finally {
    await prisma.$disconnect();
  }
}

// ----------------------------------------------------------------------------------- Drizzle

async function drizzleDb(p) {
  if (p.driver === "libsql") {
    const { drizzle } = await import("drizzle-orm/libsql");
    const { createClient } = await import("@libsql/client");
    const client = createClient({ url: p.url });
    return { db: drizzle(client), close: () => client.close() };
  }
  if (p.driver === "better-sqlite3") {
    const { drizzle } = await import("drizzle-orm/better-sqlite3");
    const { default: Database } = await import("better-sqlite3");
    const client = new Database(p.url, { fileMustExist: true });
    return { db: drizzle(client), close: () => client.close() };
  }
  throw new Error(`unknown Drizzle driver ${p.driver}`);
}

async function drizzleTables(mode) {
  if (mode === "timestamp_ms") return undefined; // the adapter's own default tables
  if (mode !== "timestamp") throw new Error(`unknown Drizzle timestamp mode ${mode}`);
  // a project's own schema with seconds: the same tables, `mode: "timestamp"`
  const { integer, sqliteTable, text } = await import("drizzle-orm/sqlite-core");
  const usersTable = sqliteTable("user", {
    id: text("id").primaryKey().$defaultFn(() => randomUUID()),
    name: text("name"),
    email: text("email").unique(),
    emailVerified: integer("emailVerified", { mode: "timestamp" }),
    image: text("image"),
  });
  const sessionsTable = sqliteTable("session", {
    sessionToken: text("sessionToken").primaryKey(),
    userId: text("userId").notNull().references(() => usersTable.id, { onDelete: "cascade" }),
    expires: integer("expires", { mode: "timestamp" }).notNull(),
  });
  return { usersTable, sessionsTable };
}

async function withDrizzle(p, fn) {
  const { DrizzleAdapter } = await import("@auth/drizzle-adapter");
  const { db, close } = await drizzleDb(p);
  try {
    return await fn(DrizzleAdapter(db, await drizzleTables(p.mode ?? "timestamp_ms")));
  } finally {
    close();
  }
}

// --------------------------------------------------------------------- the Auth.js adapter ops

function withAdapter(p, fn) {
  if (p.orm === "prisma") return withPrisma(p, fn);
  if (p.orm === "drizzle") return withDrizzle(p, fn);
  throw new Error(`unknown ORM ${p.orm}`);
}

const ops = {
  // the adapter's createUser + createSession, with Auth.js core's default session token
  async create(p) {
    return withAdapter(p, async (adapter) => {
      const user = await adapter.createUser({
        name: p.name ?? null,
        email: p.email,
        emailVerified: p.emailVerifiedAt == null ? null : new Date(p.emailVerifiedAt),
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
  async versions() {
    const pkg = (name) => require(`${name}/package.json`).version;
    return Object.fromEntries(
      [
        "@prisma/client",
        "@prisma/adapter-better-sqlite3",
        "@prisma/adapter-libsql",
        "@auth/prisma-adapter",
        "@auth/drizzle-adapter",
        "drizzle-orm",
        "better-sqlite3",
        "@libsql/client",
      ].map((name) => [name, pkg(name)]),
    );
  },
};

await runOp(ops, (request) => {
  if (request.cwd) process.chdir(request.cwd);
});
