// The JSON-lines protocol every database oracle speaks: one request object on stdin
// ({op, ...params}), one answer line on stdout: {"ok": true, "result": ...} or
// {"ok": false, "error": "<stack>"}. An op may also write lines of its own with `out`
// (a server op prints its port, then runs until the test kills it).

export const out = process.stdout.write.bind(process.stdout);

// `prepare(request)`, when given, runs before the op (e.g. freezing the clock at request.now).
export async function runOp(ops, prepare = null) {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  try {
    const request = JSON.parse(input);
    const op = ops[request.op];
    if (!op) throw new Error(`unknown op ${request.op}`);
    if (prepare) prepare(request);
    const result = await op(request);
    out(JSON.stringify({ ok: true, result }) + "\n");
  } catch (error) {
    out(JSON.stringify({ ok: false, error: String(error?.stack ?? error) }) + "\n");
  }
}
