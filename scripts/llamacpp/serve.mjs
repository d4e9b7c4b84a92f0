// serve.mjs: llama.cpp as an OpenAI-compatible server, through the npm
// package node-llama-cpp (its prebuilt CPU binaries; nothing is downloaded
// or built), with just enough of the API for gollm loadgen:
//
//   node scripts/llamacpp/serve.mjs --model MODEL.gguf [--name NAME]
//        [--host 127.0.0.1] [--port 0] [--parallel 4] [--ctx 512] [--threads 0]
//
// GET  /health          200 {"status":"ok"} once the model is loaded
// GET  /v1/models       the one model, owned_by "llama.cpp"
// POST /v1/completions  prompt (text, or an array of token ids fed as they
//                       are, no BOS added), max_tokens, temperature 0
//                       (greedy; any other value is refused: this script
//                       does not sample), ignore_eos, stream with
//                       stream_options.include_usage; errors as
//                       {"error": {message, type, param, code}}.
//
// --parallel sequences run in one llama.cpp context and are batched
// together (node-llama-cpp's batching); --ctx is each sequence's context.
// More requests wait for a free sequence. A client that disconnects stops
// its generation. Once listening, it prints one JSON line
// {"url": "http://HOST:PORT", "model": NAME} on stdout (--port 0 picks a
// free port), which is how gollm loadgen --engine llamacpp finds it; SIGTERM
// or SIGINT stop it. Bad arguments: one line on stderr, exit 2.
// The package is looked up in $LLAMACPP_DIR (default: .cache/llamacpp at
// the repository root), where `make llamacpp` installs it.
import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { existsSync } from "node:fs";

function fail(msg) {
  console.error("serve.mjs: " + msg);
  process.exit(2);
}

const opts = { model: "", name: "", host: "127.0.0.1", port: "0", parallel: "4", ctx: "512", threads: "0" };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const key = argv[i].replace(/^--/, "");
  if (!argv[i].startsWith("--") || !(key in opts) || i + 1 >= argv.length) {
    fail(`argument ${JSON.stringify(argv[i])}: want --model FILE.gguf [--name N] [--host H] [--port P] [--parallel N] [--ctx N] [--threads N]`);
  }
  opts[key] = argv[++i];
}
const intOpt = (k, min) => {
  const v = Number(opts[k]);
  if (!Number.isInteger(v) || v < min) fail(`--${k} ${JSON.stringify(opts[k])}: want an integer ≥ ${min}`);
  return v;
};
const port = intOpt("port", 0), parallel = intOpt("parallel", 1), ctxSize = intOpt("ctx", 8), threads = intOpt("threads", 0);
if (port > 65535) fail(`--port ${port}: want 0…65535`);
if (!opts.model) fail("--model: the GGUF file is required");
if (!existsSync(opts.model)) fail(`--model ${opts.model}: no such file`);
const name = opts.name || path.basename(opts.model);

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = process.env.LLAMACPP_DIR || path.join(root, ".cache", "llamacpp");
const entry = path.join(dir, "node_modules", "node-llama-cpp", "dist", "index.js");
if (!existsSync(entry)) fail(`node-llama-cpp is not installed in ${dir} (make llamacpp installs it)`);
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);

let ready = false;
let closing = false;
const free = []; // idle sequences
const waiters = []; // resolve functions of requests waiting for a sequence

function acquire() {
  if (free.length > 0) return Promise.resolve(free.pop());
  return new Promise((resolve) => waiters.push(resolve));
}

async function release(seq) {
  await seq.clearHistory();
  const w = waiters.shift();
  if (w) w(seq);
  else free.push(seq);
}

function sendJSON(res, status, body) {
  const b = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(b) });
  res.end(b);
}

function sendError(res, status, message, param = null, type = "invalid_request_error") {
  sendJSON(res, status, { error: { message, type, param, code: null } });
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let n = 0;
    req.on("data", (d) => {
      n += d.length;
      if (n > limit) {
        reject(Object.assign(new Error(`request body over ${limit} bytes`), { status: 413 }));
        req.destroy();
        return;
      }
      parts.push(d);
    });
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

let llama, model, context;
let nextID = 0;

// parseRequest checks a completion request and returns its prompt tokens,
// or throws an error carrying the OpenAI param.
function parseRequest(body) {
  const bad = (param, message) => Object.assign(new Error(message), { status: 400, param });
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw bad(null, "the body must be a JSON object");
  if (body.model !== undefined && body.model !== name) {
    throw Object.assign(new Error(`model ${JSON.stringify(body.model)} not found: this server serves ${JSON.stringify(name)}`), { status: 404, param: "model" });
  }
  let tokens;
  if (typeof body.prompt === "string") {
    tokens = Array.from(model.tokenize(body.prompt, true));
    if (model.tokens.bos != null && model.tokens.shouldPrependBosToken && tokens[0] !== model.tokens.bos) tokens.unshift(model.tokens.bos);
  } else if (Array.isArray(body.prompt) && body.prompt.length > 0 && body.prompt.every((x) => Number.isInteger(x) && x >= 0 && x < vocab)) {
    tokens = body.prompt;
  } else {
    throw bad("prompt", "prompt: want a string or a non-empty array of token ids in the vocabulary");
  }
  if (tokens.length === 0) throw bad("prompt", "prompt: empty");
  const maxTokens = body.max_tokens ?? 16;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw bad("max_tokens", "max_tokens: want a positive integer");
  if (tokens.length + maxTokens > context.contextSize) {
    throw bad("max_tokens", `prompt (${tokens.length} tokens) + max_tokens (${maxTokens}) exceed the context of ${context.contextSize} (--ctx)`);
  }
  if ((body.temperature ?? 0) !== 0) throw bad("temperature", "temperature: only 0 (greedy) is served by this script");
  if ((body.n ?? 1) !== 1) throw bad("n", "n: only 1 is served by this script");
  return { tokens, maxTokens, stream: body.stream === true, usage: body.stream_options?.include_usage === true, ignoreEOS: body.ignore_eos === true };
}

async function complete(req, res) {
  let r;
  try {
    const text = await readBody(req, 1 << 20);
    let body;
    try {
      body = JSON.parse(text);
    } catch (e) {
      return sendError(res, 400, "body is not JSON: " + e.message);
    }
    r = parseRequest(body);
  } catch (e) {
    return sendError(res, e.status || 400, e.message, e.param ?? null);
  }
  const id = `cmpl-${nextID++}`;
  const created = Math.floor(Date.now() / 1000);
  let gone = false;
  res.on("close", () => { gone = !res.writableFinished; });
  const seq = await acquire();
  const chunk = (text, finish) => ({ id, object: "text_completion", created, model: name, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }] });
  let n = 0, finish = "length", all = "";
  try {
    if (gone) return;
    if (r.stream) res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive" });
    for await (const tok of seq.evaluate(r.tokens, { temperature: 0 })) {
      if (gone || closing) break;
      if (!r.ignoreEOS && model.isEogToken(tok)) { finish = "stop"; break; }
      n++;
      const text = model.detokenize([tok]);
      all += text;
      const last = n >= r.maxTokens;
      if (r.stream) res.write(`data: ${JSON.stringify(chunk(text, last ? finish : null))}\n\n`);
      if (last) break;
    }
    if (gone) return;
    const usage = { prompt_tokens: r.tokens.length, completion_tokens: n, total_tokens: r.tokens.length + n };
    if (!r.stream) return sendJSON(res, 200, { ...chunk(all, finish), usage });
    if (finish === "stop" || n === 0) res.write(`data: ${JSON.stringify(chunk("", finish))}\n\n`);
    if (r.usage) res.write(`data: ${JSON.stringify({ id, object: "text_completion", created, model: name, choices: [], usage })}\n\n`);
    res.end("data: [DONE]\n\n");
  } catch (e) {
    if (res.headersSent) res.end(`data: ${JSON.stringify({ error: { message: String(e.message), type: "server_error", param: null, code: null } })}\n\n`);
    else sendError(res, 500, String(e.message), null, "server_error");
  } finally {
    await release(seq);
  }
}

const server = http.createServer((req, res) => {
  const url = req.url.split("?")[0];
  if (req.method === "GET" && url === "/health") {
    return ready && !closing ? sendJSON(res, 200, { status: "ok" }) : sendError(res, 503, "loading or shutting down", null, "unavailable");
  }
  if (req.method === "GET" && url === "/v1/models") {
    return sendJSON(res, 200, { object: "list", data: [{ id: name, object: "model", created: 0, owned_by: "llama.cpp" }] });
  }
  if (req.method === "POST" && url === "/v1/completions") {
    if (!ready || closing) return sendError(res, 503, "loading or shutting down", null, "unavailable");
    complete(req, res).catch((e) => { if (!res.headersSent) sendError(res, 500, String(e.message), null, "server_error"); else res.destroy(); });
    return;
  }
  sendError(res, 404, `no route ${req.method} ${url}`);
});

async function shutdown() {
  if (closing) return;
  closing = true;
  server.close();
  server.closeAllConnections?.();
  try {
    await context?.dispose();
    await model?.dispose();
    await llama?.dispose();
  } finally {
    process.exit(0);
  }
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

try {
  llama = await getLlama({ gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true, progressLogs: false, logLevel: LlamaLogLevel.error, ...(threads > 0 ? { maxThreads: threads } : {}) });
  model = await llama.loadModel({ modelPath: opts.model, gpuLayers: 0 });
  context = await model.createContext({ contextSize: ctxSize, sequences: parallel, ...(threads > 0 ? { threads } : {}) });
} catch (e) {
  console.error(`serve.mjs: --model ${opts.model}: ${e.message}`);
  process.exit(1);
}
const vocab = model.fileInfo.metadata?.tokenizer?.ggml?.tokens?.length ?? model.fileInfo.tensorInfo?.find((t) => t.name === "token_embd.weight")?.dimensions?.[1] ?? Infinity;
for (let i = 0; i < parallel; i++) free.push(context.getSequence());
ready = true;
server.listen(port, opts.host, () => {
  const a = server.address();
  const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
  console.log(JSON.stringify({ url: `http://${host}:${a.port}`, model: name }));
  console.error(`serving ${JSON.stringify(name)} (llama.cpp via node-llama-cpp) on http://${host}:${a.port}/v1 (${parallel} sequences of ${context.contextSize} tokens)`);
});
server.on("error", (e) => fail(`--host ${opts.host} --port ${port}: ${e.message}`));
