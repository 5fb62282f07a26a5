// Throughput of the data pipeline: (a) the quality filters alone, (b) the whole pipeline
// (read, normalise, language, filters, PII, MinHash, dedup, finish), in MB/s per core, and
// (c) the memory the dedup stage needs per million documents.
//
//   build/bench_data_pipeline [--runs N] [--dedup-docs N] FILE|DIR...
//
// (a) runs on one thread over the English and Japanese documents of the inputs, extracted and
// normalised beforehand (the text the filters see in the pipeline): English documents through
// the C4 line pass and qf_check_en, Japanese ones through qf_check_ja.  (b) runs pl_run into a scratch directory
// with the OpenMP threads the environment gives (OMP_NUM_THREADS); MB/s per core divides by
// that thread count.  Both report the median of --runs runs.  (c) cleans --dedup-docs
// synthetic documents (filters off) and reads the peak resident memory of a child process
// that runs pl_dedup alone, minus that of one that only starts up.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/rng.h"
#include "core/timing.h"
#include "data/extract.h"
#include "data/filters.h"
#include "data/langid.h"
#include "data/normalize.h"
#include "data/pipeline.h"
#include "data/reader.h"

typedef struct doc {
    char *text;
    size_t len;
    int ja;
} doc_t;

// The documents of the inputs as the filters see them: extracted, normalised, routed by language.
static int load_docs(char **files, int n_files, doc_t **out, size_t *n_out, size_t *raw_bytes) {
    size_t n = 0, cap = 1024;
    doc_t *d = malloc(cap * sizeof *d);
    tn_config_t tc;
    tn_config_default(&tc);
    li_t *li;
    err_t le = {0};
    if (li_init(&li, &le) != 0) return -1;
    ex_global_init();
    *raw_bytes = 0;
    for (int f = 0; f < n_files; f++) {
        rd_t *r;
        rd_doc_t x;
        err_t e = {0};
        if (rd_open(&r, files[f], NULL, &e) != 0) {
            fprintf(stderr, "%s\n", e.msg);
            return -1;
        }
        while (rd_next(r, &x, &e) == 1) {
            char *t, *plain = NULL;
            size_t len, plen = x.len;
            *raw_bytes += x.len;
            if (x.markup != RD_PLAIN && ex_text(x.markup, x.text, x.len, x.charset, &plain, &plen, &e) != 0) continue;
            int r2 = tn_normalize(&tc, plain ? plain : x.text, plen, &t, &len, NULL, &e);
            free(plain);
            if (r2 != TN_OK) continue;
            li_result_t lr = li_identify(li, t, len);
            int ja = strcmp(lr.lang, "ja") == 0;
            if (!ja && strcmp(lr.lang, "en") != 0) {  // the pipeline drops other languages first
                free(t);
                continue;
            }
            if (n == cap) d = realloc(d, (cap *= 2) * sizeof *d);
            d[n++] = (doc_t){t, len, ja};
        }
        rd_close(r);
    }
    li_free(li);
    *out = d, *n_out = n;
    return 0;
}

static double filters_once(const doc_t *d, size_t n, const qf_config_t *c, char *buf, size_t *kept) {
    double t0 = timing_now();
    *kept = 0;
    for (size_t i = 0; i < n; i++) {
        qf_result_t r;
        if (d[i].ja) {
            r = qf_check_ja(c, d[i].text, d[i].len);
        } else {
            size_t m = qf_c4_lines(c, d[i].text, d[i].len, buf);
            r = qf_check_en(c, buf, m);
        }
        *kept += r.rule == QF_KEEP;
    }
    return timing_now() - t0;
}

// Peak RSS (KiB) of a child that runs pl_dedup on dir (or does nothing, when dir is NULL).
static long child_rss(const pl_config_t *c) {
    pid_t pid = fork();
    if (pid == 0) {
        err_t e = {0};
        int rc = c ? pl_dedup(c, &e) : 0;
        if (rc) fprintf(stderr, "%s\n", e.msg);
        _exit(rc ? 1 : 0);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) return -1;
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv) {
    int runs = 5;
    long dedup_docs = 200000;
    char **paths = argv + 1;
    int n_paths = argc - 1;
    while (n_paths >= 2 && strncmp(paths[0], "--", 2) == 0) {
        if (strcmp(paths[0], "--runs") == 0) runs = atoi(paths[1]);
        else if (strcmp(paths[0], "--dedup-docs") == 0) dedup_docs = atol(paths[1]);
        else break;
        paths += 2, n_paths -= 2;
    }
    if (n_paths < 1 || runs < 1) {
        fprintf(stderr, "usage: bench_data_pipeline [--runs N] [--dedup-docs N] FILE|DIR...\n");
        return 2;
    }
    err_t e = {0};
    char **files;
    int n_files;
    if (pl_expand_inputs((const char *const *)paths, n_paths, &files, &n_files, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int threads = omp_get_max_threads();

    // (a) filters alone, one thread
    doc_t *docs;
    size_t n_docs, raw, bytes = 0, max_len = 0, kept = 0;
    if (load_docs(files, n_files, &docs, &n_docs, &raw) != 0) return 1;
    for (size_t i = 0; i < n_docs; i++) bytes += docs[i].len, max_len = docs[i].len > max_len ? docs[i].len : max_len;
    char *buf = malloc(max_len + 1);
    qf_config_t qc;
    qf_config_default(&qc);
    qc.enabled[QF_C4_LINE_PUNCT] = 0;  // as the pipeline's default
    double *t = malloc((size_t)runs * sizeof *t);
    for (int r = 0; r < runs; r++) t[r] = filters_once(docs, n_docs, &qc, buf, &kept);
    double tf = timing_median(t, runs);
    printf("filters alone: %zu documents, %.1f MB normalised text, %zu kept: median %.3f s = %.1f MB/s per core "
           "(1 thread, %d runs)\n", n_docs, bytes / 1e6, kept, tf, bytes / 1e6 / tf, runs);

    // (b) the whole pipeline
    char dir[] = "/tmp/manabi-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    pl_config_t c;
    pl_config_default(&c);
    c.out_dir = dir;
    c.progress = 0;
    int64_t out_docs = 0;
    for (int r = 0; r < runs; r++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "rm -rf %s/work %s/clean", dir, dir);
        if (system(cmd) != 0) return 1;
        rp_t *rep;
        double t0 = timing_now();
        if (pl_run(&c, (const char *const *)files, n_files, &rep, &e) != 0) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        t[r] = timing_now() - t0;
        out_docs = rp_docs_out(rep, RP_LINE_DEDUP);
        rp_free(rep);
    }
    double tp = timing_median(t, runs);
    printf("whole pipeline: %d files, %.1f MB in, %lld documents out: median %.3f s = %.1f MB/s, %.1f MB/s per core "
           "(%d threads, %d runs)\n", n_files, raw / 1e6, (long long)out_docs, tp, raw / 1e6 / tp,
           raw / 1e6 / tp / threads, threads, runs);

    // (c) dedup memory: synthetic documents of 200 random words from a 5000-word vocabulary
    char synth[4200];
    snprintf(synth, sizeof synth, "%s/synth.jsonl", dir);
    FILE *f = fopen(synth, "w");
    rng_t g;
    rng_seed(&g, 7);
    for (long i = 0; i < dedup_docs; i++) {
        fputs("{\"text\": \"", f);
        for (int w = 0; w < 200; w++) {
            uint32_t k = (uint32_t)rng_below(&g, 5000);
            fprintf(f, "%sw%c%c%u", w ? (w % 15 == 14 ? ".\\n" : " ") : "", 'a' + (int)(k % 26), 'a' + (int)(k / 26 % 26), k);
        }
        fputs(".\"}\n", f);
    }
    fclose(f);
    pl_config_t s = c;
    char sdir[4200];
    snprintf(sdir, sizeof sdir, "%s/synth", dir);
    s.out_dir = sdir;
    qf_config_switch(&s.quality, "all", 0, &e);
    s.langs = "all";
    const char *in[] = {synth};
    if (pl_clean(&s, in, 1, &e) != 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    long base = child_rss(NULL), with = child_rss(&s);
    printf("dedup memory: %ld documents: peak RSS %.1f MiB (%.1f MiB at start-up) = %.0f MiB per million documents "
           "(K = %d)\n", dedup_docs, with / 1024.0, base / 1024.0, (with - base) / 1024.0 * 1e6 / (double)dedup_docs,
           s.mh_bands * s.mh_rows);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    pl_free_files(files, n_files);
    return 0;
}
