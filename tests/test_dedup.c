// Tests for the pieces the data pipeline's stages hand to each other: data/dedup (line hashes,
// the line table and its file), the quality-rule settings by name (qf_config_set /
// qf_config_switch, filters.h) and data/report (counts, examples, files, merging).
// Expected values come from naive recomputation here (hash every stripped line, count by hand).
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/dedup.h"
#include "data/filters.h"
#include "data/report.h"
#include "test.h"

// ---- dd_line_hashes ----

static int hashes_of(const char *text, int min_chars, uint64_t *out, size_t max) {
    uint64_t *hs = NULL;
    size_t n = 0, cap = 0;
    CHECK(dd_line_hashes(text, strlen(text), min_chars, &hs, &n, &cap) == 0);
    CHECK(n <= cap || n == 0);
    for (size_t i = 0; i < n && i < max; i++) out[i] = hs[i];
    free(hs);
    return (int)n;
}

static int has(const uint64_t *h, int n, uint64_t x) {
    for (int i = 0; i < n; i++)
        if (h[i] == x) return 1;
    return 0;
}

#define LINE_A "the first line of this text"
#define LINE_B "another line that is long enough"
#define LINE_C "a third and final line here"

TEST(dedup_line_hashes_distinct_sorted) {
    // LINE_A three times (once with surrounding whitespace), B and C once, short lines, blanks.
    const char text[] = LINE_A "\n" LINE_B "\n\n  \t" LINE_A " \r\nshort\n" LINE_C "\n" LINE_A "\n\n";
    uint64_t h[16];
    int n = hashes_of(text, 16, h, 16);
    CHECK_MSG(n == 3, "%d hashes, want 3 (A, B, C once each)", n);
    for (int i = 1; i < n; i++) CHECK_MSG(h[i - 1] < h[i], "hashes not strictly increasing at %d", i);
    uint64_t a = dd_line_hash(LINE_A, strlen(LINE_A)), b = dd_line_hash(LINE_B, strlen(LINE_B)),
             c = dd_line_hash(LINE_C, strlen(LINE_C));
    CHECK(has(h, n, a) && has(h, n, b) && has(h, n, c));
    CHECK(!has(h, n, dd_line_hash("short", 5)));
    // Whitespace around a line does not change it; whitespace inside does.
    uint64_t h2[4];
    CHECK(hashes_of(" \t " LINE_A "  \t", 16, h2, 4) == 1 && h2[0] == a);
    CHECK(hashes_of("the first line  of this text", 16, h2, 4) == 1 && h2[0] != a);
    // No qualifying line: nothing, and no failure.
    CHECK(hashes_of("", 16, h2, 4) == 0);
    CHECK(hashes_of("tiny\nlines\nonly\n", 16, h2, 4) == 0);
    // The buffer is reused across calls: the second call's count replaces the first's.
    uint64_t *hs = NULL;
    size_t cnt = 0, cap = 0;
    CHECK(dd_line_hashes(text, strlen(text), 16, &hs, &cnt, &cap) == 0 && cnt == 3);
    CHECK(dd_line_hashes(LINE_B, strlen(LINE_B), 16, &hs, &cnt, &cap) == 0 && cnt == 1 && hs[0] == b);
    free(hs);
}

TEST(dedup_line_min_chars_counts_code_points) {
    // "日本語の文章です" is 8 code points in 24 bytes; "日本語の文" 5 in 15.
    const char *ja8 = "日本語の文章です", *ja5 = "日本語の文";
    uint64_t h[4];
    CHECK(hashes_of(ja8, 8, h, 4) == 1 && h[0] == dd_line_hash(ja8, strlen(ja8)));
    CHECK_MSG(hashes_of(ja8, 9, h, 4) == 0, "an 8-character line (24 bytes) passed min_chars 9");
    CHECK_MSG(hashes_of(ja5, 16, h, 4) == 0, "a 5-character line (15 bytes) passed min_chars 16");
    // 16 ASCII characters pass 16, 15 do not; a 6-character Japanese line (18 bytes) does not.
    CHECK(hashes_of("abcdefghijklmnop", 16, h, 4) == 1);
    CHECK(hashes_of("abcdefghijklmno", 16, h, 4) == 0);
    CHECK(hashes_of("日本語の文章", 16, h, 4) == 0);
    CHECK(hashes_of("日本語の文章", 6, h, 4) == 1);
    // Leading/trailing spaces do not count towards the length.
    CHECK(hashes_of("     abcdefghijklmno     ", 16, h, 4) == 0);
}

static void join_line(const char *line, size_t len, void *ctx) {
    char *out = ctx;
    size_t o = strlen(out);
    snprintf(out + o, 64 - o, "[%.*s]", (int)len, line);
}

TEST(dedup_each_line) {
    // Every line, stripped, empty ones included; no line after a final "\n".
    char seen[64] = "";
    const char text[] = "  one \n\ntwo\t\nthree\n";
    CHECK(dd_each_line(text, strlen(text), join_line, seen) == 4);
    CHECK_MSG(strcmp(seen, "[one][][two][three]") == 0, "got %s", seen);
}

// ---- the line table ----

// The table's entry for hash (a table that is not sorted yet: linear search of its slots).
static const dd_line_t *find_slot(const dd_lines_t *t, uint64_t hash) {
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].docs && t->e[i].hash == hash) return &t->e[i];
    return NULL;
}

TEST(dedup_lines_counts_and_first) {
    // Four documents (order: line hashes); every insertion order gives the same counts.
    static const uint64_t h1 = 0x1111, h2 = 0x2222, h3 = 0x3333, h0 = 0;  // 0 is a valid hash too
    const uint64_t docs[4][3] = {{h1, h2, h0}, {h2, h3, 0}, {h1, h2, h3}, {h3, 0, 0}};
    const size_t n_lines[4] = {3, 2, 3, 1};
    const uint64_t orders[4] = {7, 3, 5, 9};
    int perm[4] = {0, 1, 2, 3};
    for (int p = 0; p < 24; p++) {
        // the p-th permutation of 0..3 (factorial number system)
        int pool[4] = {0, 1, 2, 3}, left = 4, q = p;
        for (int i = 0; i < 4; i++) {
            int f = 1;
            for (int k = 2; k < left; k++) f *= k;
            int j = q / f;
            q %= f;
            perm[i] = pool[j];
            for (int k = j; k < left - 1; k++) pool[k] = pool[k + 1];
            left--;
        }
        dd_lines_t t;
        dd_lines_init(&t);
        for (int i = 0; i < 4; i++) CHECK(dd_lines_add(&t, docs[perm[i]], n_lines[perm[i]], orders[perm[i]]) == 0);
        CHECK(t.n == 4);
        const dd_line_t *a = find_slot(&t, h1), *b = find_slot(&t, h2), *c = find_slot(&t, h3), *z = find_slot(&t, h0);
        CHECK_MSG(a && a->docs == 2 && a->first == 5, "perm %d: h1 %llu docs, first %llu", p,
                  a ? (unsigned long long)a->docs : 0ULL, a ? (unsigned long long)a->first : 0ULL);
        CHECK_MSG(b && b->docs == 3 && b->first == 3, "perm %d: h2", p);
        CHECK_MSG(c && c->docs == 3 && c->first == 3, "perm %d: h3", p);
        CHECK_MSG(z && z->docs == 1 && z->first == 7, "perm %d: hash 0", p);
        // sorted: the same entries, by hash
        CHECK(dd_lines_sorted(&t) == 4);
        CHECK(t.e[0].hash == h0 && t.e[1].hash == h1 && t.e[2].hash == h2 && t.e[3].hash == h3);
        const dd_line_t *f = dd_lines_find(&t, h2);
        CHECK(f && f->docs == 3 && f->first == 3);
        CHECK(dd_lines_find(&t, 0x2223) == NULL && dd_lines_find(&t, UINT64_MAX) == NULL);
        dd_lines_free(&t);
        dd_lines_free(&t);  // safe twice
    }
    dd_lines_free(NULL);
    // An empty table sorts to nothing and finds nothing.
    dd_lines_t t;
    dd_lines_init(&t);
    CHECK(dd_lines_sorted(&t) == 0 && dd_lines_find(&t, h1) == NULL);
    dd_lines_free(&t);
}

enum { G_IDS = 3000, G_DOCS = 400, G_PER = 40 };

// A random workload: G_DOCS documents of G_PER distinct line ids out of G_IDS, with distinct
// shuffled orders; the expected counts and lowest orders are counted naively.
typedef struct growth {
    uint64_t hash[G_IDS];
    uint64_t lines[G_DOCS][G_PER];
    uint64_t order[G_DOCS];
    uint64_t want_docs[G_IDS], want_first[G_IDS];
    size_t distinct;
} growth_t;

static void growth_make(growth_t *g) {
    rng_t r;
    rng_seed(&r, 5);
    memset(g, 0, sizeof *g);
    for (int i = 0; i < G_IDS; i++) g->hash[i] = rng_u64(&r);
    for (int d = 0; d < G_DOCS; d++) g->order[d] = (uint64_t)d * 7 + 1;
    for (int d = G_DOCS - 1; d > 0; d--) {  // shuffle the orders: insertion order is not order
        int j = (int)rng_below(&r, (uint64_t)d + 1);
        uint64_t x = g->order[d];
        g->order[d] = g->order[j], g->order[j] = x;
    }
    for (int d = 0; d < G_DOCS; d++) {
        int got = 0;
        while (got < G_PER) {
            int id = (int)rng_below(&r, G_IDS), dup = 0;
            for (int k = 0; k < got; k++) dup |= g->lines[d][k] == g->hash[id];
            if (dup) continue;
            g->lines[d][got++] = g->hash[id];
            if (!g->want_docs[id]++ || g->order[d] < g->want_first[id]) g->want_first[id] = g->order[d];
        }
    }
    for (int i = 0; i < G_IDS; i++) g->distinct += g->want_docs[i] > 0;
}

static int table_matches(const dd_lines_t *t, const growth_t *g) {
    int bad = 0;
    if (t->n != g->distinct) bad++;
    for (size_t i = 1; i < t->n; i++) bad += t->e[i - 1].hash >= t->e[i].hash;
    for (int i = 0; i < G_IDS; i++) {
        const dd_line_t *x = dd_lines_find(t, g->hash[i]);
        if (g->want_docs[i] == 0) bad += x != NULL;
        else bad += !x || x->docs != g->want_docs[i] || x->first != g->want_first[i];
    }
    return bad;
}

TEST(dedup_lines_growth_merge_and_files) {
    growth_t *g = malloc(sizeof *g);
    growth_make(g);
    CHECK(g->distinct > 2000);  // well past the first capacity (1024 slots, 768 entries)
    dd_lines_t t, a, b, m;
    dd_lines_init(&t), dd_lines_init(&a), dd_lines_init(&b), dd_lines_init(&m);
    for (int d = 0; d < G_DOCS; d++) {
        CHECK(dd_lines_add(&t, g->lines[d], G_PER, g->order[d]) == 0);
        CHECK(dd_lines_add(d % 3 ? &a : &b, g->lines[d], G_PER, g->order[d]) == 0);
    }
    CHECK(t.n == g->distinct && t.cap >= 4 * t.n / 3);
    CHECK(dd_lines_sorted(&t) == g->distinct);
    CHECK_MSG(table_matches(&t, g) == 0, "%d entries wrong", table_matches(&t, g));
    // Two parts merged entry by entry (as the dedup stage does) give the same table.
    dd_lines_sorted(&a), dd_lines_sorted(&b);
    for (size_t i = 0; i < b.n; i++) CHECK(dd_lines_add_entry(&m, &b.e[i]) == 0);
    for (size_t i = 0; i < a.n; i++) CHECK(dd_lines_add_entry(&m, &a.e[i]) == 0);
    dd_lines_sorted(&m);
    CHECK(m.n == t.n && memcmp(m.e, t.e, t.n * sizeof *t.e) == 0);

    // Save and load: the same sorted table.
    const char *path = test_path("lines.bin");
    err_t e = {{0}};
    CHECK(dd_lines_save(&t, path, &e) == 0);
    dd_lines_t l;
    CHECK_MSG(dd_lines_load(&l, path, &e) == 0, "%s", e.msg);
    CHECK(l.n == t.n && memcmp(l.e, t.e, t.n * sizeof *t.e) == 0);
    CHECK(table_matches(&l, g) == 0);
    dd_lines_free(&l);
    // An empty table too.
    dd_lines_t empty, back;
    dd_lines_init(&empty);
    dd_lines_sorted(&empty);
    const char *epath = test_path("lines-empty.bin");
    CHECK(dd_lines_save(&empty, epath, &e) == 0);
    CHECK(dd_lines_load(&back, epath, &e) == 0 && back.n == 0 && dd_lines_find(&back, 1) == NULL);
    dd_lines_free(&back);

    // Damaged files: an error naming the file, and an empty table.
    char *bytes;
    size_t size = 16 + t.n * sizeof(dd_line_t);
    FILE *f = fopen(path, "rb");
    bytes = malloc(size);
    CHECK(f && fread(bytes, 1, size, f) == size);
    if (f) fclose(f);
    const char *cut = test_path("lines-cut.bin"), *magic = test_path("lines-magic.bin"),
               *missing = test_path("lines-missing.bin"), *hdr = test_path("lines-header.bin");
    CHECK(test_write_file(cut, bytes, size - 10) == 0);
    CHECK(test_write_file(hdr, bytes, 12) == 0);
    bytes[0] = 'X';
    CHECK(test_write_file(magic, bytes, size) == 0);
    struct {
        const char *path, *want;
    } bad[] = {{cut, "truncated"}, {magic, "not a manabi line table"}, {hdr, "not a manabi line table"},
               {missing, "cannot open"}};
    for (int i = 0; i < 4; i++) {
        e.msg[0] = 0;
        l.n = 123;
        CHECK_MSG(dd_lines_load(&l, bad[i].path, &e) == -1, "%s loaded", bad[i].path);
        CHECK_MSG(strstr(e.msg, bad[i].path) && strstr(e.msg, bad[i].want), "%s: message '%s', want '%s'", bad[i].path,
                  e.msg, bad[i].want);
        CHECK(l.n == 0 && l.e == NULL);
        dd_lines_free(&l);
    }
    free(bytes);
    dd_lines_free(&t), dd_lines_free(&a), dd_lines_free(&b), dd_lines_free(&m);
    free(g);
}

TEST(dedup_text_hash) {
    uint64_t a[2], b[2], c[2];
    dd_text_hash("some text", 9, a);
    dd_text_hash("some text", 9, b);
    dd_text_hash("some texT", 9, c);
    CHECK(a[0] == b[0] && a[1] == b[1]);
    CHECK(a[0] != c[0] && a[1] != c[1]);
    dd_text_hash("some text", 8, c);  // the length counts, not a NUL
    CHECK(a[0] != c[0]);
}

// ---- quality-rule settings by name ----

TEST(qf_config_set_by_name) {
    qf_config_t c, d;
    qf_config_default(&c);
    qf_config_default(&d);
    err_t e = {{0}};
    CHECK(qf_config_set(&c, "gopher_min_words", 20, &e) == 0 && c.gopher_min_words == 20);
    CHECK(qf_config_set(&c, "ja_min_hiragana", 0.35, &e) == 0 && c.ja_min_hiragana == 0.35);
    CHECK(qf_config_set(&c, "c4_min_sentences", 0, &e) == 0 && c.c4_min_sentences == 0);
    CHECK(qf_config_set(&c, "gopher_max_mean_word_len", 12.5, &e) == 0 && c.gopher_max_mean_word_len == 12.5);
    CHECK(qf_config_set(&c, "ja_min_chars", 200, &e) == 0 && c.ja_min_chars == 200);
    // Arrays by suffix: n = 5..10 is index 0..5, n = 2..4 is index 0..2.
    CHECK(qf_config_set(&c, "gopher_max_dup_ngram_7", 0.5, &e) == 0);
    CHECK(c.gopher_max_dup_ngram[2] == 0.5 && c.gopher_max_dup_ngram[1] == d.gopher_max_dup_ngram[1] &&
          c.gopher_max_dup_ngram[3] == d.gopher_max_dup_ngram[3]);
    CHECK(qf_config_set(&c, "gopher_max_top_ngram_4", 0.25, &e) == 0 && c.gopher_max_top_ngram[2] == 0.25);
    CHECK(qf_config_set(&c, "gopher_max_dup_ngram_10", 1, &e) == 0 && c.gopher_max_dup_ngram[5] == 1);
    // Ratios take [0, 1] inclusive.
    CHECK(qf_config_set(&c, "fineweb_max_short_lines", 0, &e) == 0 && c.fineweb_max_short_lines == 0);
    CHECK(qf_config_set(&c, "fineweb_max_short_lines", 1, &e) == 0 && c.fineweb_max_short_lines == 1);

    // Rejected: the field is unchanged and the message names it.
    qf_config_t before = c;
    struct {
        const char *name;
        double v;
    } bad[] = {{"ja_min_hiragana", 1.5},      {"gopher_max_dup_lines", -0.1}, {"gopher_min_words", -1},
               {"gopher_min_words", 2.5},     {"c4_min_sentences", -3},       {"gopher_max_dup_ngram_11", 0.1},
               {"gopher_max_dup_ngram_4", 0.1}, {"nosuch_rule", 1},           {"gopher_max_dup_ngram", 0.1},
               {"gopher_max_symbol_ratio", -1}, {"ja_max_top_ngram", NAN},    {"", 1}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        e.msg[0] = 0;
        CHECK_MSG(qf_config_set(&c, bad[i].name, bad[i].v, &e) == -1, "%s = %g accepted", bad[i].name, bad[i].v);
        CHECK_MSG(*bad[i].name == 0 || strstr(e.msg, bad[i].name), "%s: message '%s'", bad[i].name, e.msg);
        CHECK_MSG(memcmp(&c, &before, sizeof c) == 0, "%s = %g changed the config", bad[i].name, bad[i].v);
    }
}

TEST(qf_config_switch_by_pattern) {
    qf_config_t c;
    qf_config_default(&c);
    err_t e = {{0}};
    // A family prefix switches exactly that family's rules.
    CHECK(qf_config_switch(&c, "gopher", 0, &e) == 0);
    for (int r = QF_GOPHER_WORD_COUNT; r < QF_NUM_RULES; r++) {
        int gopher = strncmp(qf_rule_name((qf_rule_t)r), "gopher_", 7) == 0;
        CHECK_MSG(c.enabled[r] == !gopher, "after gopher off: %s is %d", qf_rule_name((qf_rule_t)r), c.enabled[r]);
    }
    CHECK(qf_config_switch(&c, "ja", 0, &e) == 0);
    CHECK(!c.enabled[QF_JA_MIN_CHARS] && !c.enabled[QF_JA_DUP_LINES] && c.enabled[QF_C4_CURLY_BRACE]);
    // A single rule; then "all".
    CHECK(qf_config_switch(&c, "gopher_stop_words", 1, &e) == 0);
    CHECK(c.enabled[QF_GOPHER_STOP_WORDS] && !c.enabled[QF_GOPHER_WORD_COUNT]);
    CHECK(qf_config_switch(&c, "c4_curly_brace", 0, &e) == 0);
    CHECK(!c.enabled[QF_C4_CURLY_BRACE] && c.enabled[QF_C4_LOREM_IPSUM] && c.enabled[QF_C4_LINE_WORDS]);
    CHECK(qf_config_switch(&c, "all", 0, &e) == 0);
    for (int r = QF_GOPHER_WORD_COUNT; r < QF_NUM_RULES; r++) CHECK(!c.enabled[r]);
    CHECK(qf_config_switch(&c, "all", 1, &e) == 0);
    for (int r = QF_GOPHER_WORD_COUNT; r < QF_NUM_RULES; r++) CHECK(c.enabled[r]);
    // A prefix must end at a '_' boundary; unknown names fail naming the pattern.
    qf_config_t before = c;
    const char *bad[] = {"nosuch", "gop", "gopher_", "c", "keep", "out_of_memory", "GOPHER", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        e.msg[0] = 0;
        CHECK_MSG(qf_config_switch(&c, bad[i], 0, &e) == -1, "'%s' matched", bad[i]);
        CHECK_MSG(strstr(e.msg, bad[i]) != NULL, "'%s': message '%s'", bad[i], e.msg);
        CHECK(memcmp(&c, &before, sizeof c) == 0);
    }
}

// ---- report ----

// The saved report as JSON (caller puts it).
static json_object *report_json(const rp_t *r, const char *name) {
    err_t e = {{0}};
    const char *path = test_path(name);
    CHECK_MSG(rp_save(r, path, &e) == 0, "%s", e.msg);
    json_object *o = json_object_from_file(path);
    CHECK(o != NULL);
    return o;
}

// stages[stage].dropped[reason] of a saved report, or NULL.
static json_object *json_reason(json_object *root, rp_stage_t s, const char *reason) {
    json_object *stages, *st, *drops;
    if (!json_object_object_get_ex(root, "stages", &stages)) return NULL;
    st = json_object_array_get_idx(stages, (size_t)s);
    if (!st || !json_object_object_get_ex(st, "dropped", &drops)) return NULL;
    for (size_t i = 0; i < json_object_array_length(drops); i++) {
        json_object *d = json_object_array_get_idx(drops, i), *x;
        if (json_object_object_get_ex(d, "reason", &x) && strcmp(json_object_get_string(x), reason) == 0) return d;
    }
    return NULL;
}

static json_object *json_get(json_object *o, const char *key) {
    json_object *x = NULL;
    return o && json_object_object_get_ex(o, key, &x) ? x : NULL;
}

static char *file_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return strdup(buf);
}

// A report with something in every kind of field.
static rp_t *sample_report(int k) {
    rp_t *r = rp_new();
    for (int i = 0; i < 10 * k; i++) rp_stage_in(r, RP_READ, 100), rp_stage_out(r, RP_READ, 100);
    for (int i = 0; i < 10 * k; i++) rp_stage_in(r, RP_QUALITY, 100);
    for (int i = 0; i < 7 * k; i++) rp_stage_out(r, RP_QUALITY, 90);
    for (int i = 0; i < 2 * k; i++)
        CHECK(rp_drop(r, RP_QUALITY, "gopher_word_count", "a.jsonl:3", "few words", 9, 12 + i, 50) == 0);
    CHECK(rp_drop(r, RP_QUALITY, "c4_curly_brace", k == 1 ? "b.jsonl" : NULL, "{ x }", 5, NAN, NAN) == 0);
    CHECK(rp_add_drops(r, RP_READ, "malformed_json", 3 * k, 0) == 0);
    CHECK(rp_count(r, "lang.en", 7 * k) == 0 && rp_count(r, "pii.emails", k) == 0);
    return r;
}

TEST(report_counts_and_examples) {
    rp_t *r = rp_new();
    CHECK(r && rp_docs_out(r, RP_QUALITY) == 0 && rp_dropped(r, RP_QUALITY, "x") == 0 && rp_counter(r, "x") == 0);
    rp_stage_in(r, RP_QUALITY, 10);
    rp_stage_out(r, RP_QUALITY, 8);
    rp_stage_out(r, RP_QUALITY, 8);
    CHECK(rp_docs_out(r, RP_QUALITY) == 2 && rp_docs_out(r, RP_READ) == 0);
    // Five drops for one reason: five counted, the first RP_EXAMPLES kept as examples.
    char text[64];
    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "document number %d", i);
        CHECK(rp_drop(r, RP_NEAR_DEDUP, "near_duplicate", "src", text, strlen(text), i, 0.8) == 0);
    }
    CHECK(rp_dropped(r, RP_NEAR_DEDUP, "near_duplicate") == 5);
    CHECK(rp_dropped(r, RP_EXACT_DEDUP, "near_duplicate") == 0);  // per stage
    // The same reason name in another stage is another entry.
    CHECK(rp_drop(r, RP_LINE_DEDUP, "near_duplicate", NULL, "x", 1, NAN, NAN) == 0);
    CHECK(rp_dropped(r, RP_LINE_DEDUP, "near_duplicate") == 1 && rp_dropped(r, RP_NEAR_DEDUP, "near_duplicate") == 5);
    // rp_add_drops counts the documents in as well, without examples; n <= 0 is nothing.
    CHECK(rp_add_drops(r, RP_READ, "malformed_json", 4, 40) == 0 && rp_add_drops(r, RP_READ, "other", 0, 0) == 0);
    CHECK(rp_dropped(r, RP_READ, "malformed_json") == 4 && rp_dropped(r, RP_READ, "other") == 0);
    CHECK(rp_count(r, "pii.emails", 2) == 0 && rp_count(r, "pii.emails", 3) == 0 && rp_counter(r, "pii.emails") == 5);
    // A snippet is cut at a character boundary at most RP_SNIPPET bytes in: "a" then 100 "あ"
    // (3 bytes each) is cut after 79 of them, 238 bytes.
    char ja[1 + 300 + 1] = "a";
    for (int i = 0; i < 100; i++) strcat(ja, "あ");
    CHECK(rp_drop(r, RP_QUALITY, "ja_min_chars", "ja.txt", ja, strlen(ja), 101, 400) == 0);
    // A text of exactly RP_SNIPPET bytes is kept whole.
    char whole[RP_SNIPPET + 1];
    memset(whole, 'w', RP_SNIPPET);
    whole[RP_SNIPPET] = 0;
    CHECK(rp_drop(r, RP_QUALITY, "whole", "w", whole, RP_SNIPPET, 1, 2) == 0);

    json_object *root = report_json(r, "counts.json");
    json_object *near = json_reason(root, RP_NEAR_DEDUP, "near_duplicate");
    json_object *exs = json_get(near, "examples");
    CHECK(exs && json_object_array_length(exs) == RP_EXAMPLES);
    for (int i = 0; exs && i < RP_EXAMPLES; i++) {
        snprintf(text, sizeof text, "document number %d", i);
        json_object *ex = json_object_array_get_idx(exs, (size_t)i);
        CHECK(strcmp(json_object_get_string(json_get(ex, "text")), text) == 0);
        CHECK(strcmp(json_object_get_string(json_get(ex, "source")), "src") == 0);
        CHECK(json_object_get_double(json_get(ex, "value")) == i && json_object_get_double(json_get(ex, "limit")) == 0.8);
    }
    CHECK(json_object_get_int64(json_get(near, "docs")) == 5);
    json_object *ex = json_object_array_get_idx(json_get(json_reason(root, RP_QUALITY, "ja_min_chars"), "examples"), 0);
    const char *snip = ex ? json_object_get_string(json_get(ex, "text")) : "";
    CHECK_MSG(strlen(snip) == 238 && strncmp(snip, ja, 238) == 0, "snippet of %zu bytes", strlen(snip));
    ex = json_object_array_get_idx(json_get(json_reason(root, RP_QUALITY, "whole"), "examples"), 0);
    CHECK(ex && strlen(json_object_get_string(json_get(ex, "text"))) == RP_SNIPPET);
    // NaN value and limit are null; a NULL source is "".
    ex = json_object_array_get_idx(json_get(json_reason(root, RP_LINE_DEDUP, "near_duplicate"), "examples"), 0);
    CHECK(ex && json_get(ex, "value") == NULL && json_get(ex, "limit") == NULL);
    CHECK(ex && strcmp(json_object_get_string(json_get(ex, "source")), "") == 0);
    // Stage rows in pipeline order, with their names.
    json_object *stages = json_get(root, "stages");
    CHECK(stages && json_object_array_length(stages) == RP_NUM_STAGES);
    for (int s = 0; stages && s < RP_NUM_STAGES; s++)
        CHECK(strcmp(json_object_get_string(json_get(json_object_array_get_idx(stages, (size_t)s), "stage")),
                     rp_stage_name((rp_stage_t)s)) == 0);
    json_object *q = json_object_array_get_idx(stages, RP_QUALITY);
    CHECK(json_object_get_int64(json_get(q, "docs_in")) == 1 && json_object_get_int64(json_get(q, "bytes_out")) == 16);
    json_object *rd = json_object_array_get_idx(stages, RP_READ);
    CHECK(json_object_get_int64(json_get(rd, "docs_in")) == 4 && json_object_get_int64(json_get(rd, "bytes_in")) == 40);
    CHECK(json_object_get_int64(json_get(json_get(root, "counters"), "pii.emails")) == 5);
    json_object_put(root);
    CHECK(strcmp(rp_stage_name(RP_LINE_DEDUP), "line_dedup") == 0 && strcmp(rp_stage_name(RP_NUM_STAGES), "unknown") == 0);

    // The table names every stage used and every reason.
    FILE *f = fopen(test_path("table.txt"), "w");
    rp_print(r, f);
    fclose(f);
    char *table = file_text(test_path("table.txt"));
    CHECK(table && strstr(table, "near_dedup") && strstr(table, "near_duplicate") && strstr(table, "malformed_json") &&
          strstr(table, "pii.emails=5") && !strstr(table, "extract"));
    free(table);
    rp_free(r);
    rp_free(NULL);
}

TEST(report_save_load_merge) {
    rp_t *a = sample_report(1), *b = sample_report(2);
    err_t e = {{0}};
    // Round trip: equal counts, and the file written again from the loaded report is the same.
    const char *pa = test_path("a.report.json"), *pa2 = test_path("a2.report.json");
    CHECK(rp_save(a, pa, &e) == 0);
    rp_t *la;
    CHECK_MSG(rp_load(&la, pa, &e) == 0, "%s", e.msg);
    CHECK(rp_dropped(la, RP_QUALITY, "gopher_word_count") == 2 && rp_dropped(la, RP_QUALITY, "c4_curly_brace") == 1 &&
          rp_dropped(la, RP_READ, "malformed_json") == 3 && rp_docs_out(la, RP_QUALITY) == 7 &&
          rp_docs_out(la, RP_READ) == 10 && rp_counter(la, "lang.en") == 7 && rp_counter(la, "pii.emails") == 1);
    CHECK(rp_save(la, pa2, &e) == 0);
    char *ta = file_text(pa), *ta2 = file_text(pa2);
    CHECK_MSG(ta && ta2 && strcmp(ta, ta2) == 0, "report changed in a save-load-save round trip");
    free(ta), free(ta2);

    // Merge: every count adds up exactly; examples up to RP_EXAMPLES per reason, a's first.
    rp_t *m = rp_new();
    CHECK(rp_merge(m, a, &e) == 0 && rp_merge(m, b, &e) == 0);
    CHECK(rp_dropped(m, RP_QUALITY, "gopher_word_count") == 2 + 4);
    CHECK(rp_dropped(m, RP_QUALITY, "c4_curly_brace") == 2 && rp_dropped(m, RP_READ, "malformed_json") == 9);
    CHECK(rp_docs_out(m, RP_QUALITY) == 21 && rp_docs_out(m, RP_READ) == 30);
    CHECK(rp_counter(m, "lang.en") == 21 && rp_counter(m, "pii.emails") == 3);
    json_object *root = report_json(m, "merged.json");
    json_object *q = json_object_array_get_idx(json_get(root, "stages"), RP_QUALITY);
    CHECK(json_object_get_int64(json_get(q, "docs_in")) == 30 && json_object_get_int64(json_get(q, "bytes_in")) == 3000 &&
          json_object_get_int64(json_get(q, "bytes_out")) == 21 * 90);
    json_object *rd = json_object_array_get_idx(json_get(root, "stages"), RP_READ);
    CHECK(json_object_get_int64(json_get(rd, "docs_in")) == 30 + 9);
    json_object *gw = json_reason(root, RP_QUALITY, "gopher_word_count");
    CHECK(json_object_get_int64(json_get(gw, "bytes")) == 6 * 9);
    json_object *exs = json_get(gw, "examples");
    CHECK(exs && json_object_array_length(exs) == RP_EXAMPLES);
    // a's two examples (values 12, 13), then b's first (12)
    for (int i = 0; exs && i < RP_EXAMPLES; i++)
        CHECK(json_object_get_double(json_get(json_object_array_get_idx(exs, (size_t)i), "value")) == (i < 2 ? 12 + i : 12));
    json_object *cb = json_get(json_reason(root, RP_QUALITY, "c4_curly_brace"), "examples");
    CHECK(cb && json_object_array_length(cb) == 2);
    json_object_put(root);
    // Merging the loaded copy instead of the original gives the same totals.
    rp_t *m2 = rp_new();
    CHECK(rp_merge(m2, la, &e) == 0 && rp_merge(m2, b, &e) == 0);
    CHECK(rp_save(m, pa, &e) == 0 && rp_save(m2, pa2, &e) == 0);
    ta = file_text(pa), ta2 = file_text(pa2);
    CHECK(ta && ta2 && strcmp(ta, ta2) == 0);
    free(ta), free(ta2);
    rp_free(m2), rp_free(m), rp_free(la), rp_free(a), rp_free(b);
}

TEST(report_load_damaged) {
    rp_t *a = sample_report(1);
    err_t e = {{0}};
    const char *good = test_path("good.report.json");
    CHECK(rp_save(a, good, &e) == 0);
    rp_free(a);
    char *text = file_text(good);
    size_t n = strlen(text);
    // Cut in half: not JSON.  Valid JSON of the wrong shape: not a report.
    const char *cut = test_path("cut.report.json"), *shape = test_path("shape.report.json"),
               *typed = test_path("typed.report.json"), *stage = test_path("stage.report.json"),
               *missing = test_path("missing.report.json");
    CHECK(test_write_file(cut, text, n / 2) == 0);
    const char s1[] = "{\"stages\": {}, \"counters\": {}}\n";
    CHECK(test_write_file(shape, s1, sizeof s1 - 1) == 0);
    // A count that is an array.
    char *p = strstr(text, "\"docs_in\":10");
    CHECK(p != NULL);
    if (p) memcpy(p, "\"docs_in\":[]", 12);
    CHECK(test_write_file(typed, text, n) == 0);
    const char s2[] = "{\"stages\": [{\"stage\": \"nosuch\", \"docs_in\": 1, \"bytes_in\": 1, \"docs_out\": 1, "
                      "\"bytes_out\": 1, \"dropped\": []}], \"counters\": {}}\n";
    CHECK(test_write_file(stage, s2, sizeof s2 - 1) == 0);
    const char *bad[] = {cut, shape, typed, stage, missing};
    for (int i = 0; i < 5; i++) {
        rp_t *r = (rp_t *)1;
        e.msg[0] = 0;
        CHECK_MSG(rp_load(&r, bad[i], &e) == -1, "%s loaded", bad[i]);
        CHECK(r == NULL);
        CHECK_MSG(strstr(e.msg, bad[i]) != NULL, "message '%s' does not name %s", e.msg, bad[i]);
        CHECK_MSG(!strchr(e.msg, '\n'), "message spans lines: '%s'", e.msg);
    }
    free(text);
}
