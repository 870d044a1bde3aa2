// Example Express API behind the sessiongate sidecar.
//
//   AUTH_SECRET=... sessiongate serve --port 8787 &     (secrets from the environment)
//   SESSIONGATE_URL=http://127.0.0.1:8787 PORT=3001 node server.js
//   curl -H "Cookie: authjs.session-token=..." http://127.0.0.1:3001/me
//
// PORT=0 picks a free port; the first line on stdout is "listening on http://HOST:PORT".
import express from "express";
import { sessiongate } from "./sessiongate.js";

const url = process.env.SESSIONGATE_URL ?? "http://127.0.0.1:8787";
const app = express();
app.disable("x-powered-by");

app.get("/health", (req, res) => res.json({ ok: true }));

app.get("/me", sessiongate({ url }), (req, res) => {
  res.json({ user: req.user, auth: req.auth });
});

app.get("/admin", sessiongate({ url, role: "admin" }), (req, res) => {
  res.json({ admin: true, user: req.user.id });
});

// A write: with a session cookie it must come from this site (the sidecar checks Origin).
app.post("/posts", sessiongate({ url, role: ["admin", "editor"], mode: "any" }), (req, res) => {
  res.status(201).json({ created: true, by: req.user.id });
});

const host = process.env.HOST ?? "127.0.0.1";
const server = app.listen(Number(process.env.PORT ?? 3001), host, () => {
  console.log(`listening on http://${host}:${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
