// Drives gollm serve with the official openai npm client and prints one JSON
// object of what it got; serve's TestOpenAINodeClient compares it with the
// server's own answers. Usage: node openai_client.cjs MODULE_DIR BASE_URL
// QUEUE1_URL DRAINING_URL MODEL
const [moduleDir, base, queue1, draining, model] = process.argv.slice(2);
const { OpenAI } = require(moduleDir);

const client = (url) => new OpenAI({ baseURL: url + "/v1", apiKey: "none", maxRetries: 0 });

async function status(f) {
  try {
    await f();
    return 200;
  } catch (e) {
    return { status: e.status, type: e.error && e.error.type, hasMessage: !!(e.error && e.error.message) };
  }
}

(async () => {
  const c = client(base);
  const out = {};
  const comp = await c.completions.create({ model, prompt: "Once upon a time", max_tokens: 8, temperature: 0, ignore_eos: true });
  out.completion = { text: comp.choices[0].text, usage: comp.usage, finish: comp.choices[0].finish_reason };
  const chat = await c.chat.completions.create({ model, messages: [{ role: "user", content: "Say hello" }], max_tokens: 8, temperature: 0, ignore_eos: true });
  out.chat = { text: chat.choices[0].message.content, role: chat.choices[0].message.role, usage: chat.usage };
  let text = "", usage = null, finish = null;
  for await (const ch of await c.completions.create({ model, prompt: "Once upon a time", max_tokens: 8, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } })) {
    if (ch.usage) usage = ch.usage;
    for (const x of ch.choices) { text += x.text; if (x.finish_reason) finish = x.finish_reason; }
  }
  out.completionStream = { text, usage, finish };
  text = ""; usage = null; finish = null;
  let role = null;
  for await (const ch of await c.chat.completions.create({ model, messages: [{ role: "user", content: "Say hello" }], max_tokens: 8, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } })) {
    if (ch.usage) usage = ch.usage;
    for (const x of ch.choices) {
      if (x.delta.role && role === null) role = x.delta.role;
      if (x.delta.content) text += x.delta.content;
      if (x.finish_reason) finish = x.finish_reason;
    }
  }
  out.chatStream = { text, usage, finish, role };
  const echo = await c.completions.create({ model, prompt: "Paris is the capital of France", max_tokens: 0, echo: true, logprobs: 1, temperature: 0 });
  out.echo = echo.choices[0].logprobs.token_logprobs;
  out.errors = {
    unknownModel: await status(() => c.completions.create({ model: "gpt-9", prompt: "hi" })),
    badMaxTokens: await status(() => c.completions.create({ model, prompt: "hi", max_tokens: 100000000 })),
    contextOverflow: await status(() => c.completions.create({ model, prompt: "word ".repeat(200), max_tokens: 200 })),
    tooLarge: await status(() => c.completions.create({ model, prompt: "x".repeat(2 << 20) })),
    overCapacity: await status(() => client(queue1).completions.create({ model, prompt: "hi", n: 2 })),
    shuttingDown: await status(() => client(draining).completions.create({ model, prompt: "hi" })),
  };
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
