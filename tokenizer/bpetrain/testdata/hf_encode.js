// Reference encoder for TestHFConformance: loads a tokenizer.json with the
// Hugging Face tokenizers library (npm package `tokenizers`, the official
// Node bindings of the Rust crate) and prints, as JSON, the ids of each text
// read from stdin (a JSON array of strings), with and without the special
// tokens the post-processor adds, and the decoded text.
//
//   node hf_encode.js DIR/tokenizer.json < texts.json
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

async function main() {
  const tok = Tokenizer.fromFile(process.argv[2]);
  const texts = JSON.parse(fs.readFileSync(0, 'utf8'));
  const out = [];
  for (const text of texts) {
    const e1 = await tok.encode(text, null, { addSpecialTokens: true });
    const e0 = await tok.encode(text, null, { addSpecialTokens: false });
    out.push({ ids: e1.getIds(), ids_no_special: e0.getIds(), decoded: await tok.decode(e0.getIds(), true) });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
