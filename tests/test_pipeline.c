// Tests for data/pipeline (pl_*): whole runs over small corpora written here, with planted
// exact and near duplicates, boilerplate lines, low-quality and malformed input, checked
// document by document against what was planted; sharded runs against single runs; two part
// names in one directory; the explain file; failures that leave nothing; thread-count
// independence.  Documents are random sentences over a word list (English) or random phrases
// (Japanese) from a seeded generator, built to pass the quality rules (checked first).
#include <dirent.h>
#include <json-c/json.h>
#include <omp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/rng.h"
#include "data/pipeline.h"
#include "test.h"

// ---- documents ----

static const char *const EN_WORDS[] = {
    "the", "and", "to", "of", "that", "with", "have", "be", "a", "in", "it", "for", "on", "was", "as", "at",
    "by", "from", "this", "they", "we", "you", "his", "her", "river", "garden", "morning", "village", "teacher",
    "window", "kitchen", "market", "winter", "summer", "letter", "station", "bridge", "harbour", "orchard", "meadow",
    "walked", "carried", "watched", "opened", "painted", "followed", "counted", "answered", "gathered",
    "remembered", "borrowed", "repaired", "quiet", "bright", "heavy", "narrow", "gentle", "careful", "yellow",
    "distant", "ancient", "simple", "slowly", "often", "never", "always", "nearly", "almost", "again", "later",
    "early", "together", "candle", "basket", "ladder", "blanket", "pocket", "engine", "island", "forest"};
enum { N_EN = sizeof EN_WORDS / sizeof *EN_WORDS };

// English: n_sent sentences of 8 to 14 words, one per line, each ending in '.'.  Malloc'd.
static char *en_doc(uint64_t seed, int n_sent) {
    rng_t r;
    rng_seed(&r, seed);
    sb_t b = {0};
    for (int s = 0; s < n_sent; s++) {
        if (s) sb_str(&b, "\n");
        int len = 8 + (int)rng_below(&r, 7);
        for (int k = 0; k < len; k++) {
            const char *w = EN_WORDS[rng_below(&r, N_EN)];
            if (k) sb_str(&b, " ");
            char cap[16];
            snprintf(cap, sizeof cap, "%s", w);
            if (k == 0) cap[0] = (char)(cap[0] - 32);
            sb_str(&b, cap);
        }
        sb_str(&b, ".");
    }
    return b.p;
}

static const char *const JA_NOUNS[] = {"学校", "先生", "友達", "電車", "公園", "図書館", "季節", "天気", "料理",
                                       "野菜", "家族", "仕事", "会社", "町", "川", "山", "海", "花", "子ども", "朝",
                                       "夜", "駅", "手紙", "窓", "市場", "橋", "森", "島", "祭り", "昼ごはん"};
static const char *const JA_PARTICLES[] = {"は", "が", "を", "に", "で", "と", "の", "も", "から", "まで"};
static const char *const JA_ADJS[] = {"大きな", "小さな", "新しい", "古い", "静かな", "明るい", "遠い", "やさしい"};
static const char *const JA_VERBS[] = {"行きます", "見ました", "作ります", "話しました", "読みます", "歩きました",
                                       "待っています", "集まります", "考えました", "帰ります"};
#define PICK(a, r) a[rng_below(r, sizeof a / sizeof *a)]

// Japanese: n_lines lines of 3 sentences of 3 to 5 phrases; about 70 characters a line.
static char *ja_doc(uint64_t seed, int n_lines) {
    rng_t r;
    rng_seed(&r, seed);
    sb_t b = {0};
    for (int l = 0; l < n_lines; l++) {
        if (l) sb_str(&b, "\n");
        for (int s = 0; s < 3; s++) {
            int phrases = 3 + (int)rng_below(&r, 3);
            for (int k = 0; k < phrases; k++) {
                if (rng_below(&r, 3) == 0) sb_str(&b, PICK(JA_ADJS, &r));
                sb_str(&b, PICK(JA_NOUNS, &r));
                sb_str(&b, PICK(JA_PARTICLES, &r));
            }
            sb_str(&b, PICK(JA_VERBS, &r));
            sb_str(&b, "。");
        }
    }
    return b.p;
}

// A copy of text with whitespace-separated word k (0-based) replaced by w.  Malloc'd.
static char *replace_word(const char *text, int k, const char *w) {
    sb_t b = {0};
    const char *p = text;
    int i = 0;
    while (*p) {
        size_t sp = strspn(p, " \n"), wl = strcspn(p + sp, " \n");
        sb_add(&b, p, sp);
        if (i++ == k) sb_str(&b, w);
        else sb_add(&b, p + sp, wl);
        p += sp + wl;
    }
    return b.p;
}

// A copy of text with code point k (0-based) replaced by the UTF-8 character c.  Malloc'd.
static char *replace_char(const char *text, int k, const char *c) {
    sb_t b = {0};
    int i = 0;
    for (const char *p = text; *p;) {
        size_t n = 1;
        while ((p[n] & 0xC0) == 0x80) n++;
        if (i++ == k) sb_str(&b, c);
        else sb_add(&b, p, n);
        p += n;
    }
    return b.p;
}

// The exact Jaccard similarity of the 5-shingle sets of a and b: lower-cased words (words), or
// code points with each whitespace run as one token (chars), as minhash.h defines them.
static size_t shingles(const char *t, int chars, uint64_t *out) {
    uint64_t tok[8192];
    size_t n = 0;
    for (const char *p = t; *p && n < 8192;) {
        uint64_t h = 1469598103934665603ULL;
        if (*p == ' ' || *p == '\n') {
            while (*p == ' ' || *p == '\n') p++;
            if (!chars || n == 0 || !*p) continue;
            h = 7;
        } else if (chars) {
            do h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
            while ((*p & 0xC0) == 0x80);
        } else {
            for (; *p && *p != ' ' && *p != '\n'; p++) h = (h ^ (unsigned char)(*p | (*p >= 'A' && *p <= 'Z' ? 32 : 0))) * 1099511628211ULL;
        }
        tok[n++] = h;
    }
    size_t m = 0;
    for (size_t i = 0; i + 5 <= n; i++) {
        uint64_t h = 0;
        for (int k = 0; k < 5; k++) h = (h ^ tok[i + k]) * 0x100000001B3ULL + (uint64_t)k;
        out[m++] = h;
    }
    return m;
}
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
static size_t uniq(uint64_t *h, size_t n) {
    qsort(h, n, 8, cmp_u64);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || h[m - 1] != h[i]) h[m++] = h[i];
    return m;
}
static double jaccard(const char *a, const char *b, int chars) {
    static uint64_t x[8192], y[8192];
    size_t nx = uniq(x, shingles(a, chars, x)), ny = uniq(y, shingles(b, chars, y)), i = 0, j = 0, inter = 0;
    while (i < nx && j < ny) {
        if (x[i] == y[j]) inter++, i++, j++;
        else if (x[i] < y[j]) i++;
        else j++;
    }
    return (double)inter / (double)(nx + ny - inter);
}

// ---- files ----

// One JSONL line {"text": text, "id": id} appended to b.
static void jsonl_add(sb_t *b, const char *text, const char *id) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "text", json_object_new_string(text));
    if (id) json_object_object_add(o, "id", json_object_new_string(id));
    sb_str(b, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    sb_str(b, "\n");
    json_object_put(o);
}

static void write_sb(const char *path, const sb_t *b) { CHECK(test_write_file(path, b->p, b->n) == 0); }

static void write_gz(const char *path, const sb_t *b) {
    gzFile g = gzopen(path, "wb");
    CHECK(g != NULL);
    if (!g) return;
    CHECK(gzwrite(g, b->p, (unsigned)b->n) == (int)b->n);
    CHECK(gzclose(g) == Z_OK);
}

static const char *dir_path(const char *dir, const char *name) {
    static char buf[8][1024];
    static int slot;
    char *p = buf[slot++ % 8];
    if (snprintf(p, sizeof buf[0], "%s/%s", dir, name) >= (int)sizeof buf[0]) abort();  // test paths are short
    return p;
}

static const char *make_dir(const char *name) {
    const char *p = test_path(name);
    mkdir(p, 0755);
    return p;
}

// ---- clean output ----

typedef struct doc {
    char *text, *source, *lang;
} doc_t;

typedef struct docs {
    doc_t *d;
    int n;
} docs_t;

static void docs_free(docs_t *ds) {
    for (int i = 0; i < ds->n; i++) free(ds->d[i].text), free(ds->d[i].source), free(ds->d[i].lang);
    free(ds->d);
    ds->d = NULL, ds->n = 0;
}

static char *json_str(json_object *o, const char *key) {
    json_object *x;
    return json_object_object_get_ex(o, key, &x) && json_object_is_type(x, json_type_string)
               ? strdup(json_object_get_string(x))
               : NULL;
}

// Appends the documents of a clean JSONL file to ds; -1 when it is missing or a line is not
// {"text", "source", "lang"}.
static int docs_read(docs_t *ds, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        json_object *o = json_tokener_parse(line);
        ds->d = realloc(ds->d, (size_t)(ds->n + 1) * sizeof *ds->d);
        doc_t *d = &ds->d[ds->n++];
        d->text = o ? json_str(o, "text") : NULL;
        d->source = o ? json_str(o, "source") : NULL;
        d->lang = o ? json_str(o, "lang") : NULL;
        if (!d->text || !d->source || !d->lang) rc = -1;
        if (!d->text) d->text = strdup("");
        if (!d->source) d->source = strdup("");
        if (!d->lang) d->lang = strdup("");
        json_object_put(o);
    }
    free(line);
    fclose(f);
    return rc;
}

static docs_t clean_docs(const char *out_dir, const char *part) {
    docs_t ds = {0};
    char path[1200];
    snprintf(path, sizeof path, "%s/clean/%s.jsonl", out_dir, part);
    CHECK_MSG(docs_read(&ds, path) == 0, "%s: missing or malformed", path);
    return ds;
}

// Index of the document with this text in ds, or -1.
static int docs_find(const docs_t *ds, const char *text) {
    for (int i = 0; i < ds->n; i++)
        if (strcmp(ds->d[i].text, text) == 0) return i;
    return -1;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    sb_t b = {0};
    char buf[65536];
    size_t n;
    sb_add(&b, "", 0);
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) sb_add(&b, buf, n);
    fclose(f);
    return b.p;
}

// For every stage of the report at path: docs_in == docs_out + the documents it dropped.
// Returns the total drops of the read stage in *read_drops and of all stages.
static int64_t check_balance(const char *path, int64_t *read_drops) {
    json_object *root = json_object_from_file(path), *stages;
    int64_t total = 0;
    *read_drops = 0;
    CHECK_MSG(root && json_object_object_get_ex(root, "stages", &stages), "%s: not a report", path);
    if (!root) return -1;
    for (size_t s = 0; s < json_object_array_length(stages); s++) {
        json_object *st = json_object_array_get_idx(stages, s), *x, *drops;
        int64_t in = 0, out = 0, dropped = 0;
        if (json_object_object_get_ex(st, "docs_in", &x)) in = json_object_get_int64(x);
        if (json_object_object_get_ex(st, "docs_out", &x)) out = json_object_get_int64(x);
        json_object_object_get_ex(st, "dropped", &drops);
        for (size_t i = 0; drops && i < json_object_array_length(drops); i++)
            if (json_object_object_get_ex(json_object_array_get_idx(drops, i), "docs", &x)) dropped += json_object_get_int64(x);
        CHECK_MSG(in == out + dropped, "%s: stage %s: %lld in, %lld out, %lld dropped", path, rp_stage_name((rp_stage_t)s),
                  (long long)in, (long long)out, (long long)dropped);
        if (s == RP_READ) *read_drops = dropped;
        total += dropped;
    }
    json_object_put(root);
    return total;
}

// Regular files under dir (recursively), joined by " " into out.
static int list_files(const char *dir, char *out, size_t cap) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            n += list_files(p, out, cap);
        } else {
            size_t o = strlen(out);
            snprintf(out + o, cap - o, "%s ", de->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

static pl_config_t config(const char *out_dir) {
    pl_config_t c;
    pl_config_default(&c);
    c.out_dir = out_dir;
    c.progress = 0;
    c.reader.source_field = "id";
    return c;
}

// ---- the mixed corpus ----

// Planted in a directory (files in name order):
//   a.jsonl     e0 e1 e2 e1copy(exact) short(quality) <malformed> e2near(near) j0 j0near(near) e3
//   b.txt       e1(exact: first in its file, but a.jsonl's copy stays) e4 e5    (text)
//   c.jsonl.gz  e6 e7
//   d.bin       binary
// Kept, in order: e0 e1 e2 j0 e3 | e4 e5 | e6 e7.
typedef struct mixed {
    char *e[8], *e2near, *j0, *j0near;
    const char *dir, *files[4];
} mixed_t;

static const char SHORT_DOC[] = "This is a short note about the weather and the town today.";

static void mixed_make(mixed_t *m, const char *name) {
    for (int i = 0; i < 8; i++) m->e[i] = en_doc(100 + (uint64_t)i, i == 2 ? 26 : 7);
    // Two words changed far apart in ~280: at most 10 of ~275 shingles differ.
    char *t = replace_word(m->e[2], 40, "lantern");
    m->e2near = replace_word(t, 200, "compass");
    free(t);
    m->j0 = ja_doc(7, 8);
    t = replace_char(m->j0, 100, "森");
    m->j0near = replace_char(t, 400, "橋");
    free(t);
    m->dir = make_dir(name);
    sb_t a = {0}, b = {0}, c = {0};
    jsonl_add(&a, m->e[0], "e0"), jsonl_add(&a, m->e[1], "e1"), jsonl_add(&a, m->e[2], "e2");
    jsonl_add(&a, m->e[1], "e1copy"), jsonl_add(&a, SHORT_DOC, "short");
    sb_str(&a, "{\"text\": \"unterminated\n");
    jsonl_add(&a, m->e2near, "e2near"), jsonl_add(&a, m->j0, "j0"), jsonl_add(&a, m->j0near, "j0near");
    jsonl_add(&a, m->e[3], "e3");
    sb_str(&b, m->e[1]), sb_str(&b, "\n<|endoftext|>\n"), sb_str(&b, m->e[4]), sb_str(&b, "\n<|endoftext|>\n");
    sb_str(&b, m->e[5]), sb_str(&b, "\n");
    jsonl_add(&c, m->e[6], "e6"), jsonl_add(&c, m->e[7], "e7");
    m->files[0] = strdup(dir_path(m->dir, "a.jsonl"));
    m->files[1] = strdup(dir_path(m->dir, "b.txt"));
    m->files[2] = strdup(dir_path(m->dir, "c.jsonl.gz"));
    m->files[3] = strdup(dir_path(m->dir, "d.bin"));
    write_sb(m->files[0], &a);
    write_sb(m->files[1], &b);
    write_gz(m->files[2], &c);
    const char bin[] = "\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0some bytes\0\0";
    CHECK(test_write_file(m->files[3], bin, sizeof bin) == 0);
    free(a.p), free(b.p), free(c.p);
}

static void mixed_free(mixed_t *m) {
    for (int i = 0; i < 8; i++) free(m->e[i]);
    free(m->e2near), free(m->j0), free(m->j0near);
    for (int i = 0; i < 4; i++) free((char *)m->files[i]);
}

// Expands m's directory as the command line does.
static int mixed_inputs(const mixed_t *m, char ***files) {
    char **f;
    int n;
    err_t e = {{0}};
    CHECK_MSG(pl_expand_inputs(&m->dir, 1, &f, &n, &e) == 0, "%s", e.msg);
    *files = f;
    return n;
}

// ---- tests ----

TEST(pipeline_generated_documents_pass_the_filters) {
    // The generators' documents are what the other tests assume: kept by the default rules,
    // and the near duplicates are near (>= 0.9) but not equal.
    mixed_t m;
    mixed_make(&m, "gen");
    pl_config_t c = config("unused");
    for (int i = 0; i < 8; i++) {
        qf_result_t r = qf_check_en(&c.quality, m.e[i], strlen(m.e[i]));
        CHECK_MSG(r.rule == QF_KEEP, "e%d: %s = %g (limit %g)", i, qf_rule_name(r.rule), r.value, r.limit);
    }
    qf_result_t r = qf_check_ja(&c.quality, m.j0, strlen(m.j0));
    CHECK_MSG(r.rule == QF_KEEP, "j0: %s = %g (limit %g)", qf_rule_name(r.rule), r.value, r.limit);
    CHECK(qf_check_en(&c.quality, SHORT_DOC, strlen(SHORT_DOC)).rule == QF_GOPHER_WORD_COUNT);
    double je = jaccard(m.e[2], m.e2near, 0), jj = jaccard(m.j0, m.j0near, 1);
    CHECK_MSG(je >= 0.9 && je < 1 && strcmp(m.e[2], m.e2near) != 0, "e2 ~ e2near: Jaccard %.3f", je);
    CHECK_MSG(jj >= 0.9 && jj < 1 && strcmp(m.j0, m.j0near) != 0, "j0 ~ j0near: Jaccard %.3f", jj);
    // Unrelated documents are far apart.
    char *j1 = ja_doc(8, 8);
    CHECK(jaccard(m.e[0], m.e[1], 0) < 0.1 && jaccard(m.j0, j1, 1) < 0.3);
    free(j1);
    mixed_free(&m);
}

// What the mixed corpus must give: the kept documents in order, with their sources and
// languages; the drops by reason.
static void check_mixed(const mixed_t *m, const docs_t *ds, const rp_t *r) {
    const char *b_txt = m->files[1];
    struct {
        const char *text, *source, *lang;
    } want[] = {{m->e[0], "e0", "en"}, {m->e[1], "e1", "en"}, {m->e[2], "e2", "en"}, {m->j0, "j0", "ja"},
                {m->e[3], "e3", "en"}, {m->e[4], b_txt, "en"},  {m->e[5], b_txt, "en"}, {m->e[6], "e6", "en"},
                {m->e[7], "e7", "en"}};
    int nw = sizeof want / sizeof *want;
    CHECK_MSG(ds->n == nw, "%d clean documents, want %d", ds->n, nw);
    for (int i = 0; i < nw && i < ds->n; i++) {
        CHECK_MSG(strcmp(ds->d[i].text, want[i].text) == 0, "document %d (want %s): text differs: %.60s", i,
                  want[i].source, ds->d[i].text);
        CHECK_MSG(strcmp(ds->d[i].source, want[i].source) == 0, "document %d: source %s, want %s", i, ds->d[i].source,
                  want[i].source);
        CHECK_MSG(strcmp(ds->d[i].lang, want[i].lang) == 0, "document %d: lang %s, want %s", i, ds->d[i].lang,
                  want[i].lang);
    }
    CHECK(docs_find(ds, m->e2near) < 0 && docs_find(ds, m->j0near) < 0 && docs_find(ds, SHORT_DOC) < 0);
    if (!r) return;
    CHECK_MSG(rp_dropped(r, RP_EXACT_DEDUP, "exact_duplicate") == 2, "exact %lld",
              (long long)rp_dropped(r, RP_EXACT_DEDUP, "exact_duplicate"));
    CHECK_MSG(rp_dropped(r, RP_NEAR_DEDUP, "near_duplicate") == 2, "near %lld",
              (long long)rp_dropped(r, RP_NEAR_DEDUP, "near_duplicate"));
    CHECK(rp_dropped(r, RP_QUALITY, "gopher_word_count") == 1);
    CHECK(rp_dropped(r, RP_READ, "malformed_json") == 1 && rp_dropped(r, RP_READ, "binary_file") == 1);
    CHECK(rp_dropped(r, RP_READ, "read_error") == 0);
    // 16 entered the read stage: 14 documents, the malformed line and the binary file.
    CHECK(rp_docs_out(r, RP_READ) == 14 && rp_docs_out(r, RP_QUALITY) == 13);
    CHECK(rp_docs_out(r, RP_LINE_DEDUP) == nw);
    CHECK(rp_counter(r, "lang.en") == 12 && rp_counter(r, "lang.ja") == 2);
}

TEST(pipeline_end_to_end) {
    mixed_t m;
    mixed_make(&m, "e2e-in");
    char **files;
    int n = mixed_inputs(&m, &files);
    CHECK(n == 4 && n > 0 && strcmp(files[0], m.files[0]) == 0 && strcmp(files[3], m.files[3]) == 0);
    const char *out = test_path("e2e-out");
    pl_config_t c = config(out);
    rp_t *r = NULL;
    err_t e = {{0}};
    CHECK_MSG(pl_run(&c, (const char *const *)files, n, &r, &e) == 0, "%s", e.msg);
    if (r) {
        docs_t ds = clean_docs(out, "part.00000-of-00001");
        check_mixed(&m, &ds, r);
        docs_free(&ds);
        // report.json is the report returned, and it balances.
        int64_t read_drops;
        CHECK(check_balance(dir_path(out, "report.json"), &read_drops) == 2 + 2 + 1 + 1 + 1);
        CHECK(read_drops == 2);
        rp_t *l;
        CHECK(rp_load(&l, dir_path(out, "report.json"), &e) == 0);
        CHECK(rp_dropped(l, RP_NEAR_DEDUP, "near_duplicate") == 2 && rp_docs_out(l, RP_LINE_DEDUP) == 9);
        rp_free(l);
        // No explain file unless asked.
        struct stat st;
        CHECK(stat(dir_path(out, "dropped"), &st) != 0);
    }
    rp_free(r);
    // Run again into the same directory: the same result (stale work files are replaced).
    CHECK_MSG(pl_run(&c, (const char *const *)files, n, &r, &e) == 0, "%s", e.msg);
    if (r) {
        docs_t ds = clean_docs(out, "part.00000-of-00001");
        check_mixed(&m, &ds, r);
        docs_free(&ds);
    }
    rp_free(r);
    pl_free_files(files, n);
    mixed_free(&m);
}

#define NAV1 "Home and news and sport and weather and the travel pages."
#define NAV2 "Sign up to have the daily letter from the village paper."
#define PAIR "This line is shared by only two of the documents here."
#define TOP "Go to the top."  // 14 characters: shorter than line_min_chars

TEST(pipeline_boilerplate_lines) {
    // Four documents share NAV1 and NAV2 (boilerplate: in >= 3 documents), two share PAIR (not
    // enough), all four end with TOP (too short).  Document 0 comes first and keeps NAV1/NAV2.
    const char *in = make_dir("boiler-in");
    char *body[4], *doc[4];
    sb_t f = {0};
    for (int i = 0; i < 4; i++) {
        body[i] = en_doc(300 + (uint64_t)i, 7);
        sb_t d = {0};
        sb_str(&d, NAV1 "\n" NAV2 "\n");
        if (i == 1 || i == 2) sb_str(&d, PAIR "\n");
        sb_str(&d, body[i]);
        sb_str(&d, "\n" TOP);
        doc[i] = d.p;
        char id[16];
        snprintf(id, sizeof id, "b%d", i);
        jsonl_add(&f, doc[i], id);
    }
    const char *file = strdup(dir_path(in, "boiler.jsonl"));
    write_sb(file, &f);
    free(f.p);
    const char *out = test_path("boiler-out");
    pl_config_t c = config(out);
    CHECK(c.line_min_docs == 3 && c.line_min_chars == 16 && strlen(TOP) < 16 && strlen(PAIR) >= 16);
    rp_t *r = NULL;
    err_t e = {{0}};
    CHECK_MSG(pl_run(&c, &file, 1, &r, &e) == 0, "%s", e.msg);
    docs_t ds = r ? clean_docs(out, "part.00000-of-00001") : (docs_t){0};
    CHECK_MSG(ds.n == 4, "%d documents", ds.n);
    for (int i = 0; i < ds.n && i < 4; i++) {
        sb_t want = {0};
        if (i == 0) sb_str(&want, NAV1 "\n" NAV2 "\n");
        if (i == 1 || i == 2) sb_str(&want, PAIR "\n");
        sb_str(&want, body[i]);
        sb_str(&want, "\n" TOP);
        CHECK_MSG(strcmp(ds.d[i].text, want.p) == 0, "document %d:\n%s\nwant:\n%s", i, ds.d[i].text, want.p);
        free(want.p);
    }
    if (r) {
        CHECK(rp_counter(r, "line_dedup.lines_removed") == 6 && rp_counter(r, "line_dedup.docs_changed") == 3);
        CHECK(rp_counter(r, "line_dedup.bytes_removed") == 3 * (int64_t)(strlen(NAV1) + strlen(NAV2) + 2));
        CHECK(rp_docs_out(r, RP_LINE_DEDUP) == 4);
    }
    docs_free(&ds);
    rp_free(r);

    // With line deduplication off, every document stays whole.
    c.lines = 0;
    CHECK_MSG(pl_run(&c, &file, 1, &r, &e) == 0, "%s", e.msg);
    ds = r ? clean_docs(out, "part.00000-of-00001") : (docs_t){0};
    CHECK(ds.n == 4);
    for (int i = 0; i < ds.n && i < 4; i++) CHECK_MSG(strcmp(ds.d[i].text, doc[i]) == 0, "document %d changed", i);
    docs_free(&ds);
    rp_free(r);
    // line_min_docs 2 makes PAIR boilerplate too: document 1 keeps it, 2 loses it.
    c.lines = 1;
    c.line_min_docs = 2;
    CHECK_MSG(pl_run(&c, &file, 1, &r, &e) == 0, "%s", e.msg);
    ds = r ? clean_docs(out, "part.00000-of-00001") : (docs_t){0};
    CHECK(ds.n == 4 && strstr(ds.d[1].text, PAIR) && !strstr(ds.d[2].text, PAIR) && strstr(ds.d[3].text, TOP));
    docs_free(&ds);
    rp_free(r);
    for (int i = 0; i < 4; i++) free(body[i]), free(doc[i]);
    free((char *)file);
}

// The documents of every clean/*.jsonl under out_dir whose name starts with prefix.
static docs_t clean_all(const char *out_dir, const char *prefix) {
    docs_t ds = {0};
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/clean", out_dir);
    DIR *d = opendir(dir);
    CHECK_MSG(d != NULL, "%s missing", dir);
    if (!d) return ds;
    char names[16][256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 16)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) snprintf(names[n++], 256, "%s", de->d_name);
    closedir(d);
    qsort(names, (size_t)n, 256, (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < n; i++) CHECK(docs_read(&ds, dir_path(dir, names[i])) == 0);
    return ds;
}

static int cmp_doc(const void *a, const void *b) {
    const doc_t *x = a, *y = b;
    int c = strcmp(x->text, y->text);
    return c ? c : strcmp(x->source, y->source);
}

TEST(pipeline_sharded_equals_single) {
    mixed_t m;
    mixed_make(&m, "shard-in");
    char **files;
    int n = mixed_inputs(&m, &files);
    const char *one = test_path("shard-one"), *three = test_path("shard-three");
    pl_config_t c = config(one);
    rp_t *r1 = NULL, *r3 = NULL;
    err_t e = {{0}};
    CHECK_MSG(pl_run(&c, (const char *const *)files, n, &r1, &e) == 0, "%s", e.msg);
    // Three clean jobs, one dedup, three finish jobs (in another order, as a scheduler may).
    c.out_dir = three;
    c.n_shards = 3;
    for (int s = 2; s >= 0; s--) {
        c.shard = s;
        CHECK_MSG(pl_clean(&c, (const char *const *)files, n, &e) == 0, "clean %d/3: %s", s, e.msg);
    }
    c.shard = 0;
    CHECK_MSG(pl_dedup(&c, &e) == 0, "%s", e.msg);
    for (int s = 0; s < 3; s++) {
        c.shard = (s + 1) % 3;
        CHECK_MSG(pl_finish(&c, &e) == 0, "finish %d/3: %s", c.shard, e.msg);
    }
    CHECK_MSG(pl_report(&c, &r3, &e) == 0, "%s", e.msg);
    // The parts in shard order hold the documents of the single run in the same order (shard
    // i took files i, i + 3, ...: here a.jsonl and d.bin, b.txt, c.jsonl.gz).
    docs_t d1 = clean_docs(one, "part.00000-of-00001"), d3 = clean_all(three, "part.");
    check_mixed(&m, &d3, r3);
    CHECK_MSG(d1.n == d3.n, "single run: %d documents, sharded: %d", d1.n, d3.n);
    qsort(d1.d, (size_t)d1.n, sizeof *d1.d, cmp_doc);
    qsort(d3.d, (size_t)d3.n, sizeof *d3.d, cmp_doc);
    for (int i = 0; i < d1.n && i < d3.n; i++)
        CHECK_MSG(cmp_doc(&d1.d[i], &d3.d[i]) == 0 && strcmp(d1.d[i].lang, d3.d[i].lang) == 0,
                  "document %d differs: %s vs %s", i, d1.d[i].source, d3.d[i].source);
    // Every count of the merged report is the single run's.
    for (int s = 0; r1 && r3 && s < RP_NUM_STAGES; s++)
        CHECK_MSG(rp_docs_out(r1, (rp_stage_t)s) == rp_docs_out(r3, (rp_stage_t)s), "stage %s",
                  rp_stage_name((rp_stage_t)s));
    docs_free(&d1), docs_free(&d3);
    rp_free(r1), rp_free(r3);

    // A missing part stops dedup with the part and the command that makes it.
    const char *gap = test_path("shard-gap");
    c.out_dir = gap;
    for (int s = 0; s < 3; s += 2) {
        c.shard = s;
        CHECK(pl_clean(&c, (const char *const *)files, n, &e) == 0);
    }
    e.msg[0] = 0;
    CHECK(pl_dedup(&c, &e) == -1);
    CHECK_MSG(strstr(e.msg, "part.00001-of-00003") && strstr(e.msg, "manabi data clean --name part --shard 1/3"),
              "message: %s", e.msg);
    // ... also when the missing one is the last.
    c.shard = 1;
    CHECK(pl_clean(&c, (const char *const *)files, n, &e) == 0);
    c.n_shards = 4;
    for (int s = 0; s < 3; s++) {
        c.shard = s;
        c.name = "more";
        CHECK(pl_clean(&c, (const char *const *)files, n, &e) == 0);
    }
    e.msg[0] = 0;
    CHECK(pl_dedup(&c, &e) == -1);
    CHECK_MSG(strstr(e.msg, "more.00003-of-00004") && strstr(e.msg, "--name more --shard 3/4"), "message: %s", e.msg);
    // finish before dedup: says to run dedup.
    const char *early = test_path("shard-early");
    c.out_dir = early, c.name = "part", c.shard = 0, c.n_shards = 1;
    CHECK(pl_clean(&c, (const char *const *)files, n, &e) == 0);
    e.msg[0] = 0;
    CHECK(pl_finish(&c, &e) == -1 && strstr(e.msg, "manabi data dedup") && !strchr(e.msg, '\n'));
    // dedup with nothing cleaned: says to run clean.
    c.out_dir = test_path("shard-empty");
    e.msg[0] = 0;
    CHECK(pl_dedup(&c, &e) == -1 && strstr(e.msg, "manabi data clean"));
    pl_free_files(files, n);
    mixed_free(&m);
}

// Six sentences, about 40 words: short of Gopher's 50 words, fine by every other rule.
static const char SHORT_A[] =
    "The cat sat on the warm mat. It was a quiet and sunny day. A bird sang in the old tree. The children "
    "played with a red ball. Their mother called them home for dinner. Everyone ate bread and soup together.";
static const char SHORT_B[] =
    "Rain fell on the small village all night. The river rose over its banks by morning. Farmers moved their "
    "sheep to higher fields. Neighbours helped to carry food and blankets. By evening the water began to fall. "
    "The village was safe again.";

TEST(pipeline_two_names) {
    // "books" (default rules) and "web" (gopher_word_count off) share one out_dir.  SHARED is in
    // both: first in web's only file, last in books'; books ranks first, so books keeps it.
    // SHORT_A is in both too, but books drops it for quality, so web's copy is no duplicate.
    pl_config_t q = config("unused");
    q.quality.enabled[QF_GOPHER_WORD_COUNT] = 0;
    CHECK(qf_check_en(&q.quality, SHORT_A, strlen(SHORT_A)).rule == QF_KEEP);
    CHECK(qf_check_en(&q.quality, SHORT_B, strlen(SHORT_B)).rule == QF_KEEP);
    char *b0 = en_doc(400, 7), *b1 = en_doc(401, 7), *shared = en_doc(402, 7), *w0 = en_doc(403, 7);
    const char *in = make_dir("names-in");
    const char *books = strdup(dir_path(in, "books.jsonl")), *web = strdup(dir_path(in, "web.jsonl"));
    sb_t fb = {0}, fw = {0};
    jsonl_add(&fb, b0, "b0"), jsonl_add(&fb, SHORT_A, "b-short"), jsonl_add(&fb, b1, "b1"), jsonl_add(&fb, shared, "b-shared");
    jsonl_add(&fw, shared, "w-shared"), jsonl_add(&fw, w0, "w0"), jsonl_add(&fw, SHORT_B, "w-short-b");
    jsonl_add(&fw, SHORT_A, "w-short-a");
    write_sb(books, &fb), write_sb(web, &fw);
    free(fb.p), free(fw.p);

    const char *out = test_path("names-out");
    pl_config_t cb = config(out), cw = config(out);
    cb.name = "books";
    cw.name = "web";
    err_t e = {{0}};
    CHECK(qf_config_switch(&cw.quality, "gopher_word_count", 0, &e) == 0);
    // web is cleaned first: the order of the clean jobs does not matter, only the names.
    CHECK_MSG(pl_clean(&cw, &web, 1, &e) == 0, "%s", e.msg);
    CHECK_MSG(pl_clean(&cb, &books, 1, &e) == 0, "%s", e.msg);
    CHECK_MSG(pl_dedup(&cb, &e) == 0, "%s", e.msg);
    CHECK_MSG(pl_finish(&cw, &e) == 0, "%s", e.msg);
    CHECK_MSG(pl_finish(&cb, &e) == 0, "%s", e.msg);
    rp_t *r = NULL;
    CHECK_MSG(pl_report(&cb, &r, &e) == 0, "%s", e.msg);
    docs_t db = clean_docs(out, "books.00000-of-00001"), dw = clean_docs(out, "web.00000-of-00001");
    const char *want_b[] = {"b0", "b1", "b-shared"}, *want_w[] = {"w0", "w-short-b", "w-short-a"};
    CHECK_MSG(db.n == 3 && dw.n == 3, "books %d, web %d documents", db.n, dw.n);
    for (int i = 0; i < 3 && i < db.n; i++) CHECK_MSG(strcmp(db.d[i].source, want_b[i]) == 0, "books %d: %s", i, db.d[i].source);
    for (int i = 0; i < 3 && i < dw.n; i++) CHECK_MSG(strcmp(dw.d[i].source, want_w[i]) == 0, "web %d: %s", i, dw.d[i].source);
    if (r) {
        CHECK(rp_dropped(r, RP_EXACT_DEDUP, "exact_duplicate") == 1);
        CHECK(rp_dropped(r, RP_QUALITY, "gopher_word_count") == 1);
        CHECK(rp_docs_out(r, RP_LINE_DEDUP) == 6);
    }
    int64_t read_drops;
    CHECK(check_balance(dir_path(out, "report.json"), &read_drops) == 2 && read_drops == 0);
    docs_free(&db), docs_free(&dw);
    rp_free(r);
    // finish for a name dedup has not seen: says so.
    pl_config_t cx = config(out);
    cx.name = "other";
    e.msg[0] = 0;
    CHECK(pl_finish(&cx, &e) == -1 && strstr(e.msg, "'other'") && strstr(e.msg, "manabi data dedup"));
    free(b0), free(b1), free(shared), free(w0), free((char *)books), free((char *)web);
}

TEST(pipeline_explain) {
    mixed_t m;
    mixed_make(&m, "explain-in");
    char **files;
    int n = mixed_inputs(&m, &files);
    const char *out = test_path("explain-out");
    pl_config_t c = config(out);
    c.explain = 1;
    rp_t *r = NULL;
    err_t e = {{0}};
    CHECK_MSG(pl_run(&c, (const char *const *)files, n, &r, &e) == 0, "%s", e.msg);
    // One line per dropped document; the reader's skips (a malformed line, a binary file) are
    // not documents and are only counted in the report.
    int64_t read_drops, drops = check_balance(dir_path(out, "report.json"), &read_drops);
    FILE *f = fopen(dir_path(out, "dropped/part.00000-of-00001.jsonl"), "r");
    CHECK(f != NULL);
    char *line = NULL;
    size_t cap = 0;
    int lines = 0, seen_short = 0, seen_exact = 0, seen_near = 0;
    while (f && getline(&line, &cap, f) > 0) {
        lines++;
        json_object *o = json_tokener_parse(line), *v, *l;
        CHECK_MSG(o != NULL, "line %d is not JSON", lines);
        if (!o) continue;
        char *stage = json_str(o, "stage"), *reason = json_str(o, "reason"), *text = json_str(o, "text"),
             *source = json_str(o, "source");
        CHECK_MSG(stage && reason && text && source && json_object_object_get_ex(o, "value", &v) &&
                      json_object_object_get_ex(o, "limit", &l),
                  "line %d lacks a field: %s", lines, line);
        if (reason && strcmp(reason, "gopher_word_count") == 0) {
            seen_short++;
            CHECK(strcmp(stage, "quality") == 0 && strcmp(text, SHORT_DOC) == 0 && strcmp(source, "short") == 0);
            CHECK(json_object_get_double(v) == 12 && json_object_get_double(l) == 50);
        } else if (reason && strcmp(reason, "exact_duplicate") == 0) {
            seen_exact++;
            CHECK(strcmp(stage, "exact_dedup") == 0 && v == NULL && l == NULL);
            CHECK((strcmp(source, "e1copy") == 0 && strcmp(text, m.e[1]) == 0) ||
                  (strcmp(source, m.files[1]) == 0 && strcmp(text, m.e[1]) == 0));
        } else if (reason && strcmp(reason, "near_duplicate") == 0) {
            seen_near++;
            CHECK(strcmp(stage, "near_dedup") == 0);
            CHECK((strcmp(source, "e2near") == 0 && strcmp(text, m.e2near) == 0) ||
                  (strcmp(source, "j0near") == 0 && strcmp(text, m.j0near) == 0));
        } else {
            CHECK_MSG(0, "unexpected drop: %s", line);
        }
        free(stage), free(reason), free(text), free(source);
        json_object_put(o);
    }
    free(line);
    if (f) fclose(f);
    CHECK_MSG(lines == drops - read_drops, "%d lines, %lld drops, %lld of them by the reader", lines, (long long)drops,
              (long long)read_drops);
    CHECK(lines == 5 && seen_short == 1 && seen_exact == 2 && seen_near == 2 && read_drops == 2);
    rp_free(r);
    pl_free_files(files, n);
    mixed_free(&m);
}

// out_dir holds no file a stage writes (work files, temporary files, reports, JSONL).
static void check_no_files(const char *out_dir, const char *what) {
    char names[4096] = "";
    list_files(out_dir, names, sizeof names);
    const char *bad[] = {".docs", ".sig", ".lines", ".tmp", "report", ".jsonl", "dedup", NULL};
    for (int i = 0; bad[i]; i++) CHECK_MSG(!strstr(names, bad[i]), "%s: left behind: %s", what, names);
}

TEST(pipeline_failure_leaves_nothing) {
    // Strict: a malformed line is an error naming file:line, and nothing is written.
    const char *in = make_dir("strict-in");
    char *d0 = en_doc(500, 7), *d1 = en_doc(501, 7);
    sb_t f = {0};
    jsonl_add(&f, d0, "d0");
    jsonl_add(&f, d1, "d1");
    sb_str(&f, "{\"text\": 12}\n");
    jsonl_add(&f, d0, "d0again");
    const char *file = strdup(dir_path(in, "strict.jsonl"));
    write_sb(file, &f);
    free(f.p);
    const char *out = test_path("strict-out");
    pl_config_t c = config(out);
    c.reader.strict = 1;
    rp_t *r = (rp_t *)1;
    err_t e = {{0}};
    CHECK(pl_run(&c, &file, 1, &r, &e) == -1 && r == NULL);
    char where[1200];
    snprintf(where, sizeof where, "%s:3", file);
    CHECK_MSG(strstr(e.msg, where) != NULL, "message does not name %s: %s", where, e.msg);
    check_no_files(out, "strict run");
    struct stat st;
    CHECK(stat(dir_path(out, "clean"), &st) != 0);
    // Not strict: the line is skipped and counted.
    c.reader.strict = 0;
    CHECK_MSG(pl_run(&c, &file, 1, &r, &e) == 0, "%s", e.msg);
    if (r) CHECK(rp_dropped(r, RP_READ, "text_field_not_string") == 1 && rp_docs_out(r, RP_LINE_DEDUP) == 2);
    rp_free(r);
    // A bad configuration fails before anything is written.
    pl_config_t bad = config(test_path("bad-name-out"));
    bad.name = "a b";
    e.msg[0] = 0;
    CHECK(pl_clean(&bad, &file, 1, &e) == -1 && strstr(e.msg, "--name 'a b'"));
    check_no_files(bad.out_dir, "bad name");
    bad.name = "part", bad.shard = 3, bad.n_shards = 3;
    e.msg[0] = 0;
    CHECK(pl_clean(&bad, &file, 1, &e) == -1 && strstr(e.msg, "--shard 3/3"));
    bad.shard = 0, bad.n_shards = 1, bad.out_dir = NULL;
    CHECK(pl_clean(&bad, &file, 1, &e) == -1 && strstr(e.msg, "--out"));
    free(d0), free(d1), free((char *)file);
}

TEST(pipeline_truncated_gzip) {
    // 40 documents gzipped, the file cut at 60%: the documents before the cut are kept (in
    // order, whole), the break is a "read_error" drop; strict makes it an error.
    enum { N = 40 };
    char *d[N];
    sb_t f = {0};
    for (int i = 0; i < N; i++) {
        d[i] = en_doc(600 + (uint64_t)i, 7);
        char id[16];
        snprintf(id, sizeof id, "t%d", i);
        jsonl_add(&f, d[i], id);
    }
    const char *in = make_dir("trunc-in");
    const char *full = strdup(dir_path(in, "full.jsonl.gz")), *cut = strdup(dir_path(in, "cut.jsonl.gz"));
    write_gz(full, &f);
    free(f.p);
    char *gz = read_text(full);
    struct stat st;
    CHECK(stat(full, &st) == 0);
    CHECK(test_write_file(cut, gz, (size_t)st.st_size * 6 / 10) == 0);
    free(gz);
    const char *out = test_path("trunc-out");
    pl_config_t c = config(out);
    rp_t *r = NULL;
    err_t e = {{0}};
    CHECK_MSG(pl_run(&c, &cut, 1, &r, &e) == 0, "%s", e.msg);
    docs_t ds = r ? clean_docs(out, "part.00000-of-00001") : (docs_t){0};
    CHECK_MSG(ds.n > 5 && ds.n < N, "%d documents kept of %d", ds.n, N);
    for (int i = 0; i < ds.n && i < N; i++) CHECK_MSG(strcmp(ds.d[i].text, d[i]) == 0, "document %d differs", i);
    if (r) CHECK(rp_dropped(r, RP_READ, "read_error") == 1 && rp_docs_out(r, RP_LINE_DEDUP) == ds.n);
    int64_t read_drops;
    check_balance(dir_path(out, "report.json"), &read_drops);
    CHECK(read_drops == 1);
    docs_free(&ds);
    rp_free(r);
    c.out_dir = test_path("trunc-strict");
    c.reader.strict = 1;
    e.msg[0] = 0;
    CHECK(pl_run(&c, &cut, 1, &r, &e) == -1 && strstr(e.msg, cut));
    check_no_files(c.out_dir, "strict truncated run");
    for (int i = 0; i < N; i++) free(d[i]);
    free((char *)full), free((char *)cut);
}

TEST(pipeline_thread_count_independent) {
    // The mixed corpus plus 200 more documents (some duplicated), with 1 thread and with 2.
    mixed_t m;
    mixed_make(&m, "threads-in");
    sb_t f = {0};
    for (int i = 0; i < 200; i++) {
        char *t = en_doc(700 + (uint64_t)(i % 170), 6 + i % 5);
        jsonl_add(&f, t, NULL);
        free(t);
    }
    write_sb(dir_path(m.dir, "e-more.jsonl"), &f);
    free(f.p);
    char **files;
    int n = mixed_inputs(&m, &files);
    int threads = omp_get_max_threads();
    char *clean[2], *report[2];
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        const char *out = test_path(k ? "threads-2" : "threads-1");
        pl_config_t c = config(out);
        rp_t *r = NULL;
        err_t e = {{0}};
        CHECK_MSG(pl_run(&c, (const char *const *)files, n, &r, &e) == 0, "%s", e.msg);
        rp_free(r);
        clean[k] = read_text(dir_path(out, "clean/part.00000-of-00001.jsonl"));
        report[k] = read_text(dir_path(out, "report.json"));
    }
    omp_set_num_threads(threads);
    CHECK(clean[0] && clean[1] && strcmp(clean[0], clean[1]) == 0);
    CHECK(report[0] && report[1] && strcmp(report[0], report[1]) == 0);
    CHECK(clean[0] && strlen(clean[0]) > 100000);
    for (int k = 0; k < 2; k++) free(clean[k]), free(report[k]);
    pl_free_files(files, n);
    mixed_free(&m);
}
