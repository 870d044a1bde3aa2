// The Express + @auth/core getToken baseline of benchmarks/bench_sidecar.py.
//
// GET /verify reads the Auth.js v5 session cookie with getToken (the call a Node service makes
// to verify the Next.js app's session itself) and answers like the sidecar: 200 with the
// X-User-* headers and a JSON user, 401 otherwise. PORT, AUTH_SECRET and WORKERS (node:cluster
// processes, default 1) come from the environment.
import cluster from "node:cluster";
import express from "express";
import { getToken } from "@auth/core/jwt";

const port = Number(process.env.PORT || 8788);
const workers = Number(process.env.WORKERS || 1);
const secret = process.env.AUTH_SECRET;
if (!secret) throw new Error("AUTH_SECRET is required");

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", () => cluster.fork());
  for (const sig of ["SIGTERM", "SIGINT"]) {
    process.on(sig, () => {
      for (const w of Object.values(cluster.workers)) w.process.kill("SIGTERM");
      process.exit(0);
    });
  }
} else {
  const app = express();
  app.disable("x-powered-by");
  app.disable("etag");
  app.get("/healthz", (req, res) => res.json({ status: "ok" }));
  app.all("/verify", async (req, res) => {
    const token = await getToken({ req: { headers: req.headers }, secret });
    res.set("Cache-Control", "no-store");
    if (!token || !token.sub) {
      res.status(401).json({ error: "invalid_token" });
      return;
    }
    res.set({
      "X-User-Id": String(token.sub),
      "X-User-Email": String(token.email ?? ""),
      "X-Auth-Source": "authjs-v5",
      "X-Auth-Credential": "cookie",
    });
    res.json({ user: { id: token.sub, email: token.email ?? null, name: token.name ?? null } });
  });
  const server = app.listen(port, "127.0.0.1");
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
