// Reference trainer for TestHFTrainer: trains a BPE model with the Hugging
// Face tokenizers library (npm package `tokenizers`) behind a ByteLevel
// pre-tokenizer (GPT-2 regex; add_prefix_space only with
// --add-prefix-space) on the given files, saves it to OUT (a
// tokenizer.json) and prints its merges as a JSON array of pairs.
// The Node bindings expose only the default BpeTrainer (vocabulary 30000,
// no special tokens, the alphabet of the text), so a small text trains
// until no pair is left.
//
//   node hf_train.js [--add-prefix-space] OUT FILE... > merges.json
const fs = require('fs');
const { Tokenizer, BPE, byteLevelPreTokenizer } = require('tokenizers');

let args = process.argv.slice(2);
const addPrefixSpace = args[0] === '--add-prefix-space';
if (addPrefixSpace) args = args.slice(1);
const [out, ...files] = args;
const tok = new Tokenizer(BPE.empty());
tok.setPreTokenizer(byteLevelPreTokenizer(addPrefixSpace, true));
tok.train(files);
tok.save(out, false);
const merges = JSON.parse(fs.readFileSync(out, 'utf8')).model.merges
  .map((m) => (Array.isArray(m) ? m : m.split(' ')));
process.stdout.write(JSON.stringify(merges));
