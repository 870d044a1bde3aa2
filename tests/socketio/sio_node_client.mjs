// Connects to a Socket.IO server with the real `socket.io-client` (the npm lockfile of
// tests/interop), the way a Next.js page does, and prints one JSON line per attempt.
//
//   node sio_node_client.mjs <path of tests/interop/package.json>  < attempts.json
//
// attempts.json: {"url": "http://127.0.0.1:PORT", "attempts": [{"namespace": "/",
//   "transport": "polling" | "websocket", "headers": {...}, "auth": {...} | null}, ...]}
// Each line: {"connected": true, "reply": <whoami's answer>} or
//            {"connected": false, "message": err.message, "data": err.data}
import { createRequire } from "node:module";
import { resolve } from "node:path";

const require = createRequire(resolve(process.argv[2]));
const { io } = require("socket.io-client");

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { url, attempts } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

function attempt({ namespace, transport, headers, auth }) {
  return new Promise((resolve) => {
    const socket = io(url + namespace, {
      transports: [transport],
      extraHeaders: headers ?? {},
      ...(auth ? { auth } : {}),
      reconnection: false,
      forceNew: true,
      timeout: 5000,
    });
    const timer = setTimeout(() => {
      socket.disconnect();
      resolve({ connected: false, message: "timeout", data: null });
    }, 8000);
    socket.on("connect", async () => {
      try {
        const reply = await socket.timeout(5000).emitWithAck("whoami");
        resolve({ connected: true, reply });
      } catch (err) {
        resolve({ connected: true, reply: null, message: String(err) });
      } finally {
        clearTimeout(timer);
        socket.disconnect();
      }
    });
    socket.on("connect_error", (err) => {
      clearTimeout(timer);
      socket.disconnect();
      resolve({ connected: false, message: err.message, data: err.data ?? null });
    });
  });
}

for (const spec of attempts) {
  process.stdout.write(JSON.stringify(await attempt(spec)) + "\n");
}
process.exit(0);
