#!/usr/bin/env node
/**
 * One-shot driver for sessiongate's Better Auth admin-plugin interop tests.
 *
 * Reads ONE JSON request {"op": "...", ...params} on stdin, runs the REAL better-auth 1.7.25
 * with admin() and bearer() (and the cookie cache when asked) on PostgreSQL (`dsn` + `schema`)
 * or SQLite (`sqlite`: a file path, better-sqlite3), writes ONE JSON answer {"ok": true,
 * "result": ...} or {"ok": false, "error": "..."} on stdout. Library logging goes to stderr.
 *
 * ops:
 *   setup  migrations; signs users up; makes one admin; sets roles through /admin/set-role;
 *          bans through /admin/ban-user (which deletes the user's sessions) or through the
 *          adapter (sessions kept; expiresIn may be negative: an expired ban); impersonates;
 *          answers every user's cookies, the session as get-session sees it (from the
 *          database, which also rewrites the cookie cache) and /admin/has-permission verdicts
 *   judge  signs every user in again: the plugin's own ban check (403 BANNED_USER or 200).
 *          Run it after the Python side decided: signing in lifts an expired ban.
 *   twoFactor  (with twoFactor()) signs a user up, enables two-factor authentication, signs
 *          in again: answers every Set-Cookie of that sign-in (the first session cookies are
 *          what a client that ignores the deletions keeps), the body, and what get-session
 *          says with those cookies, from the cookie cache and from the database
 */
import { out, runOp } from "./run_op.mjs";
process.stdout.write = process.stderr.write.bind(process.stderr);
for (const level of ["log", "info", "debug", "warn"]) console[level] = (...a) => console.error(...a);

const PASSWORD = "correct horse battery staple";
const UA = "sessiongate-interop/1.0";

async function open(p) {
  if (p.sqlite) {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(p.sqlite);
    return { database: db, close: async () => db.close() };
  }
  const { default: pg } = await import("pg");
  const db = new pg.Pool({ connectionString: p.dsn, options: `-c search_path="${p.schema}"`, max: 2 });
  return { database: db, close: () => db.end() };
}

async function withAuth(p, fn) {
  const { database, close } = await open(p);
  try {
    const { betterAuth } = await import("better-auth");
    const { admin, bearer, twoFactor } = await import("better-auth/plugins");
    const plugins = [admin(), bearer()];
    if (p.twoFactor) plugins.push(twoFactor({ skipVerificationOnEnable: true }));
    const options = {
      database,
      secret: p.secret,
      baseURL: "http://localhost:3000",
      emailAndPassword: { enabled: true },
      plugins,
      logger: { disabled: true },
      advanced: { ipAddress: { ipAddressHeaders: ["x-forwarded-for"] } },
    };
    if (p.cookieCache) {
      options.session = { cookieCache: { enabled: true, strategy: p.cookieCache, maxAge: 300 } };
    }
    return await fn(betterAuth(options), options);
  } finally {
    await close();
  }
}

function cookiesOf(res) {
  const jar = {};
  for (const header of res.headers.getSetCookie()) {
    const [pair] = header.split(";");
    const cut = pair.indexOf("=");
    const value = pair.slice(cut + 1);
    if (value) jar[pair.slice(0, cut)] = value;
  }
  return jar;
}

function headersFor(jar) {
  const cookie = Object.entries(jar).map(([k, v]) => `${k}=${v}`).join("; ");
  return new Headers({ cookie, "user-agent": UA, "x-forwarded-for": "198.51.100.9" });
}

async function call(endpoint, args) {
  const res = await endpoint({ ...args, asResponse: true });
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, body, jar: cookiesOf(res) };
}

const ops = {
  async setup(p) {
    return withAuth(p, async (auth, options) => {
      const { getMigrations } = await import("better-auth/db/migration");
      const { runMigrations } = await getMigrations(options);
      await runMigrations();
      const ctx = await auth.$context;
      const users = {};
      for (const name of p.users) {
        const res = await call(auth.api.signUpEmail, {
          body: { email: `${name}@example.com`, password: PASSWORD, name },
          headers: new Headers({ "user-agent": UA, "x-forwarded-for": "198.51.100.9" }),
        });
        if (res.status !== 200) throw new Error(`sign-up ${name}: ${res.status} ${JSON.stringify(res.body)}`);
        users[name] = { userId: res.body.user.id, jar: res.jar };
      }
      const boss = users[p.admin];
      await ctx.internalAdapter.updateUser(boss.userId, { role: "admin" });
      const adminHeaders = headersFor(boss.jar);
      const expect200 = (what, res) => {
        if (res.status !== 200) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
        return res;
      };
      for (const [name, role] of Object.entries(p.roles ?? {})) {
        expect200(`set-role ${name}`, await call(auth.api.setRole, {
          headers: adminHeaders, body: { userId: users[name].userId, role },
        }));
      }
      for (const [name, ban] of Object.entries(p.bans ?? {})) {
        const userId = users[name].userId;
        const until = ban.expiresIn ? new Date(Date.now() + ban.expiresIn * 1000) : null;
        if (ban.via === "plugin") {
          // /admin/ban-user: also deletes every session of the user
          const body = { userId, banReason: "interop" };
          if (ban.expiresIn) body.banExpiresIn = ban.expiresIn;
          expect200(`ban ${name}`, await call(auth.api.banUser, { headers: adminHeaders, body }));
        } else {
          // a ban written through the adapter (SQL, another admin tool): the sessions stay
          await ctx.internalAdapter.updateUser(userId, {
            banned: true, banReason: "interop", banExpires: until,
          });
        }
      }
      for (const name of p.impersonate ?? []) {
        const res = expect200(`impersonate ${name}`, await call(auth.api.impersonateUser, {
          headers: adminHeaders, body: { userId: users[name].userId },
        }));
        users[`${name}:impersonated`] = { userId: users[name].userId, jar: res.jar };
      }
      const answer = {};
      for (const [name, user] of Object.entries(users)) {
        // get-session straight from the database: a fresh cookie cache with the current row
        const seen = await call(auth.api.getSession, {
          headers: headersFor(user.jar), query: { disableCookieCache: true },
        });
        const jar = { ...user.jar, ...seen.jar };
        const verdicts = {};
        for (const [label, permissions] of Object.entries(p.permissions ?? {})) {
          const res = await call(auth.api.userHasPermission, { body: { userId: user.userId, permissions } });
          verdicts[label] = res.body?.success === true;
        }
        answer[name] = {
          userId: user.userId,
          sessionToken: jar["better-auth.session_token"] ?? null,
          sessionData: jar["better-auth.session_data"] ?? null,
          getSessionStatus: seen.status,
          role: seen.body?.user?.role ?? null,
          banned: seen.body?.user?.banned ?? null,
          session: seen.body?.session
            ? {
              createdAt: seen.body.session.createdAt,
              updatedAt: seen.body.session.updatedAt,
              expiresAt: seen.body.session.expiresAt,
              ipAddress: seen.body.session.ipAddress ?? null,
              userAgent: seen.body.session.userAgent ?? null,
              impersonatedBy: seen.body.session.impersonatedBy ?? null,
            }
            : null,
          hasPermission: verdicts,
        };
      }
      return answer;
    });
  },
  async twoFactor(p) {
    return withAuth({ ...p, twoFactor: true }, async (auth, options) => {
      const { getMigrations } = await import("better-auth/db/migration");
      const { runMigrations } = await getMigrations(options);
      await runMigrations();
      const email = "second@example.com";
      const up = await call(auth.api.signUpEmail, { body: { email, password: PASSWORD, name: "Two" } });
      const enabled = await call(auth.api.enableTwoFactor, {
        headers: headersFor(up.jar), body: { password: PASSWORD },
      });
      if (enabled.status !== 200) throw new Error(`enable 2fa: ${enabled.status} ${JSON.stringify(enabled.body)}`);
      const res = await auth.api.signInEmail({ body: { email, password: PASSWORD }, asResponse: true });
      const setCookies = res.headers.getSetCookie();
      const body = await res.json();
      const kept = {};
      for (const header of setCookies) {
        const [pair] = header.split(";");
        const cut = pair.indexOf("=");
        const name = pair.slice(0, cut);
        const value = pair.slice(cut + 1);
        if (value && !(name in kept)) kept[name] = value;
      }
      const viaCache = await call(auth.api.getSession, { headers: headersFor(kept) });
      const viaDatabase = await call(auth.api.getSession, {
        headers: headersFor(kept), query: { disableCookieCache: true },
      });
      return {
        userId: up.body.user.id,
        signInStatus: res.status,
        twoFactorRedirect: body?.twoFactorRedirect === true,
        setCookieNames: setCookies.map((h) => h.split("=")[0]),
        sessionToken: kept["better-auth.session_token"] ?? null,
        sessionData: kept["better-auth.session_data"] ?? null,
        getSessionFromCache: viaCache.body?.user?.id ?? null,
        getSessionFromDatabase: viaDatabase.body?.user?.id ?? null,
        // the session enable-two-factor answered with: a cache that says twoFactorEnabled
        enabledToken: enabled.jar["better-auth.session_token"] ?? null,
        enabledData: enabled.jar["better-auth.session_data"] ?? null,
      };
    });
  },
  async judge(p) {
    return withAuth(p, async (auth) => {
      const answer = {};
      for (const name of p.users) {
        const res = await call(auth.api.signInEmail, {
          body: { email: `${name}@example.com`, password: PASSWORD },
          headers: new Headers({ "user-agent": UA }),
        });
        answer[name] = { status: res.status, code: res.body?.code ?? null };
      }
      return answer;
    });
  },
};

await runOp(ops);
