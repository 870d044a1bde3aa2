#!/usr/bin/env node
/**
 * One-shot driver for sessiongate's Redis interop tests.
 *
 * Reads ONE JSON request {"op": "...", ...params} on stdin, runs the REAL library code, writes
 * ONE JSON answer {"ok": true, "result": ...} or {"ok": false, "error": "..."} on stdout.
 *
 *  - ba.*      better-auth with `secondaryStorage: redisStorage({client: new Redis(redisUrl),
 *              keyPrefix})` (@better-auth/redis-storage + ioredis) for sessions and a `pg` Pool
 *              (search_path = `schema`) for users and accounts: its own migrations, sign-up,
 *              sign-in, get-session, sign-out, revoke-sessions.
 *  - authjs.*  @auth/unstorage-adapter on unstorage's Redis driver (ioredis): createUser,
 *              createSession, getSessionAndUser, deleteSession, updateSession.
 */
import { randomUUID } from "node:crypto";

import { out, runOp } from "./run_op.mjs";
process.stdout.write = process.stderr.write.bind(process.stderr);
for (const level of ["log", "info", "debug", "warn"]) console[level] = (...a) => console.error(...a);

const { default: pg } = await import("pg");
const { Redis } = await import("ioredis");

async function withBetterAuth(p, fn) {
  const db = new pg.Pool({ connectionString: p.dsn, options: `-c search_path="${p.schema}"`, max: 2 });
  const client = new Redis(p.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 });
  try {
    const { betterAuth } = await import("better-auth");
    const { bearer } = await import("better-auth/plugins");
    const { redisStorage } = await import("@better-auth/redis-storage");
    const storage = redisStorage({ client, keyPrefix: p.keyPrefix });
    const options = {
      database: db,
      secondaryStorage: storage,
      secret: p.secret,
      baseURL: "http://localhost:3000",
      emailAndPassword: { enabled: true },
      plugins: [bearer()],
      logger: { disabled: true },
    };
    if (p.expiresIn) options.session = { expiresIn: p.expiresIn };
    return await fn({ auth: betterAuth(options), options, storage });
  } finally {
    client.disconnect();
    await db.end();
  }
}

function cookieAnswer(res, body) {
  return {
    status: res.status,
    setCookie: res.headers.getSetCookie(),
    userId: body?.user?.id ?? null,
    token: body?.token ?? null,
  };
}

async function withUnstorage(p, fn) {
  const { createStorage } = await import("unstorage");
  const { default: redisDriver } = await import("unstorage/drivers/redis");
  const { UnstorageAdapter } = await import("@auth/unstorage-adapter");
  const storage = createStorage({ driver: redisDriver({ url: p.redisUrl, base: p.base ?? "" }) });
  try {
    return await fn(UnstorageAdapter(storage, { baseKeyPrefix: p.baseKeyPrefix ?? "" }));
  } finally {
    await storage.dispose();
  }
}

const ops = {
  async "ba.migrate"(p) {
    return withBetterAuth(p, async ({ options }) => {
      const { getMigrations } = await import("better-auth/db/migration");
      const { runMigrations } = await getMigrations(options);
      await runMigrations();
      return true;
    });
  },
  async "ba.signup"(p) {
    return withBetterAuth(p, async ({ auth }) => {
      const res = await auth.api.signUpEmail({
        body: { email: p.email, password: p.password, name: p.name },
        asResponse: true,
      });
      return cookieAnswer(res, await res.json());
    });
  },
  async "ba.signin"(p) {
    return withBetterAuth(p, async ({ auth }) => {
      const res = await auth.api.signInEmail({
        body: { email: p.email, password: p.password },
        asResponse: true,
      });
      return cookieAnswer(res, await res.json());
    });
  },
  // Better Auth's own verdict on a request: the oracle the Python side must agree with
  async "ba.getSession"(p) {
    return withBetterAuth(p, async ({ auth }) => {
      const res = await auth.api.getSession({
        headers: new Headers(p.headers),
        query: { disableRefresh: true },
        asResponse: true,
      });
      const body = await res.json();
      return { status: res.status, userId: body?.user?.id ?? null };
    });
  },
  async "ba.signOut"(p) {
    return withBetterAuth(p, async ({ auth }) => {
      const res = await auth.api.signOut({ headers: new Headers(p.headers), asResponse: true });
      return { status: res.status };
    });
  },
  // "log out everywhere": deleteUserSessions, which also writes revoked-sessions-before-<id>
  async "ba.revokeSessions"(p) {
    return withBetterAuth(p, async ({ auth }) => {
      const res = await auth.api.revokeSessions({ headers: new Headers(p.headers), asResponse: true });
      return { status: res.status };
    });
  },
  async "ba.revokeSession"(p) {
    return withBetterAuth(p, async ({ auth }) => {
      const res = await auth.api.revokeSession({
        headers: new Headers(p.headers),
        body: { token: p.token },
        asResponse: true,
      });
      return { status: res.status };
    });
  },
  // a raw write through the real storage (e.g. a revocation mark left by a failed delete)
  async "ba.storageSet"(p) {
    return withBetterAuth(p, async ({ storage }) => {
      await storage.set(p.key, p.value, p.ttl);
      return true;
    });
  },
  async "authjs.create"(p) {
    return withUnstorage(p, async (adapter) => {
      const user = await adapter.createUser({
        id: randomUUID(), name: p.name, email: p.email, emailVerified: null, image: null,
      });
      const sessionToken = randomUUID(); // @auth/core generateSessionToken()
      const expires = new Date(p.expiresAt ?? Date.now() + 30 * 24 * 3600 * 1000);
      await adapter.createSession({ sessionToken, userId: user.id, expires });
      return { userId: user.id, sessionToken, expires: expires.toISOString() };
    });
  },
  async "authjs.getSessionAndUser"(p) {
    return withUnstorage(p, async (adapter) => {
      const found = await adapter.getSessionAndUser(p.sessionToken);
      // Auth.js core's session action: expired sessions are deleted and refused
      if (!found || new Date(found.session.expires).valueOf() < Date.now()) return null;
      return { userId: found.user.id, expires: new Date(found.session.expires).toISOString() };
    });
  },
  async "authjs.deleteSession"(p) {
    return withUnstorage(p, async (adapter) => {
      await adapter.deleteSession(p.sessionToken);
      return true;
    });
  },
  async "authjs.updateSession"(p) {
    return withUnstorage(p, async (adapter) => {
      await adapter.updateSession({ sessionToken: p.sessionToken, expires: new Date(p.expiresAt) });
      return true;
    });
  },
};

await runOp(ops);
