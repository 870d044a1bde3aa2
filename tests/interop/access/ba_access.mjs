#!/usr/bin/env node
/**
 * One-shot oracle for sessiongate's access-control differential test (tests/test_access_differential.py).
 *
 * Reads ONE JSON request on stdin and answers with what better-auth 1.7.25 itself decides:
 *   roles     {name: statements}: each becomes createAccessControl(...).newRole(statements)
 *   authorize [{role, request, connector}]  -> role.authorize(request, connector):
 *             {success, error} or {throws: true}
 *   multi     [{role, request}]  -> the admin plugin's hasPermission({role, options: {roles},
 *             permissions: request}): several comma-joined roles, one must allow all
 *   parseOrg  [value]            -> the organization plugin's parseRoles(value) (exported)
 * and writes ONE JSON answer {"ok": true, "result": ...} on stdout.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const out = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr);

const { createAccessControl } = await import("better-auth/plugins/access");
const { parseRoles } = await import("better-auth/plugins");
// the admin plugin's own hasPermission is not exported: load its module file
const require = createRequire(path.join(path.dirname(new URL(import.meta.url).pathname), "..", "package.json"));
const pluginsEntry = require.resolve("better-auth/plugins");
const adminHasPermission = pathToFileURL(
  path.join(path.dirname(pluginsEntry), "admin", "has-permission.mjs"),
).href;
const { hasPermission } = await import(adminHasPermission);

let input = "";
for await (const chunk of process.stdin) input += chunk;
try {
  const request = JSON.parse(input);
  const statements = {};
  for (const grants of Object.values(request.roles)) {
    for (const [resource, actions] of Object.entries(grants)) {
      statements[resource] = [...new Set([...(statements[resource] ?? []), ...actions])];
    }
  }
  const ac = createAccessControl(statements);
  const roles = Object.fromEntries(
    Object.entries(request.roles).map(([name, grants]) => [name, ac.newRole(grants)]),
  );
  const authorize = (request.authorize ?? []).map(({ role, request: req, connector }) => {
    try {
      const result = roles[role].authorize(req, connector);
      return { success: result.success, error: result.error ?? null };
    } catch {
      return { throws: true };
    }
  });
  const multi = (request.multi ?? []).map(({ role, request: req }) => {
    try {
      return hasPermission({ role, options: { roles }, permissions: req });
    } catch {
      return "throws";
    }
  });
  const parseOrg = (request.parseOrg ?? []).map((value) => parseRoles(value));
  out(JSON.stringify({ ok: true, result: { authorize, multi, parseOrg } }) + "\n");
} catch (error) {
  out(JSON.stringify({ ok: false, error: String(error?.stack ?? error) }) + "\n");
}
