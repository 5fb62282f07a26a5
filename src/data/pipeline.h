// pipeline: `manabi data` from raw files to clean, deduplicated JSONL, with a report of what
// was dropped and why.
//
//     pl_config_t c;
//     pl_config_default(&c);
//     c.out_dir = "data/clean";
//     if (pl_run(&c, inputs, n_inputs, &e) != 0) ...     // clean + dedup + finish + report
//
// The work is three stages.  One machine runs them back to back (pl_run); a cluster runs stage
// 1 and 3 as n independent jobs (`--shard i/n`, e.g. under a scheduler or mpirun) and stage 2
// once in between, all sharing out_dir:
//   1. pl_clean (shard i of n: the input files f with f % n == i): read, extract (HTML, man
//      pages), normalise (normalize.h), identify the language, drop other languages, apply the
//      quality rules (filters.h; English: the C4 line pass, then Gopher, C4 and FineWeb rules;
//      Japanese: the character rules), scrub e-mail and IP addresses.  For the documents kept it
//      writes work/P.docs (their text), work/P.sig (128-bit hash and MinHash signature) and
//      work/P.lines (in how many documents each line occurs), and work/P.report.json.
//   2. pl_dedup (once, after every part's pl_clean): exact duplicates (same hash), near
//      duplicates (MinHash LSH over every part's signatures, minhash.h), and boilerplate lines
//      (lines in >= line_min_docs documents); writes work/dedup.* and its report.
//   3. pl_finish (shard i of n): drops the duplicates, removes each boilerplate line from every
//      document but the first that has it, checks the changed documents against the part's
//      quality rules again (those pl_clean used, kept in work/P.quality), and writes clean/P.jsonl ({"text", "source", "lang"} per line) and, with
//      `explain`, dropped/P.jsonl (every dropped document with its stage, reason, measured
//      value and limit).
//   pl_report adds up every part's reports into report.json.
// P is "<name>.<i>-of-<n>" (e.g. "web.00003-of-00016").  Several pl_clean runs with different
// names (and settings: other rules for books than for web pages) may share one out_dir; the
// dedup stage then deduplicates across all of them.
//
// Determinism.  A document's "order" is (the rank of its part name among all names in
// out_dir, the index of its file in the inputs given, its index in the file); where a
// duplicate must go, the lowest order stays.  So the output does not depend on the thread
// count or on n, only on the inputs and the settings.  Each part is written in input order.
//
// Inputs.  Files, or directories walked recursively in name order (symbolic links inside a
// directory are skipped: in man page trees they are aliases of pages already read).  The
// format of each file comes from reader.h (by name, then by content).
//
// Bad input.  Malformed JSONL lines, binary files and over-long documents are skipped and
// counted with their file:line in the report (strict: the first one is an error).  A file
// that breaks off (truncated gzip/zstd, cut WARC record) keeps the documents before the cut,
// is reported on stderr and counted as "read_error" (strict: an error).  A stage that fails
// leaves no output of its own behind: every file is written atomically.
//
// Memory.  pl_clean holds one batch of documents (about 32 MB of text) plus the line table
// (24 bytes per distinct line of at least line_min_chars characters).  pl_dedup holds the
// signatures of every kept document (8 * bands * rows + 32 bytes each: 928 MB per million
// documents at 14 x 8) plus the merged line table; pl_finish holds the drop list (24 bytes per
// duplicate) and the boilerplate lines.
#ifndef MANABI_DATA_PIPELINE_H
#define MANABI_DATA_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "data/filters.h"
#include "data/normalize.h"
#include "data/reader.h"
#include "data/report.h"

typedef struct pl_config {
    const char *out_dir;     // required
    const char *name;        // "part": letters, digits, '_' and '-'
    int shard, n_shards;     // 0, 1
    rd_config_t reader;      // reader.h defaults
    tn_config_t norm;        // NFC, drop above 1% invalid UTF-8
    qf_config_t quality;     // published defaults, minus the C4 terminal-punctuation line rule (as FineWeb)
    const char *langs;       // "en,ja": languages kept, comma separated; "all" keeps every language
    int pii;                 // 1: replace e-mail and IP addresses
    int exact, near, lines;  // 1, 1, 1: the three deduplications
    int mh_bands, mh_rows;   // 14, 8
    uint64_t mh_seed;        // 1
    double mh_verify;        // 0.8: a candidate pair is a duplicate when its estimated Jaccard is >= this
    int line_min_docs;       // 3: a line in at least this many documents is boilerplate
    int line_min_chars;      // 16: shorter lines are never boilerplate
    int explain;             // 0: 1 writes dropped/P.jsonl
    int progress;            // 1: progress, rate and ETA on stderr
} pl_config_t;

void pl_config_default(pl_config_t *c);

// Expands files and directories (walked recursively, sorted by name, symlinks inside skipped)
// into *files (n_files entries, each malloc'd; free with pl_free_files).  -1 with e naming the
// path that does not exist or cannot be read, or when nothing is left.
int pl_expand_inputs(const char *const *paths, int n_paths, char ***files, int *n_files, err_t *e);
void pl_free_files(char **files, int n);

// The three stages and the report (see the top of this file).  Each returns 0 or -1 with e.
int pl_clean(const pl_config_t *c, const char *const *files, int n_files, err_t *e);
int pl_dedup(const pl_config_t *c, err_t *e);
int pl_finish(const pl_config_t *c, err_t *e);
// pl_finish for every part in out_dir/work (only those called `name`, unless name is NULL),
// one after another: a single machine's stage 3 after several pl_clean runs.
int pl_finish_all(const pl_config_t *c, const char *name, err_t *e);
// Adds up every report under c->out_dir/work into *r (caller frees) and writes
// c->out_dir/report.json.
int pl_report(const pl_config_t *c, rp_t **r, err_t *e);

// pl_clean, pl_dedup, pl_finish and pl_report with shard 0 of 1.
int pl_run(const pl_config_t *c, const char *const *files, int n_files, rp_t **r, err_t *e);

#endif
