// greedy.mjs: greedy decoding in llama.cpp through the npm package
// node-llama-cpp (its prebuilt CPU binaries; nothing is downloaded or built).
//
//   node scripts/llamacpp/greedy.mjs MODEL.gguf 1,2,3 16
//   node scripts/llamacpp/greedy.mjs < jobs.jsonl
//
// loads the GGUF, feeds the prompt token ids (no BOS is added) and prints
// one JSON line {"ids": [...]} with the next N tokens chosen by argmax
// (temperature 0, no repeat penalty), not stopping at end-of-sequence.
// Without arguments it reads jobs from stdin, one JSON object a line
// ({"model": PATH, "ids": [...], "n": N}), and prints one result line for
// each, in order, loading llama.cpp once.
// The package is looked up in $LLAMACPP_DIR (default: .cache/llamacpp at
// the repository root), where `make llamacpp` installs it.
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { readFileSync } from "node:fs";

function fail(msg) {
  console.error("greedy.mjs: " + msg);
  process.exit(2);
}

const args = process.argv.slice(2);
let jobs;
if (args.length === 3) {
  jobs = [{ model: args[0], ids: args[1].split(",").map(Number), n: Number(args[2]) }];
} else if (args.length === 0) {
  jobs = readFileSync(0, "utf8").split("\n").filter((l) => l.trim() !== "").map((l, i) => {
    try {
      return JSON.parse(l);
    } catch (e) {
      fail(`stdin line ${i + 1}: ${e.message}`);
    }
  });
} else {
  fail("usage: node greedy.mjs MODEL.gguf ID,ID,... N   (or jobs as JSON lines on stdin)");
}
for (const [i, j] of jobs.entries()) {
  if (typeof j.model !== "string" || !Array.isArray(j.ids) || j.ids.some((x) => !Number.isInteger(x) || x < 0) || !Number.isInteger(j.n) || j.n < 1) {
    fail(`job ${i + 1}: want {"model": PATH, "ids": [non-negative integers], "n": positive integer}`);
  }
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = process.env.LLAMACPP_DIR || path.join(root, ".cache", "llamacpp");
const entry = path.join(dir, "node_modules", "node-llama-cpp", "dist", "index.js");
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(entry).href);

const llama = await getLlama({ gpu: false, build: "never", usePrebuiltBinaries: true, skipDownload: true, maxThreads: 1, progressLogs: false, logLevel: LlamaLogLevel.error });
for (const { model: modelPath, ids, n } of jobs) {
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  const context = await model.createContext({ contextSize: Math.max(64, ids.length + n + 8), sequences: 1, threads: 1 });
  const seq = context.getSequence();
  const out = [];
  for await (const tok of seq.evaluate(ids, { temperature: 0 })) {
    out.push(Number(tok));
    if (out.length >= n) break;
  }
  console.log(JSON.stringify({ ids: out }));
  await context.dispose();
  await model.dispose();
}
await llama.dispose();
