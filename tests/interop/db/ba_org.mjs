#!/usr/bin/env node
/**
 * One-shot oracle for sessiongate's Better Auth plugin interop tests (organizations, API keys).
 *
 * Reads ONE JSON request {"op": "...", ...params} on stdin, runs the REAL better-auth 1.7.25
 * with admin(), organization() (dynamic access control on), apiKey() (@better-auth/api-key)
 * and bearer(), on PostgreSQL (`dsn` + `schema`, the pool's search_path) or on SQLite
 * (`sqlite`: a file path, better-sqlite3), and writes ONE JSON answer {"ok": true, "result"}
 * or {"ok": false, "error"} on stdout. Library logging goes to stderr.
 *
 * ops:
 *   setup  migrations; users owner/admin/member/multi/spaced/auditor/outsider; one organization
 *          with a member of each role; a dynamic role "auditor"; API keys enabled, disabled,
 *          expired, with permissions, exhausted, organization-owned.
 *   judge  the plugins' own answers: POST /organization/has-permission for each
 *          (user, permissions), get-session with x-api-key for each key (the plugin's
 *          session hook), auth.api.verifyApiKey for each (key, permissions). Run after the
 *          Python side decided: the plugin deletes expired keys and spends quotas.
 *   deleteUser  remove a user (an API key's owner) by hand.
 *   serve  an HTTP server (Node's http + toNodeHandler) on `port`, for the remote verifier.
 */
import http from "node:http";

import { out, runOp } from "./run_op.mjs";
process.stdout.write = process.stderr.write.bind(process.stderr);
for (const level of ["log", "info", "debug", "warn"]) console[level] = (...a) => console.error(...a);

const DAY = 24 * 3600;

async function database(p) {
  if (p.sqlite) {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(p.sqlite);
    return { db, sql: (text) => db.exec(text), close: async () => db.close() };
  }
  const { default: pg } = await import("pg");
  const db = new pg.Pool({ connectionString: p.dsn, options: `-c search_path="${p.schema}"`, max: 2 });
  return { db, sql: (text) => db.query(text), close: () => db.end() };
}

async function makeAuth(p, db) {
  const { betterAuth } = await import("better-auth");
  const { admin, organization, bearer } = await import("better-auth/plugins");
  const { createAccessControl } = await import("better-auth/plugins/access");
  const { defaultStatements, ownerAc, adminAc, memberAc } = await import(
    "better-auth/plugins/organization/access"
  );
  const { apiKey } = await import("@better-auth/api-key");
  const ac = createAccessControl({ ...defaultStatements, project: ["read", "write"] });
  const options = {
    database: db,
    secret: p.secret,
    baseURL: p.baseURL ?? "http://localhost:3000",
    emailAndPassword: { enabled: true },
    plugins: [
      admin(),
      organization({
        ac,
        roles: {
          // the owner may hand out the "project" statements of the dynamic roles below
          owner: ac.newRole({ ...ownerAc.statements, project: ["read", "write"] }),
          admin: ac.newRole(adminAc.statements),
          member: ac.newRole(memberAc.statements),
        },
        dynamicAccessControl: { enabled: true },
      }),
      apiKey({ enableSessionForAPIKeys: true, rateLimit: { enabled: false } }),
      bearer(),
    ],
    logger: { disabled: true },
  };
  return { auth: betterAuth(options), options };
}

async function withAuth(p, fn) {
  const { db, sql, close } = await database(p);
  try {
    const { auth, options } = await makeAuth(p, db);
    return await fn(auth, options, sql);
  } finally {
    await close();
  }
}

async function signUp(auth, email, name) {
  const res = await auth.api.signUpEmail({
    body: { email, password: "correct horse battery staple", name },
    asResponse: true,
  });
  const body = await res.json();
  return { id: body.user.id, token: res.headers.get("set-auth-token") };
}

const ops = {
  async setup(p) {
    return withAuth(p, async (auth, options, sql) => {
      const { getMigrations } = await import("better-auth/db/migration");
      const { runMigrations } = await getMigrations(options);
      await runMigrations();
      const users = {};
      for (const name of ["owner", "admin", "member", "multi", "spaced", "auditor", "outsider"]) {
        users[name] = await signUp(auth, `${name}@example.com`, name);
      }
      const bearer = (u) => new Headers({ authorization: `Bearer ${u.token}` });
      const org = await auth.api.createOrganization({
        headers: bearer(users.owner),
        body: { name: "Acme", slug: "acme" },
      });
      const add = (user, role) =>
        auth.api.addMember({ body: { userId: users[user].id, role, organizationId: org.id } });
      await add("admin", "admin");
      await add("member", "member");
      await add("multi", ["member", "admin"]);
      await add("spaced", "member");
      await auth.api.createOrgRole({
        headers: bearer(users.owner),
        body: { role: "auditor", permission: { project: ["read"], member: ["create"] }, organizationId: org.id },
      });
      await auth.api.createOrgRole({
        headers: bearer(users.owner),
        body: { role: "member", permission: { project: ["read"] }, organizationId: org.id },
      }).catch((e) => console.error("member role extension refused:", String(e)));
      await add("auditor", "auditor");
      // a role column written by hand with blanks around the names (trimmed when read)
      await sql(`UPDATE member SET role = ' owner , member ' WHERE "userId" = '${users.spaced.id}'`);
      const keys = {};
      const create = async (label, body) => {
        const made = await auth.api.createApiKey({ body: { name: label, ...body } });
        keys[label] = { key: made.key, id: made.id };
      };
      await create("plain", { userId: users.member.id });
      await create("perms", { userId: users.member.id, permissions: { project: ["read"] } });
      await create("disabled", { userId: users.admin.id });
      await auth.api.updateApiKey({ body: { keyId: keys.disabled.id, userId: users.admin.id, enabled: false } });
      await create("expired", { userId: users.admin.id, expiresIn: DAY });
      const past = p.sqlite ? `'${new Date(Date.now() - 3600e3).toISOString()}'` : "now() - interval '1 hour'";
      await sql(`UPDATE apikey SET "expiresAt" = ${past} WHERE id = '${keys.expired.id}'`);
      await create("future", { userId: users.owner.id, expiresIn: DAY });
      await create("exhausted", { userId: users.owner.id, remaining: 0 });
      await create("quota", { userId: users.owner.id, remaining: 5 });
      await create("orphan", { userId: users.outsider.id });
      return { users, orgId: org.id, keys };
    });
  },
  async judge(p) {
    return withAuth(p, async (auth) => {
      const permissions = [];
      for (const check of p.permissions ?? []) {
        const res = await auth.api.hasPermission({
          headers: new Headers({ authorization: `Bearer ${check.token}` }),
          body: { organizationId: check.orgId, permissions: check.permissions },
          asResponse: true,
        });
        const body = await res.json();
        permissions.push({ status: res.status, success: res.status === 200 ? body.success : false });
      }
      // the api-key plugin's session hook: what a request with x-api-key gets
      const sessions = [];
      for (const key of p.sessionKeys ?? []) {
        try {
          const res = await auth.api.getSession({
            headers: new Headers({ "x-api-key": key }),
            asResponse: true,
          });
          const text = await res.text();
          const body = text ? JSON.parse(text) : null;
          sessions.push({ status: res.status, userId: body?.user?.id ?? null, code: body?.code ?? null });
        } catch (error) {
          // the hook throws its APIError before the endpoint runs
          sessions.push({ status: error.statusCode ?? 500, userId: null, code: error.body?.code ?? null });
        }
      }
      const keys = [];
      for (const check of p.keys ?? []) {
        const body = { key: check.key };
        if (check.permissions) body.permissions = check.permissions;
        const res = await auth.api.verifyApiKey({ body });
        keys.push({ valid: res.valid, code: res.error?.code ?? null });
      }
      return { permissions, sessions, keys };
    });
  },
  async deleteUser(p) {
    return withAuth(p, async (auth, options, sql) => {
      await sql(`DELETE FROM "session" WHERE "userId" = '${p.userId}'`);
      await sql(`DELETE FROM "user" WHERE id = '${p.userId}'`);
      return true;
    });
  },
  async serve(p) {
    const { db } = await database(p);
    const { auth } = await makeAuth(p, db);
    const { toNodeHandler } = await import("better-auth/node");
    const server = http.createServer(toNodeHandler(auth));
    await new Promise((resolve) => server.listen(p.port ?? 0, "127.0.0.1", resolve));
    out(JSON.stringify({ ok: true, result: { port: server.address().port } }) + "\n");
    await new Promise(() => {}); // until the test kills us
  },
};

await runOp(ops);
