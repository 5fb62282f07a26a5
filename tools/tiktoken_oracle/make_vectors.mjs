// make_vectors.mjs - tokenizer test vectors from the npm `tiktoken` package (OpenAI's Rust
// core compiled to WASM), for the test strings of strings.mjs.
//
// usage: node make_vectors.mjs --npm NPMDIR --out DIR
//   NPMDIR holds node_modules/tiktoken; DIR holds the <name>.tiktoken / <name>.json files that
//   export_ranks.mjs wrote (used here to check every vector).
// Writes DIR/vectors.jsonl (atomically): for each encoding (gpt2, cl100k_base, o200k_base), for
// each string in strings.mjs order, one line
//   {"encoding": "cl100k_base", "name": "...", "text_b64": "<base64 of the UTF-8 bytes>", "ids": [...]}
// with ids = encode_ordinary(text) (special-token text is encoded as plain text); and, for the
// strings marked special, a second line with "allowed_special": "all" (before "ids") and
// ids = encode(text, "all"). The output is deterministic (same packages, same bytes).
//
// Checks: DIR/<encoding>.tiktoken has the sha256 recorded in DIR/<encoding>.json; each vector's
// ids, looked up in DIR/<encoding>.tiktoken (and DIR/<encoding>.json for
// special tokens), concatenate back to the text's bytes; decode() of the core agrees.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ENCODINGS, die, parseArgs, loadPackages, writeAtomic, readRankFile, decodeIds } from "./common.mjs";
import { STRINGS } from "./strings.mjs";

const PROG = "make_vectors";

const opts = parseArgs(PROG, process.argv.slice(2), { npm: "value", out: "value" });
if (!opts.npm || !opts.out) die(PROG, "usage: node make_vectors.mjs --npm NPMDIR --out DIR");
let pkgs;
try { pkgs = loadPackages(opts.npm); } catch (err) { die(PROG, `cannot load npm packages from ${opts.npm}: ${err.message}`); }

const lines = [];
const counts = {};
for (const encoding of ENCODINGS) {
  const rankFile = path.join(opts.out, `${encoding}.tiktoken`);
  const infoFile = path.join(opts.out, `${encoding}.json`);
  if (!fs.existsSync(rankFile) || !fs.existsSync(infoFile)) die(PROG, `${rankFile} or ${infoFile} missing (run export_ranks.mjs first)`);
  const info = JSON.parse(fs.readFileSync(infoFile, "utf8"));
  const sha = crypto.createHash("sha256").update(fs.readFileSync(rankFile)).digest("hex");
  if (sha !== info.ranks_sha256) die(PROG, `${rankFile}: sha256 is not the ranks_sha256 of ${infoFile} (rebuild with --force)`);
  let bytesOf;
  try { bytesOf = readRankFile(rankFile); } catch (err) { die(PROG, err.message); }
  const special = info.special_tokens;
  const core = pkgs.tiktoken.get_encoding(encoding);
  counts[encoding] = { vectors: 0, tokens: 0 };

  // vector(): one line; key order is fixed by construction.
  const vector = (s, allSpecial) => {
    const ids = Array.from(allSpecial ? core.encode(s.text, "all") : core.encode_ordinary(s.text));
    const bytes = Buffer.from(s.text, "utf8");
    const what = `${encoding} ${s.name}${allSpecial ? " (allowed_special all)" : ""}`;
    if (!decodeIds(ids, bytesOf, special).equals(bytes)) die(PROG, `${what}: ids do not decode to the text through ${rankFile}`);
    if (!Buffer.from(core.decode(Uint32Array.from(ids))).equals(bytes)) die(PROG, `${what}: tiktoken's decode disagrees`);
    const v = { encoding, name: s.name, text_b64: bytes.toString("base64") };
    if (allSpecial) v.allowed_special = "all";
    v.ids = ids;
    lines.push(JSON.stringify(v));
    counts[encoding].vectors++;
    counts[encoding].tokens += ids.length;
  };
  for (const s of STRINGS) {
    vector(s, false);
    if (s.special) vector(s, true);
  }
  core.free();
}

fs.mkdirSync(opts.out, { recursive: true });
writeAtomic(path.join(opts.out, "vectors.jsonl"), lines.join("\n") + "\n");
console.log(`tiktoken ${pkgs.tiktokenVersion} (WASM): ${STRINGS.length} strings, ` +
  `${STRINGS.filter((s) => s.special).length} also with allowed_special all`);
for (const [enc, c] of Object.entries(counts)) console.log(`${enc}: ${c.vectors} vectors, ${c.tokens} tokens`);
console.log(`vectors.jsonl: ${lines.length} lines`);
