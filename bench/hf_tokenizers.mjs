// hf_tokenizers.mjs - the reference side of bench/tokenizer_train.sh: Hugging Face tokenizers
// (npm `tokenizers`, the Rust library behind native Node bindings).
//
//   node bench/hf_tokenizers.mjs train --npm DIR --pattern PATTERN_JSON --out FILE TEXT...
//   node bench/hf_tokenizers.mjs baseline --npm DIR --pattern PATTERN_JSON
//   node bench/hf_tokenizers.mjs count --npm DIR --tokenizer FILE TEXT...
//
// train: a byte-level BPE tokenizer as close as this library gets to manabi's: the
//   pre-tokenizer is Sequence[Split(o200k's regex, Isolated), ByteLevel(add_prefix_space=false,
//   use_regex=false)], the way tiktoken encodings are written as tokenizer.json: the same split
//   as manabi's --pattern o200k (PATTERN_JSON's "pat_str", tiktoken's pattern), then bytes mapped
//   to printable characters.  No normalizer.  The model is an empty BPE and Tokenizer.train(files)
//   runs the model's default trainer, BpeTrainer::default(): vocab_size 30000 (alphabet
//   included), min_frequency 0, no special tokens, and an initial alphabet of only the
//   byte-characters that occur in the text (not all 256).  The Node binding has no other way to
//   set trainer options, so the vocabulary is 30000.  It reads the files line by line (each line
//   with its newline is pre-tokenized on its own) and uses rayon threads unless
//   RAYON_NUM_THREADS=1 (set by the caller).  Prints JSON: train_s (the train() call alone),
//   vocab, merges, alphabet (vocab - merges).
// baseline: loads the module and builds the same untrained tokenizer (peak memory of that alone).
// count: tokens of each TEXT under a tokenizer.json, one JSON line per file.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const prog = "hf_tokenizers.mjs";
const die = (msg) => {
  process.stderr.write(`${prog}: error: ${msg}\n`);
  process.exit(1);
};
const cmd = process.argv[2];
const opts = { npm: null, pattern: null, out: null, tokenizer: null };
const files = [];
for (let i = 3; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a.startsWith("--")) {
    const k = a.slice(2);
    if (!(k in opts) || i + 1 >= process.argv.length) die(`bad argument ${a}`);
    opts[k] = process.argv[++i];
  } else files.push(a);
}
if (!opts.npm) die("--npm DIR is required");
const root = path.resolve(opts.npm);
const req = createRequire(path.join(root, "package.json"));
const { Tokenizer } = req("tokenizers");

function untrained() {
  if (!opts.pattern) die("--pattern PATTERN_JSON is required (data/tiktoken/o200k_base.json)");
  const pat = JSON.parse(fs.readFileSync(opts.pattern, "utf8")).pat_str;
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false };
  const spec = {
    version: "1.0", truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: { type: "Sequence", pretokenizers: [
      { type: "Split", pattern: { Regex: pat }, behavior: "Isolated", invert: false }, byteLevel] },
    post_processor: null, decoder: byteLevel,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
             fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: {}, merges: [] },
  };
  return Tokenizer.fromString(JSON.stringify(spec));
}

if (cmd === "baseline") {
  untrained();
  process.stdout.write(JSON.stringify({ baseline: true }) + "\n");
} else if (cmd === "train") {
  if (!opts.out || files.length === 0) die("train needs --out FILE and TEXT files");
  const tk = untrained();
  const t0 = performance.now();
  tk.train(files.map((f) => path.resolve(f)));
  const train_s = (performance.now() - t0) / 1000;
  tk.save(opts.out);
  const model = JSON.parse(fs.readFileSync(opts.out, "utf8")).model;
  const vocab = Object.keys(model.vocab).length, merges = model.merges.length;
  process.stdout.write(JSON.stringify({ train_s, vocab, merges, alphabet: vocab - merges }) + "\n");
} else if (cmd === "count") {
  if (!opts.tokenizer) die("count needs --tokenizer FILE");
  const tk = Tokenizer.fromFile(opts.tokenizer);
  for (const f of files) {
    const text = fs.readFileSync(f, "utf8");
    const enc = await tk.encode(text, null, { addSpecialTokens: false });
    process.stdout.write(JSON.stringify({ file: f, bytes: Buffer.byteLength(text, "utf8"), tokens: enc.getLength() }) + "\n");
  }
} else die("expected train, baseline or count");
