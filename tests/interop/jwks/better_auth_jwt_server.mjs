// A real Better Auth server with the `jwt` plugin, for sessiongate's JWKS interop test.
//
// Listens on 127.0.0.1 on a free port (or SESSIONGATE_BA_PORT), memory adapter, email+password
// sign-up enabled. Prints one JSON line {"baseURL": "...", "versions": {...}} on stdout once
// listening, then serves until stdin closes or it is killed. Nothing secret is printed.
//
// Env: BETTER_AUTH_SECRET (required), SESSIONGATE_BA_BASE_PATH_SUFFIX (appended to the
// origin to form `baseURL`, e.g. "/" to check that iss/aud are the origin).
import http from "node:http";
import { readFileSync } from "node:fs";

import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins";

const secret = process.env.BETTER_AUTH_SECRET;
if (!secret) {
  process.stderr.write("BETTER_AUTH_SECRET is required\n");
  process.exit(2);
}

let handler = null;
const server = http.createServer((req, res) => {
  if (handler === null) {
    res.statusCode = 503;
    res.end();
    return;
  }
  handler(req, res);
});

server.listen(Number(process.env.SESSIONGATE_BA_PORT || 0), "127.0.0.1", () => {
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  const baseURL = origin + (process.env.SESSIONGATE_BA_BASE_PATH_SUFFIX || "");
  const db = { user: [], session: [], account: [], verification: [], jwks: [] };
  const auth = betterAuth({
    baseURL,
    secret,
    database: memoryAdapter(db),
    emailAndPassword: { enabled: true },
    plugins: [jwt()],
    telemetry: { enabled: false },
    logger: { disabled: true },
  });
  handler = toNodeHandler(auth);
  const versions = {
    node: process.version,
    "better-auth": JSON.parse(
      readFileSync(new URL("../node_modules/better-auth/package.json", import.meta.url), "utf8"),
    ).version,
  };
  process.stdout.write(JSON.stringify({ baseURL, origin, versions }) + "\n");
});

process.stdin.on("end", () => server.close(() => process.exit(0)));
process.stdin.resume();
