// common.mjs - shared helpers of the tiktoken oracle scripts (export_ranks.mjs, make_vectors.mjs).
//
// The npm packages live in a private prefix (scripts/fetch_tiktoken.sh installs them into
// DIR/npm with `npm install --prefix`), not next to these files, so they are loaded through
// createRequire() anchored at that prefix; their CommonJS builds are used:
//   tiktoken     OpenAI's Rust tiktoken core compiled to WASM (the reference encoder);
//   js-tiktoken  a pure-JS port whose rank modules hold the BPE ranks in a compressed text form.

import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

export const ENCODINGS = ["gpt2", "cl100k_base", "o200k_base"];

export function die(prog, msg) {
  process.stderr.write(`${prog}: error: ${msg}\n`);
  process.exit(1);
}

// parseArgs(prog, argv, flags): "--npm DIR --out DIR [--force]" style options.
// flags maps an option name to "value" or "bool"; returns {name: value}.
export function parseArgs(prog, argv, flags) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith("--") ? a.slice(2) : null;
    if (name === null || !(name in flags)) die(prog, `unknown argument: ${a}`);
    if (flags[name] === "bool") { opts[name] = true; continue; }
    if (i + 1 >= argv.length) die(prog, `${a} needs a value`);
    opts[name] = argv[++i];
  }
  return opts;
}

// loadPackages(npmDir): the two npm packages installed under npmDir/node_modules.
export function loadPackages(npmDir) {
  const root = path.resolve(npmDir);
  const req = createRequire(path.join(root, "package.json"));
  // (package.json is not in the packages' "exports", so it is read directly)
  const version = (pkg) =>
    JSON.parse(fs.readFileSync(path.join(root, "node_modules", pkg, "package.json"), "utf8")).version;
  const tiktokenMain = req.resolve("tiktoken");
  return {
    tiktoken: req("tiktoken"),                      // get_encoding(name) -> WASM Tiktoken
    tiktokenVersion: version("tiktoken"),
    tiktokenDir: path.dirname(tiktokenMain),
    tiktokenEncoderJson: (name) => req(`tiktoken/encoders/${name}.json`),
    JsTiktoken: req("js-tiktoken/lite").Tiktoken,   // class; its constructor expands bpe_ranks
    jsRanks: (name) => req(`js-tiktoken/ranks/${name}`),
    jsTiktokenVersion: version("js-tiktoken"),
  };
}

// writeAtomic(file, data): write a temp file in the same directory, then rename over file.
export function writeAtomic(file, data) {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    fs.writeFileSync(tmp, data, { mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

// readRankFile(file): parse a .tiktoken file ("<base64> <rank>" per line) into an array
// bytesOf[rank] = Buffer. Checks the ranks are 0..n-1 in order and the token bytes distinct.
export function readRankFile(file) {
  const text = fs.readFileSync(file, "latin1");
  if (!text.endsWith("\n")) throw new Error(`${file}: does not end with a newline`);
  const bytesOf = [];
  const seen = new Set();
  for (const line of text.slice(0, -1).split("\n")) {
    const m = /^([A-Za-z0-9+/]+={0,2}) (0|[1-9][0-9]*)$/.exec(line);
    if (!m) throw new Error(`${file}: bad line ${bytesOf.length + 1}: ${JSON.stringify(line)}`);
    if (Number(m[2]) !== bytesOf.length) throw new Error(`${file}: rank ${m[2]} out of order`);
    if (seen.has(m[1])) throw new Error(`${file}: duplicate token ${m[1]}`);
    seen.add(m[1]);
    bytesOf.push(Buffer.from(m[1], "base64"));
  }
  return bytesOf;
}

// decodeIds(ids, bytesOf, specialTokens): concatenated bytes of the tokens (specials by name).
export function decodeIds(ids, bytesOf, specialTokens = {}) {
  const byId = new Map(Object.entries(specialTokens).map(([s, id]) => [id, Buffer.from(s, "utf8")]));
  return Buffer.concat(ids.map((id) => {
    const b = id < bytesOf.length ? bytesOf[id] : byId.get(id);
    if (b === undefined) throw new Error(`token id ${id} is neither a rank nor a special token`);
    return b;
  }));
}
