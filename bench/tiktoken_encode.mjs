// tiktoken_encode.mjs - the reference side of bench/tokenizer.sh: npm `tiktoken` (OpenAI's
// Rust tiktoken core compiled to WASM), encode_ordinary over whole text files, single thread.
//
//   node bench/tiktoken_encode.mjs --npm data/tiktoken/npm [--encodings gpt2,cl100k_base,o200k_base]
//                                  [--runs 5] [--pathological] FILE...
//
// Mirrors build/bench_tokenizer_encode: each encoding is loaded once (get_encoding, untimed),
// each file is read once into a JS string (untimed); then per encoding and file one warm-up
// encode_ordinary(text) and --runs timed ones (performance.now around the call alone, which
// includes the copy of the string into WASM memory as UTF-8 and of the ids back out).
// One JSON line per (encoding, file): bytes (UTF-8), tokens, the 32-bit FNV-1a hash of the id
// values (as the C benchmark computes it), median and minimum seconds, MB/s (10^6 bytes).
// --pathological: the same one-piece inputs as the C benchmark's --pathological, given a
// Japanese FILE; only 'a' * 100000 and 1 MB of Japanese (tiktoken's merge of one piece is
// quadratic in its length, so 10 MB of letters would run for hours), with o200k_base, and
// without a warm-up (each encode takes seconds).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const prog = "tiktoken_encode.mjs";
const die = (msg) => {
  process.stderr.write(`${prog}: error: ${msg}\n`);
  process.exit(1);
};
const opts = { encodings: "gpt2,cl100k_base,o200k_base", runs: "5", npm: null, pathological: false };
const files = [];
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === "--pathological") opts.pathological = true;
  else if (a.startsWith("--")) {
    const k = a.slice(2);
    if (!(k in opts) || i + 1 >= process.argv.length) die(`bad argument ${a}`);
    opts[k] = process.argv[++i];
  } else files.push(a);
}
if (!opts.npm) die("--npm DIR is required (scripts/fetch_tiktoken.sh installs tiktoken there)");
const runs = +opts.runs;
const root = path.resolve(opts.npm);
const req = createRequire(path.join(root, "package.json"));
const { get_encoding } = req("tiktoken");
const version = JSON.parse(fs.readFileSync(path.join(root, "node_modules/tiktoken/package.json"), "utf8")).version;

function hashIds(ids) {
  let h = 2166136261;
  for (let i = 0; i < ids.length; i++) h = Math.imul(h ^ ids[i], 16777619) >>> 0;
  return h.toString(16).padStart(8, "0");
}

// One warm-up (whose ids are checked), then nruns timed encodes; without warm-up the first
// timed encode gives the ids.
function timeEncode(enc, text, nruns, warm = true) {
  let first = warm ? enc.encode_ordinary(text) : null;
  const s = [];
  for (let i = 0; i < nruns; i++) {
    const t0 = performance.now();
    const ids = enc.encode_ordinary(text);
    s.push((performance.now() - t0) / 1000);
    if (!first) first = ids;
  }
  s.sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { tokens: first.length, hash: hashIds(first), med, min: s[0] };
}

const line = (o) => process.stdout.write(JSON.stringify(o) + "\n");
line({ tiktoken_npm: version, node: process.version });

if (opts.pathological) {
  if (files.length !== 1) die("--pathological needs one Japanese FILE");
  const ja = fs.readFileSync(files[0], "utf8");
  // The same run as the C benchmark: hiragana, katakana, CJK ideographs, first 10^6 bytes.
  let run = "";
  for (const ch of ja) {
    const cp = ch.codePointAt(0);
    if ((cp >= 0x3041 && cp <= 0x30ff) || (cp >= 0x4e00 && cp <= 0x9fff)) {
      if (run.length * 3 + 3 > 1000000) break;
      run += ch;
    }
  }
  const enc = get_encoding("o200k_base");
  for (const [name, text] of [["'a' * 100000", "a".repeat(100000)], ["1 MB hiragana/katakana/kanji, no spaces", run]]) {
    const r = timeEncode(enc, text, runs, false); // each encode takes many seconds: no warm-up
    const bytes = Buffer.byteLength(text, "utf8");
    line({ encoding: "o200k_base", case: name, bytes, tokens: r.tokens, hash: r.hash, median_s: r.med, min_s: r.min,
           mb_per_s: bytes / 1e6 / r.med });
  }
  enc.free();
  process.exit(0);
}

const texts = files.map((f) => fs.readFileSync(f, "utf8"));
for (const name of opts.encodings.split(",")) {
  const enc = get_encoding(name);
  files.forEach((f, i) => {
    const r = timeEncode(enc, texts[i], runs);
    const bytes = Buffer.byteLength(texts[i], "utf8");
    line({ encoding: name, file: f, bytes, tokens: r.tokens, hash: r.hash, median_s: r.med, min_s: r.min,
           mb_per_s: bytes / 1e6 / r.med });
  });
  enc.free();
}
