#!/usr/bin/env node
/**
 * One-shot oracle for sessiongate's Better Auth configuration parity (issue #13, items 1-5).
 *
 * Reads ONE JSON request on stdin, runs the REAL better-auth 1.7.25 code (memory adapter), and
 * writes ONE JSON answer {"ok": true, "result": ...} or {"ok": false, "error": "..."} on stdout.
 * Library logging goes to stderr. The process environment is exactly `env` (set before
 * better-auth is imported, so NODE_ENV is seen as the app sees it).
 *
 * Request: {
 *   env: {NAME: value},                 // the app's environment (BETTER_AUTH_SECRETS, ..._URL, NODE_ENV)
 *   options: {...},                     // see authOptions(): cookiePrefix, useSecureCookies,
 *                                       //   cookieNames, cache {strategy, version, maxAge},
 *                                       //   jwtCache, multiSession
 *   users: n,                           // sign-ups, one after the other, in one cookie jar
 *   namePadding: n?,                    // make user names n characters longer (a chunked cache)
 *   now: epoch ms,                      // Date frozen here for the sign-ups
 *   rotate: {env, options}?,            // a second app on the SAME database with this env
 *   checkAt: epoch ms?                  // when to ask the (rotated) app's /get-session
 * }
 * Result: {jar, setCookie, tokens, cookieNames, jwks, verdicts: {first, rotated}} where a
 * verdict is the real getSession answer for the jar ({userId, token} or null).
 */

import { readFileSync } from "node:fs";

const out = process.stdout.write.bind(process.stdout);
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

function setEnv(env) {
  for (const key of Object.keys(process.env)) {
    if (key !== "PATH" && key !== "TZ") delete process.env[key];
  }
  for (const [k, v] of Object.entries(env || {})) process.env[k] = v;
}

async function authOptions(o, db) {
  const plugins = [];
  if (o.jwtCache) {
    const { jwt } = await import("better-auth/plugins/jwt");
    plugins.push(jwt({ sessionCookieCache: true }));
  }
  if (o.multiSession) {
    const { multiSession } = await import("better-auth/plugins/multi-session");
    plugins.push(multiSession());
  }
  const { memoryAdapter } = await import("better-auth/adapters/memory");
  const advanced = {};
  if (o.cookiePrefix) advanced.cookiePrefix = o.cookiePrefix;
  if (o.useSecureCookies !== undefined) advanced.useSecureCookies = o.useSecureCookies;
  if (o.cookieNames) {
    advanced.cookies = Object.fromEntries(Object.entries(o.cookieNames).map(([k, name]) => [k, { name }]));
  }
  const session = {};
  if (o.cache) {
    session.cookieCache = { enabled: true, strategy: o.cache.strategy, maxAge: o.cache.maxAge ?? 300 };
    if (o.cache.version === "by-role") session.cookieCache.version = (_s, user) => `v-${user.name}`;
    else if (o.cache.version) session.cookieCache.version = o.cache.version;
  }
  return {
    database: memoryAdapter(db),
    emailAndPassword: { enabled: true },
    logger: { disabled: true },
    advanced,
    session,
    plugins,
  };
}

function parseSetCookie(line) {
  const [pair, ...attrs] = line.split(";");
  const eq = pair.indexOf("=");
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  const maxAge = attrs.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith("max-age="));
  return { name, value, expired: maxAge !== undefined && Number(maxAge.split("=")[1]) <= 0 };
}

function cookieHeader(jar) {
  return Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");
}

async function verdict(auth, jar) {
  const headers = new Headers({ cookie: cookieHeader(jar) });
  const found = await auth.api.getSession({ headers });
  return found ? { userId: found.user.id, token: found.session.token } : null;
}

// {op: "parseSecretsEnv", values: [...]}: better-auth's own BETTER_AUTH_SECRETS parser (with the
// array validation create-context runs next) on each value: {versions} or {error}.
async function parseSecrets(values) {
  const dir = new URL("./node_modules/better-auth/dist/context/", import.meta.url);
  const { parseSecretsEnv, validateSecretsArray } = await import(new URL("secret-utils.mjs", dir));
  const quiet = { warn: () => {} };
  return values.map((value) => {
    try {
      const parsed = parseSecretsEnv(value);
      if (parsed) validateSecretsArray(parsed, quiet);
      return { versions: parsed ? parsed.map((s) => [s.version, s.value]) : [] };
    } catch (err) {
      return { error: String(err.message) };
    }
  });
}

async function main() {
  const p = JSON.parse(readFileSync(0, "utf8"));
  if (p.op === "parseSecretsEnv") return parseSecrets(p.values);
  setEnv(p.env);
  freezeClock(p.now);
  const { betterAuth } = await import("better-auth");
  const db = { user: [], session: [], account: [], verification: [], jwks: [] };
  const auth = betterAuth(await authOptions(p.options || {}, db));
  const ctx = await auth.$context;
  const jar = {};
  const setCookie = [];
  const tokens = [];
  for (let i = 0; i < (p.users ?? 1); i++) {
    const { headers, response } = await auth.api.signUpEmail({
      body: { email: `user${i}@example.com`, password: "correct horse battery", name: `user${i}${"x".repeat(p.namePadding ?? 0)}` },
      headers: new Headers({ cookie: cookieHeader(jar) }),
      returnHeaders: true,
    });
    tokens.push({ userId: response.user.id, token: response.token });
    for (const line of headers.getSetCookie()) {
      setCookie.push(line);
      const c = parseSetCookie(line);
      if (c.expired) delete jar[c.name];
      else jar[c.name] = c.value;
    }
  }
  let jwks = null;
  if (p.options?.jwtCache) jwks = await auth.api.getJwks();
  const cookieNames = {
    sessionToken: ctx.authCookies.sessionToken.name,
    sessionData: ctx.authCookies.sessionData.name,
  };
  if (p.checkAt) freezeClock(p.checkAt);
  const verdicts = { first: await verdict(auth, jar) };
  if (p.rotate) {
    setEnv(p.rotate.env);
    const rotated = betterAuth(await authOptions(p.rotate.options || p.options || {}, db));
    verdicts.rotated = await verdict(rotated, jar);
  }
  return { jar, setCookie, tokens, cookieNames, jwks, verdicts };
}

main().then(
  (result) => out(JSON.stringify({ ok: true, result }) + "\n"),
  (err) => out(JSON.stringify({ ok: false, error: String(err?.stack || err) }) + "\n"),
);
