// report: what the data pipeline did, stage by stage: documents and bytes in and out, every
// drop by reason with a few examples, and the counters that are not drops (reader skips, PII
// replacements, languages seen, boilerplate lines removed).
//
//     rp_t *r = rp_new();
//     rp_stage_in(r, RP_QUALITY, len);
//     if (verdict.rule != QF_KEEP) rp_drop(r, RP_QUALITY, qf_rule_name(verdict.rule), source, text, len, value, limit);
//     else rp_stage_out(r, RP_QUALITY, len);
//     rp_count(r, "pii.emails", 3);
//     rp_save(r, "out/work/part.report.json", &e);    // parts are merged with rp_load + rp_merge
//     rp_print(r, stdout);
//     rp_free(r);
//
// A report is plain counts, so reports from the parts of a sharded run add up exactly with
// rp_merge; examples are kept from the first parts merged (at most RP_EXAMPLES per reason).
// Not thread-safe: the pipeline records from its sequential, in-order phase, so a report is
// the same whatever the thread count.
#ifndef MANABI_DATA_REPORT_H
#define MANABI_DATA_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

// The stages, in pipeline order.
#define RP_STAGES(X)                  \
    X(RP_READ, "read")                \
    X(RP_EXTRACT, "extract")          \
    X(RP_NORMALIZE, "normalize")      \
    X(RP_LANGUAGE, "language")        \
    X(RP_QUALITY, "quality")          \
    X(RP_EXACT_DEDUP, "exact_dedup")  \
    X(RP_NEAR_DEDUP, "near_dedup")    \
    X(RP_LINE_DEDUP, "line_dedup")

#define RP_ENUM_(e, s) e,
typedef enum rp_stage { RP_STAGES(RP_ENUM_) RP_NUM_STAGES } rp_stage_t;
#undef RP_ENUM_

enum { RP_EXAMPLES = 3, RP_SNIPPET = 240 };

typedef struct rp rp_t;  // opaque

// NULL when out of memory.
rp_t *rp_new(void);
void rp_free(rp_t *r);  // NULL-safe
const char *rp_stage_name(rp_stage_t s);

// A document of len bytes entered / left stage s.
void rp_stage_in(rp_t *r, rp_stage_t s, size_t len);
void rp_stage_out(rp_t *r, rp_stage_t s, size_t len);
// Stage s dropped a document of len bytes for `reason` (copied).  value and limit are what the
// rule measured and the threshold it broke (NaN when they mean nothing); the first
// RP_EXAMPLES drops per reason keep source (may be NULL) and the first RP_SNIPPET bytes of the
// text (cut at a character boundary).  Returns -1 only when out of memory.
int rp_drop(rp_t *r, rp_stage_t s, const char *reason, const char *source, const char *text, size_t len,
            double value, double limit);
// n more documents (of `bytes` bytes in all) entered stage s and were dropped for reason,
// without examples.  -1: out of memory.
int rp_add_drops(rp_t *r, rp_stage_t s, const char *reason, int64_t n, int64_t bytes);
// Adds n to the named counter ("pii.emails", "lang.ja", "reader.malformed" ...).  -1: out of memory.
int rp_count(rp_t *r, const char *name, int64_t n);
// The named counter's value (0 when never counted).
int64_t rp_counter(const rp_t *r, const char *name);
// Documents / bytes out of stage s, and dropped by stage s for reason (0 when none).
int64_t rp_docs_out(const rp_t *r, rp_stage_t s);
int64_t rp_dropped(const rp_t *r, rp_stage_t s, const char *reason);

// Adds every count of src into dst (examples too, up to RP_EXAMPLES per reason).
int rp_merge(rp_t *dst, const rp_t *src, err_t *e);

// JSON: {"stages": [{"stage", "docs_in", "bytes_in", "docs_out", "bytes_out",
//                    "dropped": [{"reason", "docs", "bytes", "examples": [{"source", "text", "value", "limit"}]}]}],
//        "counters": {name: n}}.  Written atomically.
int rp_save(const rp_t *r, const char *path, err_t *e);
// Reads a file rp_save wrote; e names the file and what is wrong with it.
int rp_load(rp_t **r, const char *path, err_t *e);

// A table for people: per stage documents and bytes in/out and the share kept, each drop
// reason with its counts and one example, then the counters.
void rp_print(const rp_t *r, FILE *f);

#endif
