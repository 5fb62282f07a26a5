// Language identification: accuracy on a labelled sample and throughput.
//
//   build/bench_langid [--min-chars 200] [--min-en 0.99] [--min-ja 0.99] [--runs 5]
//                      [--doc-kb 16] [--errors N] [--only LANG] FILE.jsonl
//
// FILE: JSONL records {"lang": "de", "text": "..."} (scripts/langid_sample.sh builds one).
// Prints, for li_identify on every record:
//   - per language: records, accuracy, accuracy on records of >= --min-chars characters, and
//     the most frequent wrong answers;
//   - per length bucket (characters): accuracy over all languages, en and ja;
//   - throughput, median of --runs runs, one thread: "records" calls li_identify once per
//     record (short texts: the per-call cost shows); "documents" joins each language's records
//     into documents of --doc-kb KB (the pipeline's case: one call per web page).
// --errors N prints up to N misidentified records per language (--only LANG: that one only).
// Exits 1 when en or ja accuracy on records of >= --min-chars characters is below --min-en /
// --min-ja, 2 on a usage or file error.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/timing.h"
#include "data/langid.h"
#include "data/reader.h"

typedef struct {
    char lang[8];
    char *text;
    size_t len, chars;
} rec_t;

#define MAX_LANGS 64
#define N_BUCKETS 5
static const size_t BUCKET_LO[N_BUCKETS] = {15, 50, 100, 200, 500};
static const char *const BUCKET_NAME[N_BUCKETS] = {"15-49", "50-99", "100-199", "200-499", "500-1000"};

typedef struct {
    char lang[8];
    size_t n, ok, n_long, ok_long;
    size_t bucket_n[N_BUCKETS], bucket_ok[N_BUCKETS];
    char wrong[MAX_LANGS][8];  // wrong answers and their counts
    size_t wrong_n[MAX_LANGS];
    int n_wrong;
    int errors_shown;
} stat_t;

static size_t utf8_chars(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

static int bucket_of(size_t chars) {
    int b = 0;
    while (b + 1 < N_BUCKETS && chars >= BUCKET_LO[b + 1]) b++;
    return b;
}

static stat_t *stat_for(stat_t *st, int *n, const char *lang) {
    for (int i = 0; i < *n; i++)
        if (strcmp(st[i].lang, lang) == 0) return &st[i];
    if (*n == MAX_LANGS) return NULL;
    stat_t *s = &st[(*n)++];
    memset(s, 0, sizeof *s);
    snprintf(s->lang, sizeof s->lang, "%s", lang);
    return s;
}

static int cmp_stat(const void *a, const void *b) { return strcmp(((const stat_t *)a)->lang, ((const stat_t *)b)->lang); }

static void print_row(const char *name, size_t ok, size_t n) {
    if (n) printf("  %-9s %6zu  %6.3f", name, n, (double)ok / (double)n);
    else printf("  %-9s %6zu  %6s", name, n, "-");
}

int main(int argc, char **argv) {
    int min_chars = 200, runs = 5, doc_kb = 16, errors = 0;
    float min_en = 0.99f, min_ja = 0.99f;
    const char *only = NULL;
    arg_opt_t opts[] = {
        {"min-chars", ARG_INT, &min_chars, "records this long (characters) or longer are held to the floors"},
        {"min-en", ARG_FLOAT, &min_en, "floor for English accuracy on long records"},
        {"min-ja", ARG_FLOAT, &min_ja, "floor for Japanese accuracy on long records"},
        {"runs", ARG_INT, &runs, "timed runs (the median is printed)"},
        {"doc-kb", ARG_INT, &doc_kb, "size of the joined documents for the document throughput"},
        {"errors", ARG_INT, &errors, "print this many misidentified records per language"},
        {"only", ARG_STR, &only, "with --errors: only this language's"},
        {0},
    };
    char *pos[2];
    int npos = 0;
    err_t e = {0};
    if (args_parse(opts, argc - 1, argv + 1, pos, 2, &npos, &e) != 0 || npos != 1 || runs < 1 || doc_kb < 1) {
        if (e.msg[0]) fprintf(stderr, "bench_langid: %s\n", e.msg);
        fprintf(stderr, "usage: bench_langid [flags] FILE.jsonl\n");
        args_print(stderr, opts);
        return 2;
    }

    // Read the sample.
    rd_config_t c;
    rd_config_default(&c);
    c.source_field = "lang";
    rd_t *rd;
    if (rd_open(&rd, pos[0], &c, &e) != 0) {
        fprintf(stderr, "bench_langid: %s\n", e.msg);
        return 2;
    }
    rec_t *recs = NULL;
    size_t n = 0, cap = 0, bytes = 0;
    rd_doc_t d;
    int k;
    while ((k = rd_next(rd, &d, &e)) == 1) {
        if (!d.source) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            rec_t *grown = realloc(recs, cap * sizeof *recs);
            if (!grown) { fprintf(stderr, "bench_langid: out of memory\n"); return 2; }
            recs = grown;
        }
        rec_t *r = &recs[n++];
        snprintf(r->lang, sizeof r->lang, "%s", d.source);
        r->text = malloc(d.len + 1);
        if (!r->text) { fprintf(stderr, "bench_langid: out of memory\n"); return 2; }
        memcpy(r->text, d.text, d.len + 1);
        r->len = d.len, r->chars = utf8_chars(d.text, d.len);
        bytes += d.len;
    }
    size_t skipped = rd_stats(rd)->malformed;
    rd_close(rd);
    if (k < 0) { fprintf(stderr, "bench_langid: %s\n", e.msg); return 2; }
    if (n == 0) { fprintf(stderr, "bench_langid: %s: no labelled records\n", pos[0]); return 2; }

    li_t *m;
    if (li_init(&m, &e) != 0) { fprintf(stderr, "bench_langid: %s\n", e.msg); return 2; }

    // Accuracy.
    static stat_t st[MAX_LANGS];
    int n_st = 0;
    stat_t all = {.lang = "all"};
    for (size_t i = 0; i < n; i++) {
        rec_t *r = &recs[i];
        li_result_t res = li_identify(m, r->text, r->len);
        stat_t *s = stat_for(st, &n_st, r->lang);
        if (!s) continue;
        int ok = strcmp(res.lang, r->lang) == 0, b = bucket_of(r->chars), lng = r->chars >= (size_t)min_chars;
        stat_t *both[2] = {s, &all};
        for (int j = 0; j < 2; j++) {
            both[j]->n++, both[j]->ok += (size_t)ok;
            both[j]->n_long += (size_t)lng, both[j]->ok_long += (size_t)(ok && lng);
            both[j]->bucket_n[b]++, both[j]->bucket_ok[b] += (size_t)ok;
        }
        if (ok) continue;
        int w = 0;
        while (w < s->n_wrong && strcmp(s->wrong[w], res.lang) != 0) w++;
        if (w == s->n_wrong && w < MAX_LANGS) snprintf(s->wrong[s->n_wrong++], 8, "%s", res.lang);
        if (w < MAX_LANGS) s->wrong_n[w]++;
        if (s->errors_shown < errors && (!only || strcmp(only, r->lang) == 0)) {
            s->errors_shown++;
            int show = r->len > 160 ? 160 : (int)r->len;
            while (show < (int)r->len && ((unsigned char)r->text[show] & 0xC0) == 0x80) show++;
            printf("error %s -> %s (score %.2f, hits %.1f, runner-up %s, %zu chars): %.*s\n", r->lang, res.lang,
                   res.score, res.hits, res.runner_up, r->chars, show, r->text);
        }
    }
    qsort(st, (size_t)n_st, sizeof st[0], cmp_stat);

    printf("sample: %s, %zu records, %.2f MB, %zu lines skipped\n\n", pos[0], n, bytes / 1e6, skipped);
    printf("  %-9s %6s  %6s  %6s  %6s  %s\n", "language", "n", "acc", "n>=min", "acc", "wrong answers (most frequent)");
    for (int i = 0; i <= n_st; i++) {
        stat_t *s = i < n_st ? &st[i] : &all;
        print_row(s->lang, s->ok, s->n);
        if (s->n_long) printf("  %6zu  %6.3f ", s->n_long, (double)s->ok_long / (double)s->n_long);
        else printf("  %6zu  %6s ", s->n_long, "-");
        for (int shown = 0; shown < 4; shown++) {  // the four most frequent wrong answers
            int top = -1;
            for (int w = 0; w < s->n_wrong; w++)
                if (s->wrong_n[w] && (top < 0 || s->wrong_n[w] > s->wrong_n[top])) top = w;
            if (top < 0) break;
            printf(" %s %zu", s->wrong[top], s->wrong_n[top]);
            s->wrong_n[top] = 0;
        }
        printf("\n");
    }
    printf("  (n>=min, acc: records of >= %d characters)\n\n", min_chars);

    stat_t *en = NULL, *ja = NULL;
    for (int i = 0; i < n_st; i++) {
        if (strcmp(st[i].lang, "en") == 0) en = &st[i];
        if (strcmp(st[i].lang, "ja") == 0) ja = &st[i];
    }
    printf("  %-9s %6s  %6s  %6s  %6s  %6s  %6s\n", "chars", "n", "all", "n en", "en", "n ja", "ja");
    for (int b = 0; b < N_BUCKETS; b++) {
        print_row(BUCKET_NAME[b], all.bucket_ok[b], all.bucket_n[b]);
        stat_t *two[2] = {en, ja};
        for (int j = 0; j < 2; j++) {
            size_t bn = two[j] ? two[j]->bucket_n[b] : 0, bo = two[j] ? two[j]->bucket_ok[b] : 0;
            if (bn) printf("  %6zu  %6.3f", bn, (double)bo / (double)bn);
            else printf("  %6zu  %6s", bn, "-");
        }
        printf("\n");
    }

    // Throughput: records one by one, then documents of doc_kb KB joined per language.
    double *t = malloc((size_t)runs * sizeof *t);
    char *docs = malloc(bytes + 2 * n + 1);
    size_t *doc_end = malloc((n + 1) * sizeof *doc_end);
    if (!t || !docs || !doc_end) { fprintf(stderr, "bench_langid: out of memory\n"); return 2; }
    size_t dn = 0, n_docs = 0, cur_start = 0;
    for (size_t i = 0; i < n; i++) {
        if (dn > cur_start && (dn - cur_start >= (size_t)doc_kb * 1000 || strcmp(recs[i].lang, recs[i - 1].lang) != 0))
            doc_end[n_docs++] = dn, cur_start = dn;
        if (dn > cur_start) docs[dn++] = '\n', docs[dn++] = '\n';
        memcpy(docs + dn, recs[i].text, recs[i].len);
        dn += recs[i].len;
    }
    doc_end[n_docs++] = dn;
    volatile double sink = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int run = 0; run < runs; run++) {
            double t0 = timing_now();
            if (pass == 0) {
                for (size_t i = 0; i < n; i++) sink += li_identify(m, recs[i].text, recs[i].len).score;
            } else {
                for (size_t i = 0, start = 0; i < n_docs; start = doc_end[i++])
                    sink += li_identify(m, docs + start, doc_end[i] - start).score;
            }
            t[run] = timing_now() - t0;
        }
        double med = timing_median(t, runs);
        if (pass == 0)
            printf("\nthroughput, records:   %8.1f MB/s  (%zu calls, mean %.0f bytes, median of %d runs, one thread)\n",
                   bytes / med / 1e6, n, (double)bytes / (double)n, runs);
        else
            printf("throughput, documents: %8.1f MB/s  (%zu documents of <= %d KB, median of %d runs, one thread)\n",
                   dn / med / 1e6, n_docs, doc_kb, runs);
    }
    (void)sink;

    int rc = 0;
    stat_t *two[2] = {en, ja};
    const char *names[2] = {"en", "ja"};
    double floors[2] = {min_en, min_ja};
    for (int j = 0; j < 2; j++) {
        if (!two[j] || two[j]->n_long == 0) {
            printf("FAIL: no %s records of >= %d characters in the sample\n", names[j], min_chars);
            rc = 1;
            continue;
        }
        double acc = (double)two[j]->ok_long / (double)two[j]->n_long;
        printf("%s: %s accuracy on >= %d characters %.4f (floor %.4f)\n", acc >= floors[j] ? "ok" : "FAIL", names[j],
               min_chars, acc, floors[j]);
        if (acc < floors[j]) rc = 1;
    }
    li_free(m);
    for (size_t i = 0; i < n; i++) free(recs[i].text);
    free(recs), free(t), free(docs), free(doc_end);
    return rc;
}
