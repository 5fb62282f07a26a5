// Tokenizer encode benchmark: single-thread tok_encode throughput on whole text files.
//
//   build/bench_tokenizer_encode [--dir data/tiktoken] [--encodings gpt2,cl100k_base,o200k_base]
//                                [--runs 5] [--split-only] FILE...
//   build/bench_tokenizer_encode --pathological [--dir D] [--runs 3] JAPANESE_FILE
//   build/bench_tokenizer_encode --versions
//
// Each encoding's rank file (DIR/NAME.tiktoken) is loaded once; each FILE is read once.  Then,
// per encoding and file: one warm-up tok_encode, then --runs timed ones over the whole text
// (ordinary text: special-token strings are encoded as text, like tiktoken's encode_ordinary),
// each starting from an empty id array, so growing it is part of the time, as in tiktoken.
// One JSON line per (encoding, file): bytes, tokens, a hash of the ids (32-bit FNV-1a over the
// id values, the same as bench/tiktoken_encode.mjs computes), the median and minimum seconds and
// MB/s (MB = 10^6 bytes).  With --split-only also the median time of the regex split alone
// (pretok_split with a callback that does nothing): the share of PCRE2 in the encode time.
//
// --pathological: o200k_base on inputs that are one enormous piece each: 'a' * 100000, 10 MB of
// random lowercase letters (no spaces), and 1 MB of hiragana, katakana and kanji taken in order
// from JAPANESE_FILE with everything else dropped (one run of letters, no spaces).
//
// --versions: PCRE2's version and JIT target, the compiler.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/io.h"
#include "core/timing.h"
#include "tokenizer/pretok.h"
#include "tokenizer/tokenizer.h"

static void die(const char *what, const err_t *e) {
    fprintf(stderr, "bench_tokenizer_encode: %s: %s\n", what, e->msg);
    exit(1);
}

// 32-bit FNV-1a over the id values (one step per id, not per byte): cheap in JavaScript too.
static uint32_t hash_ids(const int32_t *ids, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint32_t)ids[i]) * 16777619u;
    return h;
}

typedef struct {
    size_t tokens;
    uint32_t hash;
    double med, min;
} timing_t;

// One warm-up, then runs timed encodes of the whole text, each from an empty id array.
static timing_t time_encode(const tok_t *t, const char *text, size_t len, int runs) {
    timing_t r = {.min = 1e30};
    double *s = malloc(sizeof *s * (size_t)runs);
    for (int i = -1; i < runs; i++) {
        int32_t *ids = NULL;
        size_t n = 0, cap = 0;
        err_t e = {0};
        double t0 = timing_now();
        if (tok_encode(t, text, len, 0, &ids, &n, &cap, &e) != 0) die("encode", &e);
        double dt = timing_now() - t0;
        if (i >= 0) {
            s[i] = dt;
            if (dt < r.min) r.min = dt;
        } else {
            r.tokens = n;
            r.hash = hash_ids(ids, n);
        }
        free(ids);
    }
    r.med = timing_median(s, runs);
    free(s);
    return r;
}

static int count_cb(const char *text, size_t start, size_t end, void *ctx) {
    (*(size_t *)ctx)++;
    return 0;
}

// Median time of the regex split alone (no BPE), one warm-up first.
static double time_split(const tok_t *t, const char *text, size_t len, int runs, size_t *pieces) {
    pretok_t *p;
    err_t e = {0};
    if (pretok_new(&p, tok_pattern(t), &e) != 0) die("split pattern", &e);
    double *s = malloc(sizeof *s * (size_t)runs);
    for (int i = -1; i < runs; i++) {
        size_t n = 0;
        double t0 = timing_now();
        if (pretok_split(p, text, len, count_cb, &n, &e) != 0) die("split", &e);
        if (i >= 0) s[i] = timing_now() - t0;
        else *pieces = n;
    }
    double m = timing_median(s, runs);
    free(s);
    pretok_free(p);
    return m;
}

static tok_t *load(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.tiktoken", dir, name);
    tok_t *t;
    err_t e = {0};
    if (tok_load(&t, path, NULL, &e) != 0) die(path, &e);
    return t;
}

static void versions(void) {
    char v[128] = "?", jit[128] = "none";
    uint32_t has_jit = 0;
    pcre2_config(PCRE2_CONFIG_VERSION, v);
    pcre2_config(PCRE2_CONFIG_JIT, &has_jit);
    if (has_jit) pcre2_config(PCRE2_CONFIG_JITTARGET, jit);
    printf("{\"pcre2\": \"%s\", \"pcre2_jit\": \"%s\", \"compiler\": \"%s\"}\n", v, jit, __VERSION__);
}

// splitmix64
static uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// The first max bytes of hiragana (U+3041..U+309F), katakana (U+30A0..U+30FF) and CJK unified
// ideographs (U+4E00..U+9FFF) of a UTF-8 text, in order; everything else dropped.
static char *japanese_run(const char *src, size_t len, size_t max, size_t *out_len) {
    char *out = malloc(max + 4);
    size_t n = 0;
    for (size_t i = 0; i + 2 < len && n + 3 <= max; i++) {
        const unsigned char *p = (const unsigned char *)src + i;
        if ((p[0] & 0xF0) != 0xE0 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80) continue;
        uint32_t cp = (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
        if ((cp >= 0x3041 && cp <= 0x30FF) || (cp >= 0x4E00 && cp <= 0x9FFF)) {
            memcpy(out + n, p, 3);
            n += 3;
        }
        i += 2;
    }
    *out_len = n;
    return out;
}

static void pathological(const char *dir, const char *ja_path, int runs) {
    tok_t *t = load(dir, "o200k_base");
    err_t e = {0};
    char *ja;
    size_t ja_len;
    if (io_read_file(ja_path, &ja, &ja_len, &e) != 0) die(ja_path, &e);
    struct {
        const char *name;
        char *text;
        size_t len;
    } cases[3];
    cases[0].name = "'a' * 100000";
    cases[0].len = 100000;
    cases[0].text = malloc(cases[0].len);
    memset(cases[0].text, 'a', cases[0].len);
    cases[1].name = "10 MB random a-z, no spaces";
    cases[1].len = 10000000;
    cases[1].text = malloc(cases[1].len);
    uint64_t seed = 1;
    for (size_t i = 0; i < cases[1].len; i++) cases[1].text[i] = (char)('a' + next_u64(&seed) % 26);
    cases[2].name = "1 MB hiragana/katakana/kanji, no spaces";
    cases[2].text = japanese_run(ja, ja_len, 1000000, &cases[2].len);
    free(ja);
    for (int c = 0; c < 3; c++) {
        timing_t r = time_encode(t, cases[c].text, cases[c].len, runs);
        printf("{\"encoding\": \"o200k_base\", \"case\": \"%s\", \"bytes\": %zu, \"tokens\": %zu, \"hash\": \"%08x\", "
               "\"median_s\": %.6f, \"min_s\": %.6f, \"mb_per_s\": %.3f}\n",
               cases[c].name, cases[c].len, r.tokens, r.hash, r.med, r.min, cases[c].len / 1e6 / r.med);
        fflush(stdout);
        free(cases[c].text);
    }
    tok_free(t);
}

int main(int argc, char **argv) {
    const char *dir = "data/tiktoken", *encodings = "gpt2,cl100k_base,o200k_base";
    int runs = 5, split_only = 0, patho = 0, vers = 0;
    arg_opt_t opts[] = {
        {"dir", ARG_STR, &dir, "directory of the .tiktoken rank files"},
        {"encodings", ARG_STR, &encodings, "comma-separated encodings"},
        {"runs", ARG_INT, &runs, "timed runs per case (median reported), after one warm-up"},
        {"split-only", ARG_BOOL, &split_only, "also time the regex split alone"},
        {"pathological", ARG_BOOL, &patho, "time o200k_base on one-piece inputs (needs a Japanese FILE)"},
        {"versions", ARG_BOOL, &vers, "print PCRE2's version and JIT target"},
        {0},
    };
    char *pos[64];
    int npos;
    err_t e = {0};
    if (args_parse(opts, argc - 1, argv + 1, pos, 64, &npos, &e) != 0 || runs < 1 ||
        (!vers && npos == 0) || (patho && npos != 1)) {
        if (e.msg[0]) fprintf(stderr, "bench_tokenizer_encode: %s\n", e.msg);
        fprintf(stderr, "usage: bench_tokenizer_encode [flags] FILE...\n");
        args_print(stderr, opts);
        return 2;
    }
    if (vers) {
        versions();
        return 0;
    }
    if (patho) {
        pathological(dir, pos[0], runs);
        return 0;
    }
    char *text[64];
    size_t len[64];
    for (int f = 0; f < npos; f++)
        if (io_read_file(pos[f], &text[f], &len[f], &e) != 0) die(pos[f], &e);
    char *list = strdup(encodings);
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        tok_t *t = load(dir, name);
        for (int f = 0; f < npos; f++) {
            timing_t r = time_encode(t, text[f], len[f], runs);
            printf("{\"encoding\": \"%s\", \"file\": \"%s\", \"bytes\": %zu, \"tokens\": %zu, \"hash\": \"%08x\", "
                   "\"median_s\": %.6f, \"min_s\": %.6f, \"mb_per_s\": %.3f",
                   name, pos[f], len[f], r.tokens, r.hash, r.med, r.min, len[f] / 1e6 / r.med);
            if (split_only) {
                size_t pieces = 0;
                double s = time_split(t, text[f], len[f], runs, &pieces);
                printf(", \"pieces\": %zu, \"split_median_s\": %.6f", pieces, s);
            }
            printf("}\n");
            fflush(stdout);
        }
        tok_free(t);
    }
    free(list);
    for (int f = 0; f < npos; f++) free(text[f]);
    return 0;
}
