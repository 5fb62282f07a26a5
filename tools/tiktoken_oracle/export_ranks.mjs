// export_ranks.mjs - write OpenAI's BPE rank files and encoding definitions, checked against
// the npm `tiktoken` package (OpenAI's Rust core compiled to WASM).
//
// usage: node export_ranks.mjs --npm NPMDIR --out DIR [--force] [--encoding NAME]
//   NPMDIR holds node_modules/{tiktoken,js-tiktoken} (scripts/fetch_tiktoken.sh installs them).
// For each encoding (gpt2, cl100k_base, o200k_base, or just NAME) it writes, atomically:
//   DIR/<name>.tiktoken  one line per mergeable token, "<base64 of the token bytes> <rank>",
//                        sorted by rank: the format of OpenAI's published .tiktoken files;
//   DIR/<name>.json      {"name", "n_vocab", "n_ranks", "special_tokens", "pat_str",
//                         "pat_str_source", "ranks_file", "ranks_sha256"}.
// An encoding whose two files both exist is skipped unless --force.
//
// Where the data comes from:
//   ranks           js-tiktoken's rank modules (js-tiktoken/ranks/<name>). Their "bpe_ranks"
//                   field is a compressed text: lines "<x> <offset> <b64> <b64> ...", the i-th
//                   token of a line having rank offset + i. It is expanded by js-tiktoken's own
//                   code: its Tiktoken constructor fills textMap (rank -> token bytes).
//   special tokens  the tiktoken package's encoder definitions (tiktoken/encoders/<name>.json),
//                   each checked by encoding it with the WASM core, with allowed_special "all".
//   pat_str         the split regex as the tiktoken package uses it: the "pat_str" of
//                   tiktoken/encoders/<name>.json, checked to occur verbatim in tiktoken_bg.wasm
//                   (the Rust core's built-in get_encoding(name) definitions) and to equal
//                   js-tiktoken's (up to its spelling of the (?i:...) group, see below).
//                   OpenAI's tiktoken_ext/openai_public.py gives the same patterns, or in newer
//                   releases rewrites of them with possessive quantifiers (e.g. `\p{L}++`,
//                   `\s++$`) meant to run faster.
//
// Checks (any failure: exit 1, nothing written for that encoding):
//   - ranks are exactly 0..n-1 and the token bytes are distinct;
//   - for every rank r, the WASM core's decode_single_token_bytes(r) equals our bytes, and
//     encode_single_token(bytes) == r; token_byte_values() has n entries; ids from n up to
//     past the largest special id that are not special are unknown to the core;
//   - SHA-256 of the written file equals the expected_hash of OpenAI's published file in
//     openai_public.py (gpt2 uses r50k_base.tiktoken's: its ranks are the same);
//   - sample strings encoded by the core decode, through our table, back to their bytes.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ENCODINGS, die, parseArgs, loadPackages, writeAtomic, decodeIds } from "./common.mjs";

const PROG = "export_ranks";

// SHA-256 of OpenAI's files (openaipublic.blob.core.windows.net/encodings/<file>), from the
// expected_hash arguments in tiktoken_ext/openai_public.py. OpenAI builds gpt2 from the GPT-2
// vocab.bpe/encoder.json pair; its mergeable ranks are those of r50k_base.tiktoken.
const OPENAI_SHA256 = {
  gpt2: "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",        // r50k_base
  cl100k_base: "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
  o200k_base: "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
};

// js-tiktoken (for JS RegExp engines without inline modifiers) spells the (?i:...) contraction
// group of cl100k_base and o200k_base as explicit ASCII case variants; the patterns are
// otherwise the same. (Not quite the same in principle: Unicode case folding, as in Rust's
// regex crate, also lets "s" match U+017F LATIN SMALL LETTER LONG S; vectors.jsonl has strings
// with "'\u017f" so that the C side is checked against what tiktoken really does there.)
const CONTRACTIONS_I = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
const CONTRACTIONS_JS = "('s|'S|'t|'T|'re|'rE|'Re|'RE|'ve|'vE|'Ve|'VE|'m|'M|'ll|'lL|'Ll|'LL|'d|'D)";

// Strings used for the round-trip check (the full test set is in strings.mjs).
const SAMPLES = [
  "Hello, world! It's 2024 and we're testing tiktoken.",
  "日本語のテキスト、カタカナとひらがな。漢字も。",
  "  leading and trailing spaces  \n\tline two\r\n",
  "emoji 👩‍👩‍👧‍👦 🇯🇵 👍🏽 and <|endoftext|> as text",
  "def f(x):\n    return x ** 2  # 1234567 12.5\n",
];

function fail(name, msg) { die(PROG, `${name}: ${msg}`); }

const sameBytes = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

function exportEncoding(pkgs, name, outDir, wasmBytes) {
  // 1. Expand js-tiktoken's compressed ranks with js-tiktoken's own constructor.
  const jsRanks = pkgs.jsRanks(name);
  const jsEnc = new pkgs.JsTiktoken(jsRanks);
  const n = jsEnc.textMap.size;                     // rank -> Uint8Array
  const bytesOf = new Array(n);
  for (const [rank, bytes] of jsEnc.textMap) {
    if (!Number.isInteger(rank) || rank < 0 || rank >= n) fail(name, `ranks are not 0..${n - 1} (saw ${rank})`);
    bytesOf[rank] = Buffer.from(bytes);
  }
  if (jsEnc.rankMap.size !== n) fail(name, `token bytes not distinct (${jsEnc.rankMap.size} of ${n})`);

  // 2. Special tokens and split regex from the tiktoken package, compared with js-tiktoken's.
  const def = pkgs.tiktokenEncoderJson(name);
  const special = def.special_tokens;
  const patStr = def.pat_str;
  if (JSON.stringify(special) !== JSON.stringify(jsRanks.special_tokens))
    fail(name, "special tokens differ between tiktoken and js-tiktoken");
  if (patStr.replaceAll(CONTRACTIONS_I, CONTRACTIONS_JS) !== jsRanks.pat_str)
    fail(name, "pat_str differs between tiktoken and js-tiktoken");
  if (wasmBytes.indexOf(Buffer.from(patStr, "utf8")) < 0)
    fail(name, "pat_str of encoders/*.json does not occur in tiktoken_bg.wasm");

  // 3. Every rank against the WASM core.
  const core = pkgs.tiktoken.get_encoding(name);
  for (let r = 0; r < n; r++) {
    if (!sameBytes(core.decode_single_token_bytes(r), bytesOf[r])) fail(name, `rank ${r}: bytes differ from tiktoken`);
    if (core.encode_single_token(bytesOf[r]) !== r) fail(name, `rank ${r}: encode_single_token disagrees`);
  }
  if (core.token_byte_values().length !== n) fail(name, `tiktoken has ${core.token_byte_values().length} tokens, we have ${n}`);
  for (const [tok, id] of Object.entries(special)) {
    if (id < n) fail(name, `special token ${tok} = ${id} collides with a rank`);
    const ids = Array.from(core.encode(tok, "all"));
    if (ids.length !== 1 || ids[0] !== id) fail(name, `tiktoken encodes ${tok} as [${ids}], expected [${id}]`);
    if (!sameBytes(core.decode_single_token_bytes(id), Buffer.from(tok))) fail(name, `decode(${id}) is not ${tok}`);
  }

  // 4. Round trip: ids from the core, bytes from our table.
  for (const s of SAMPLES) {
    const ordinary = Array.from(core.encode_ordinary(s));
    if (!decodeIds(ordinary, bytesOf).equals(Buffer.from(s, "utf8"))) fail(name, `round trip failed: ${JSON.stringify(s)}`);
    const withSpecial = Array.from(core.encode(s, "all"));
    if (!decodeIds(withSpecial, bytesOf, special).equals(Buffer.from(s, "utf8")))
      fail(name, `round trip (allowed_special all) failed: ${JSON.stringify(s)}`);
  }
  core.free();

  // 5. No other token ids: probe on a throwaway instance (a failed lookup throws from inside
  //    the WASM and leaves the object unusable, so it is not freed).
  const maxSpecial = Math.max(...Object.values(special));
  const probe = pkgs.tiktoken.get_encoding(name);
  const ids = new Set(Object.values(special));
  for (let id = n; id <= maxSpecial + 64; id++) {
    if (ids.has(id)) continue;
    let known = true;
    try { probe.decode_single_token_bytes(id); } catch { known = false; }
    if (known) fail(name, `tiktoken knows token id ${id}, which is neither a rank nor a listed special token`);
  }

  // 6. The .tiktoken text; its hash must be OpenAI's.
  const text = bytesOf.map((b, r) => `${b.toString("base64")} ${r}\n`).join("");
  const sha = crypto.createHash("sha256").update(text, "latin1").digest("hex");
  if (sha !== OPENAI_SHA256[name]) fail(name, `sha256 ${sha} is not OpenAI's ${OPENAI_SHA256[name]}`);

  const info = {
    name,
    n_vocab: Math.max(n - 1, maxSpecial) + 1,
    n_ranks: n,
    special_tokens: special,
    pat_str: patStr,
    pat_str_source: `npm tiktoken@${pkgs.tiktokenVersion} encoders/${name}.json "pat_str", ` +
      "found verbatim in its tiktoken_bg.wasm (the Rust core's get_encoding); same as " +
      `js-tiktoken@${pkgs.jsTiktokenVersion} ranks/${name} up to (?i:...) spelling ` +
      "(OpenAI's tiktoken_ext/openai_public.py has this pattern, or in newer releases " +
      "a rewrite with possessive quantifiers)",
    ranks_file: `${name}.tiktoken`,
    ranks_sha256: sha,
  };
  writeAtomic(path.join(outDir, `${name}.tiktoken`), Buffer.from(text, "latin1"));
  writeAtomic(path.join(outDir, `${name}.json`), JSON.stringify(info, null, 2) + "\n");
  return { n, specials: Object.keys(special).length, sha };
}

const opts = parseArgs(PROG, process.argv.slice(2), { npm: "value", out: "value", force: "bool", encoding: "value" });
if (!opts.npm || !opts.out) die(PROG, "usage: node export_ranks.mjs --npm NPMDIR --out DIR [--force] [--encoding NAME]");
if (opts.encoding && !ENCODINGS.includes(opts.encoding)) die(PROG, `unknown encoding: ${opts.encoding}`);
let pkgs;
try { pkgs = loadPackages(opts.npm); } catch (err) { die(PROG, `cannot load npm packages from ${opts.npm}: ${err.message}`); }
const wasmBytes = fs.readFileSync(path.join(pkgs.tiktokenDir, "tiktoken_bg.wasm"));
fs.mkdirSync(opts.out, { recursive: true });

console.log(`tiktoken ${pkgs.tiktokenVersion} (WASM), js-tiktoken ${pkgs.jsTiktokenVersion}`);
for (const name of opts.encoding ? [opts.encoding] : ENCODINGS) {
  const files = [`${name}.tiktoken`, `${name}.json`].map((f) => path.join(opts.out, f));
  if (!opts.force && files.every((f) => fs.existsSync(f))) { console.log(`${name}: kept (exists; --force rebuilds)`); continue; }
  const t0 = Date.now();
  const r = exportEncoding(pkgs, name, opts.out, wasmBytes);
  console.log(`${name}: ${r.n} ranks + ${r.specials} special, sha256 ${r.sha} = OpenAI's, ` +
    `checked against tiktoken (${Date.now() - t0} ms)`);
}
