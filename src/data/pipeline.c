// pipeline: the stages of `manabi data`.  See pipeline.h for the contract.
#include "data/pipeline.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io.h"
#include "core/timing.h"
#include "data/dedup.h"
#include "data/extract.h"
#include "data/langid.h"
#include "data/minhash.h"

void pl_config_default(pl_config_t *c) {
    memset(c, 0, sizeof *c);
    c->name = "part";
    c->n_shards = 1;
    rd_config_default(&c->reader);
    tn_config_default(&c->norm);
    qf_config_default(&c->quality);
    // FineWeb runs the C4 filter without its terminal-punctuation line rule (it removes too
    // much: lists, headings, code); so do we.
    c->quality.enabled[QF_C4_LINE_PUNCT] = 0;
    c->langs = "en,ja";
    c->pii = 1;
    c->exact = c->near = c->lines = 1;
    c->mh_bands = MH_BANDS;
    c->mh_rows = MH_ROWS;
    c->mh_seed = 1;
    c->mh_verify = MH_VERIFY_DEFAULT;
    c->line_min_docs = DD_LINE_MIN_DOCS;
    c->line_min_chars = DD_LINE_MIN_CHARS;
    c->progress = 1;
}

// ---------------------------------------------------------------------------------------------
// Inputs

typedef struct strvec {
    char **v;
    int n, cap;
} strvec_t;

static int strvec_push(strvec_t *s, const char *x) {
    if (s->n == s->cap) {
        int nc = s->cap ? 2 * s->cap : 64;
        char **p = realloc(s->v, (size_t)nc * sizeof *p);
        if (!p) return -1;
        s->v = p;
        s->cap = nc;
    }
    if (!(s->v[s->n] = strdup(x))) return -1;
    s->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int walk(strvec_t *out, const char *dir, err_t *e) {
    DIR *d = opendir(dir);
    if (!d) return err_set(e, "%s: cannot open the directory (%s)", dir, strerror(errno));
    strvec_t names = {0};
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 && strvec_push(&names, de->d_name) != 0)
            rc = err_set(e, "out of memory listing %s", dir);
    closedir(d);
    if (names.n) qsort(names.v, (size_t)names.n, sizeof *names.v, cmp_str);
    for (int i = 0; rc == 0 && i < names.n; i++) {
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, names.v[i]) >= (int)sizeof path) {
            rc = err_set(e, "%s/%s: path too long", dir, names.v[i]);
        } else if (lstat(path, &st) != 0) {
            rc = err_set(e, "%s: %s", path, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(out, path, e);
        } else if (S_ISREG(st.st_mode) && strvec_push(out, path) != 0) {
            rc = err_set(e, "out of memory listing %s", dir);
        }  // symlinks, sockets, devices: skipped
    }
    for (int i = 0; i < names.n; i++) free(names.v[i]);
    free(names.v);
    return rc;
}

int pl_expand_inputs(const char *const *paths, int n_paths, char ***files, int *n_files, err_t *e) {
    strvec_t out = {0};
    int rc = 0;
    for (int i = 0; rc == 0 && i < n_paths; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) rc = err_set(e, "%s: %s", paths[i], strerror(errno));
        else if (S_ISDIR(st.st_mode)) rc = walk(&out, paths[i], e);
        else if (strvec_push(&out, paths[i]) != 0) rc = err_set(e, "out of memory");
    }
    if (rc == 0 && out.n == 0) rc = err_set(e, "no input files (the directories given are empty)");
    if (rc == 0 && out.n >= (1 << 20)) rc = err_set(e, "%d input files: at most 2^20 per run; split them with --name", out.n);
    if (rc != 0) {
        pl_free_files(out.v, out.n);
        return -1;
    }
    *files = out.v;
    *n_files = out.n;
    return 0;
}

void pl_free_files(char **files, int n) {
    for (int i = 0; files && i < n; i++) free(files[i]);
    free(files);
}

// ---------------------------------------------------------------------------------------------
// Orders and file names

// order = name rank (8 bits) | file index (20 bits) | document index in the file (36 bits).
#define ORDER(rank, file, doc) (((uint64_t)(rank) << 56) | ((uint64_t)(file) << 36) | (uint64_t)(doc))
enum { MAX_NAMES = 256 };

static int check_name(const char *name, err_t *e) {
    size_t n = strlen(name);
    if (n == 0 || n > 64) return err_set(e, "--name '%s': give 1 to 64 letters, digits, '_' or '-'", name);
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return err_set(e, "--name '%s': give 1 to 64 letters, digits, '_' or '-'", name);
    }
    return 0;
}

// out_dir/sub/<name>.<i>-of-<n><ext>
static void part_path(char *buf, size_t cap, const pl_config_t *c, const char *sub, const char *ext) {
    snprintf(buf, cap, "%s/%s/%s.%05d-of-%05d%s", c->out_dir, sub, c->name, c->shard, c->n_shards, ext);
}

static int check_config(const pl_config_t *c, err_t *e) {
    if (!c->out_dir || !*c->out_dir) return err_set(e, "no output directory: give --out DIR");
    if (check_name(c->name, e) != 0) return -1;
    if (c->n_shards < 1 || c->shard < 0 || c->shard >= c->n_shards)
        return err_set(e, "--shard %d/%d: give i/n with 0 <= i < n", c->shard, c->n_shards);
    if (c->mh_bands < 1 || c->mh_rows < 1 || c->mh_bands * c->mh_rows > MH_MAX_K)
        return err_set(e, "--bands %d x --rows %d: both >= 1 and their product <= %d", c->mh_bands, c->mh_rows, MH_MAX_K);
    if (!(c->mh_verify <= 1)) return err_set(e, "--verify %g: give a Jaccard threshold <= 1 (0: no verification)", c->mh_verify);
    if (c->line_min_docs < 2) return err_set(e, "--line-min-docs %d: a line must repeat in at least 2 documents", c->line_min_docs);
    return 0;
}

static int lang_allowed(const char *langs, const char *lang) {
    if (strcmp(langs, "all") == 0) return 1;
    size_t n = strlen(lang);
    for (const char *p = langs; (p = strstr(p, lang)); p += n)
        if ((p == langs || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
    return 0;
}

// Japanese, Chinese, Korean and Thai are shingled by characters, the rest by words.
static mh_shingling_t shingling_for(const char *lang) {
    return strcmp(lang, "ja") == 0 || strcmp(lang, "zh") == 0 || strcmp(lang, "ko") == 0 || strcmp(lang, "th") == 0
               ? MH_CHARS
               : MH_WORDS;
}

// The quality rules of a language: English and Japanese have theirs; others pass unchecked.
static qf_result_t check_quality(const qf_config_t *q, const char *lang, const char *text, size_t len) {
    if (strcmp(lang, "en") == 0) return qf_check_en(q, text, len);
    if (strcmp(lang, "ja") == 0) return qf_check_ja(q, text, len);
    return (qf_result_t){QF_KEEP, 0, 0};
}

static int save_blob(const char *path, const char magic[8], const void *p, size_t size, uint64_t n, err_t *e);
// The quality settings of a part, for the finish stage's second look at changed documents.
static const char QUALITY_MAGIC[8] = {'M', 'N', 'B', 'Q', 'U', 'A', 'L', '1'};

// ---------------------------------------------------------------------------------------------
// Stage 1: clean

// One document on its way through the per-document stages.
typedef struct item {
    // in (copied from the reader)
    char *raw;
    size_t raw_len;
    char *source;
    rd_markup_t markup;
    char *charset;
    uint64_t key;  // ORDER(0, file, doc)
    // out
    char *text;                          // the final text (owned), when kept
    size_t len;
    char lang[8];
    size_t len_at[RP_NUM_STAGES + 1];    // length entering each stage
    int drop_stage;                      // -1: kept
    const char *reason;                  // static string, or reason_buf
    char reason_buf[32];
    double value, limit;
    char *drop_text;                     // the text as it entered the dropping stage (owned or raw)
    size_t drop_len;
    tn_stats_t tn;
    tn_pii_stats_t pii;
    uint64_t hash[2];
    uint64_t *sig;                       // (K,)
    uint64_t *lines;
    size_t n_lines, cap_lines;
    int failed;
    err_t err;
    char *scratch[4];                    // buffers freed with the item
} item_t;

static void item_clear(item_t *it) {
    free(it->raw), free(it->source), free(it->charset), free(it->sig), free(it->lines);
    for (int k = 0; k < 4; k++) free(it->scratch[k]);
    memset(it, 0, sizeof *it);
}

static void drop(item_t *it, rp_stage_t s, const char *reason, const char *text, size_t len, double value, double limit) {
    it->drop_stage = (int)s;
    it->reason = reason;
    it->drop_text = (char *)text;
    it->drop_len = len;
    it->value = value;
    it->limit = limit;
}

// The per-document stages; runs on any thread (reads c and m only).
static void process(const pl_config_t *c, const mh_t *m, const li_t *li, item_t *it) {
    it->drop_stage = -1;
    const char *t = it->raw;
    size_t n = it->raw_len;
    it->len_at[RP_READ] = it->len_at[RP_EXTRACT] = n;
    // extract: markup -> text (HTML, man pages; plain text stays as it is)
    if (it->markup != RD_PLAIN) {
        char *x;
        size_t xn;
        if (ex_text(it->markup, t, n, it->charset, &x, &xn, &it->err) != 0) {
            it->failed = 1;
            return;
        }
        it->scratch[3] = x;
        t = x, n = xn;
    }
    it->len_at[RP_NORMALIZE] = n;
    if (n == 0) return drop(it, RP_EXTRACT, "empty", t, n, NAN, NAN);
    // normalize
    char *norm;
    size_t nn;
    int r = tn_normalize(&c->norm, t, n, &norm, &nn, &it->tn, &it->err);
    if (r < 0) {
        it->failed = 1;
        return;
    }
    if (r == TN_DROP_INVALID_UTF8)
        return drop(it, RP_NORMALIZE, "invalid_utf8", t, n, n ? (double)it->tn.invalid_bytes / (double)n : 0,
                    c->norm.max_invalid_frac);
    it->scratch[0] = norm;
    it->len_at[RP_LANGUAGE] = nn;
    if (nn == 0) return drop(it, RP_NORMALIZE, "empty", norm, nn, NAN, NAN);
    // language
    li_result_t lr = li_identify(li, norm, nn);
    snprintf(it->lang, sizeof it->lang, "%s", lr.lang);
    if (!lang_allowed(c->langs, it->lang)) {
        snprintf(it->reason_buf, sizeof it->reason_buf, "language_%s", it->lang);
        return drop(it, RP_LANGUAGE, it->reason_buf, norm, nn, NAN, NAN);
    }
    it->len_at[RP_QUALITY] = nn;
    // quality: English first loses the lines the C4 line rules reject
    const char *q = norm;
    size_t qn = nn;
    const qf_config_t *qc = &c->quality;
    if (strcmp(it->lang, "en") == 0 && (qc->enabled[QF_C4_LINE_PUNCT] || qc->enabled[QF_C4_LINE_WORDS] ||
                                        qc->enabled[QF_C4_LINE_JAVASCRIPT] || qc->enabled[QF_C4_LINE_POLICY])) {
        char *lines = malloc(nn + 1);
        if (!lines) {
            it->failed = 1;
            err_set(&it->err, "out of memory");
            return;
        }
        it->scratch[1] = lines;
        qn = qf_c4_lines(qc, norm, nn, lines);
        lines[qn] = 0;
        q = lines;
    }
    qf_result_t v = check_quality(qc, it->lang, q, qn);
    if (v.rule == QF_OUT_OF_MEMORY) {
        it->failed = 1;
        err_set(&it->err, "out of memory in the quality filters");
        return;
    }
    if (v.rule != QF_KEEP) return drop(it, RP_QUALITY, qf_rule_name(v.rule), q, qn, v.value, v.limit);
    it->len_at[RP_QUALITY + 1] = qn;
    // PII
    if (c->pii) {
        char *clean = malloc(TN_SCRUB_CAP(qn));
        if (!clean) {
            it->failed = 1;
            err_set(&it->err, "out of memory");
            return;
        }
        it->scratch[2] = clean;
        qn = tn_scrub_pii(q, qn, clean, &it->pii);
        q = clean;
    }
    it->text = (char *)q;
    it->len = qn;
    // what the dedup stage needs
    dd_text_hash(q, qn, it->hash);
    if (!(it->sig = malloc((size_t)mh_k(m) * sizeof *it->sig)) ||
        mh_signature(m, q, qn, shingling_for(it->lang), it->sig, &it->err) != 0 ||
        dd_line_hashes(q, qn, c->line_min_chars, &it->lines, &it->n_lines, &it->cap_lines) != 0) {
        if (!it->err.msg[0]) err_set(&it->err, "out of memory");
        it->failed = 1;
    }
}

// The open outputs of one clean part.
typedef struct clean_out {
    io_atomic_t docs, sig, lines, dropped;
    rp_t *rep;
    int explain;
} clean_out_t;

static int write_str(io_atomic_t *a, const char *s, size_t n, int width, err_t *e) {
    uint64_t n64 = n;
    uint32_t n32 = (uint32_t)n;
    uint8_t n8 = (uint8_t)n;
    const void *len = width == 8 ? (const void *)&n64 : width == 4 ? (const void *)&n32 : (const void *)&n8;
    return io_atomic_write(a, len, (size_t)width, e) != 0 || io_atomic_write(a, s, n, e) != 0 ? -1 : 0;
}

// One dropped document as a JSON line: {"source", "stage", "reason", "value", "limit", "text"}.
static int write_dropped(io_atomic_t *a, const char *source, rp_stage_t s, const char *reason, double value,
                         double limit, const char *text, size_t len, err_t *e) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "source", json_object_new_string(source ? source : ""));
    json_object_object_add(o, "stage", json_object_new_string(rp_stage_name(s)));
    json_object_object_add(o, "reason", json_object_new_string(reason));
    json_object_object_add(o, "value", isfinite(value) ? json_object_new_double(value) : NULL);
    json_object_object_add(o, "limit", isfinite(limit) ? json_object_new_double(limit) : NULL);
    json_object_object_add(o, "text", json_object_new_string_len(text, (int)len));
    const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = io_atomic_write(a, js, strlen(js), e) != 0 || io_atomic_write(a, "\n", 1, e) != 0 ? -1 : 0;
    json_object_put(o);
    return rc;
}

static int oom(err_t *e) { return err_set(e, "out of memory"); }

// Records one processed document in the report and the outputs; in input order.
static int commit(clean_out_t *o, const mh_t *m, item_t *it, err_t *e) {
    if (it->failed) return err_set(e, "%s: %s", it->source ? it->source : "?", it->err.msg);
    rp_t *r = o->rep;
    for (int s = RP_READ; s <= RP_QUALITY; s++) {
        rp_stage_in(r, (rp_stage_t)s, it->len_at[s]);
        if (it->drop_stage == s) {
            if (rp_drop(r, (rp_stage_t)s, it->reason, it->source, it->drop_text, it->drop_len, it->value, it->limit) != 0)
                return oom(e);
            if (o->explain && write_dropped(&o->dropped, it->source, (rp_stage_t)s, it->reason, it->value, it->limit,
                                            it->drop_text, it->drop_len, e) != 0)
                return -1;
            break;
        }
        rp_stage_out(r, (rp_stage_t)s, it->len_at[s + 1]);
    }
    if (it->lang[0]) {
        char name[32];
        snprintf(name, sizeof name, "lang.%s", it->lang);
        if (rp_count(r, name, 1) != 0) return oom(e);
    }
    if (rp_count(r, "normalize.invalid_utf8_sequences", (int64_t)it->tn.invalid_seqs) ||
        rp_count(r, "normalize.controls_removed", (int64_t)it->tn.controls_removed) ||
        rp_count(r, "pii.emails", (int64_t)it->pii.emails) || rp_count(r, "pii.ipv4", (int64_t)it->pii.ipv4) ||
        rp_count(r, "pii.ipv6", (int64_t)it->pii.ipv6))
        return oom(e);
    if (it->drop_stage >= 0) return 0;
    // kept: text record, signature record, line counts
    const char *src = it->source ? it->source : "";
    if (io_atomic_write(&o->docs, &it->key, 8, e) || write_str(&o->docs, it->lang, strlen(it->lang), 1, e) ||
        write_str(&o->docs, src, strlen(src), 4, e) || write_str(&o->docs, it->text, it->len, 8, e) ||
        io_atomic_write(&o->sig, &it->key, 8, e) || io_atomic_write(&o->sig, it->hash, 16, e) ||
        io_atomic_write(&o->sig, it->sig, (size_t)mh_k(m) * 8, e))
        return -1;
    uint32_t nl = (uint32_t)it->n_lines;
    if (io_atomic_write(&o->lines, &it->key, 8, e) || io_atomic_write(&o->lines, &nl, 4, e) ||
        io_atomic_write(&o->lines, it->lines, it->n_lines * 8, e))
        return -1;
    return 0;
}

static const char DOCS_MAGIC[8] = {'M', 'N', 'B', 'D', 'O', 'C', 'S', '1'};
static const char SIG_MAGIC[8] = {'M', 'N', 'B', 'S', 'I', 'G', 'S', '1'};
// Each kept document's distinct line hashes: uint64 key, uint32 n, n uint64 hashes.
static const char LINES_MAGIC[8] = {'M', 'N', 'B', 'L', 'H', 'S', 'H', '1'};

typedef struct sig_header {
    char magic[8];
    uint32_t bands, rows;
    uint64_t seed;
} sig_header_t;

// Progress on stderr: a line rewritten in place on a terminal, one every 10 s otherwise.
typedef struct progress {
    int on, tty;
    double t0, last;
    int64_t total_bytes, done_bytes;
    int files_done, n_files;
} progress_t;

static void progress_show(progress_t *p, int64_t docs_kept, int final) {
    if (!p->on) return;
    double now = timing_now(), dt = now - p->t0;
    if (!final && now - p->last < (p->tty ? 0.5 : 10.0)) return;
    p->last = now;
    double rate = dt > 0 ? (double)p->done_bytes / dt : 0;
    double eta = rate > 0 ? (double)(p->total_bytes - p->done_bytes) / rate : 0;
    fprintf(stderr, "%sclean: %d/%d files  %.1f/%.1f MB  %.2f MB/s  %lld docs kept  %s %d:%02d%s", p->tty ? "\r" : "",
            p->files_done, p->n_files, (double)p->done_bytes / 1e6, (double)p->total_bytes / 1e6, rate / 1e6,
            (long long)docs_kept, final ? "took" : "ETA", (int)(final ? dt : eta) / 60, (int)(final ? dt : eta) % 60,
            p->tty && !final ? "   " : "\n");
}

enum { BATCH_BYTES = 32 << 20, BATCH_DOCS = 8192 };

// Runs the batch through process() on all cores, then commits it in order.
static int run_batch(const pl_config_t *c, const mh_t *m, const li_t *li, clean_out_t *o, item_t *batch, int n,
                     err_t *e) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < n; i++) process(c, m, li, &batch[i]);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (rc == 0) rc = commit(o, m, &batch[i], e);
        item_clear(&batch[i]);
    }
    return rc;
}

// Records the reader's skips of one file in the report: each kind of skipped line is a drop of
// the read stage, its first location (file:line) the example.
static int report_reader(rp_t *r, const char *path, const rd_stats_t *st) {
    static const struct {
        rd_skip_t kind;
        const char *name;
        size_t off;
    } skips[] = {{RD_SKIP_BAD_JSON, "malformed_json", offsetof(rd_stats_t, bad_json)},
                 {RD_SKIP_NO_FIELD, "missing_text_field", offsetof(rd_stats_t, no_field)},
                 {RD_SKIP_NOT_STRING, "text_field_not_string", offsetof(rd_stats_t, not_string)},
                 {RD_SKIP_TOO_LONG, "too_long", offsetof(rd_stats_t, too_long)}};
    if (st->binary) {
        rp_stage_in(r, RP_READ, 0);
        if (rp_drop(r, RP_READ, "binary_file", path, "", 0, NAN, NAN) != 0) return -1;
    }
    for (size_t k = 0; k < sizeof skips / sizeof *skips; k++) {
        size_t n = *(const size_t *)((const char *)st + skips[k].off);
        if (!n) continue;
        char where[4200];
        snprintf(where, sizeof where, "%s", path);
        for (size_t i = 0; i < st->n_locs; i++)
            if (st->locs[i].reason == skips[k].kind) {
                snprintf(where, sizeof where, "%s:%zu", path, st->locs[i].line);
                break;
            }
        rp_stage_in(r, RP_READ, 0);
        if (rp_drop(r, RP_READ, skips[k].name, where, "", 0, NAN, NAN) != 0 ||
            rp_add_drops(r, RP_READ, skips[k].name, (int64_t)n - 1, 0) != 0)
            return -1;
    }
    if (st->truncated && rp_count(r, "read.truncated_documents", (int64_t)st->truncated) != 0) return -1;
    return 0;
}

static void clean_abort(clean_out_t *o) {
    io_atomic_abort(&o->docs);
    io_atomic_abort(&o->sig);
    io_atomic_abort(&o->dropped);
    io_atomic_abort(&o->lines);
    rp_free(o->rep);
}

int pl_clean(const pl_config_t *c, const char *const *files, int n_files, err_t *e) {
    if (check_config(c, e) != 0) return -1;
    if (n_files >= (1 << 20)) return err_set(e, "%d input files: at most 2^20 per run; split them with --name", n_files);
    char path[4200];
    snprintf(path, sizeof path, "%s/work", c->out_dir);
    if (io_mkdir_p(path, e) != 0) return -1;
    mh_t m;
    li_t *li = NULL;
    if (mh_init(&m, c->mh_bands, c->mh_rows, c->mh_seed, e) != 0) return -1;
    if (li_init(&li, e) != 0) {
        mh_free(&m);
        return -1;
    }
    ex_global_init();
    clean_out_t o = {.explain = c->explain};
    item_t *batch = calloc(BATCH_DOCS, sizeof *batch);
    int nb = 0, rc = -1;
    size_t batch_bytes = 0;
    progress_t pg = {.on = c->progress, .tty = isatty(2), .t0 = timing_now()};
    for (int f = c->shard; f < n_files; f += c->n_shards) {
        struct stat st;
        if (stat(files[f], &st) == 0) pg.total_bytes += st.st_size;
        pg.n_files++;
    }
    if (!batch || !(o.rep = rp_new())) {
        oom(e);
        goto done;
    }
    sig_header_t sh = {.bands = (uint32_t)c->mh_bands, .rows = (uint32_t)c->mh_rows, .seed = c->mh_seed};
    memcpy(sh.magic, SIG_MAGIC, 8);
    part_path(path, sizeof path, c, "work", ".docs");
    if (io_atomic_open(&o.docs, path, e) || io_atomic_write(&o.docs, DOCS_MAGIC, 8, e)) goto done;
    part_path(path, sizeof path, c, "work", ".sig");
    if (io_atomic_open(&o.sig, path, e) || io_atomic_write(&o.sig, &sh, sizeof sh, e)) goto done;
    part_path(path, sizeof path, c, "work", ".lines");
    if (io_atomic_open(&o.lines, path, e) || io_atomic_write(&o.lines, LINES_MAGIC, 8, e)) goto done;
    part_path(path, sizeof path, c, "work", ".dropped.jsonl");
    if (c->explain && io_atomic_open(&o.dropped, path, e)) goto done;
    for (int f = c->shard; f < n_files; f += c->n_shards) {
        rd_t *rd;
        if (rd_open(&rd, files[f], &c->reader, e) != 0) goto done;
        rd_doc_t d;
        int k;
        uint64_t doc = 0;
        while ((k = rd_next(rd, &d, e)) == 1) {
            item_t *it = &batch[nb++];
            it->raw = malloc(d.len + 1);
            it->source = strdup(d.source ? d.source : files[f]);
            if (!it->raw || !it->source) {
                rd_close(rd);
                oom(e);
                goto done;
            }
            memcpy(it->raw, d.text, d.len);
            it->raw[d.len] = 0;
            it->raw_len = d.len;
            it->markup = d.markup;
            if (d.charset && !(it->charset = strdup(d.charset))) {
                rd_close(rd);
                oom(e);
                goto done;
            }
            it->key = ORDER(0, f, doc++);
            batch_bytes += d.len;
            if (nb == BATCH_DOCS || batch_bytes >= BATCH_BYTES) {
                int r = run_batch(c, &m, li, &o, batch, nb, e);
                nb = 0, batch_bytes = 0;
                progress_show(&pg, rp_docs_out(o.rep, RP_QUALITY), 0);
                if (r != 0) {
                    rd_close(rd);
                    goto done;
                }
            }
        }
        if (report_reader(o.rep, files[f], rd_stats(rd)) != 0) {
            rd_close(rd);
            oom(e);
            goto done;
        }
        rd_close(rd);
        if (k < 0) {  // the documents before the break stay
            if (c->reader.strict) goto done;
            fprintf(stderr, "manabi: warning: %s (the documents before it are kept)\n", e->msg);
            rp_stage_in(o.rep, RP_READ, 0);  // counted in, like the reader's skips, so the stage adds up
            if (rp_drop(o.rep, RP_READ, "read_error", files[f], e->msg, strlen(e->msg), NAN, NAN) != 0) {
                oom(e);
                goto done;
            }
            e->msg[0] = 0;
        }
        struct stat st;
        if (stat(files[f], &st) == 0) pg.done_bytes += st.st_size;
        pg.files_done++;
        progress_show(&pg, rp_docs_out(o.rep, RP_QUALITY), 0);
    }
    if (run_batch(c, &m, li, &o, batch, nb, e) != 0) goto done;
    nb = 0;
    part_path(path, sizeof path, c, "work", ".clean-report.json");
    if (rp_save(o.rep, path, e) != 0) goto done;
    part_path(path, sizeof path, c, "work", ".quality");
    if (save_blob(path, QUALITY_MAGIC, &c->quality, sizeof c->quality, 1, e) != 0) goto done;
    if (io_atomic_commit(&o.docs, e) || io_atomic_commit(&o.sig, e) || io_atomic_commit(&o.lines, e) ||
        (c->explain && io_atomic_commit(&o.dropped, e)))
        goto done;
    progress_show(&pg, rp_docs_out(o.rep, RP_QUALITY), 1);
    rc = 0;
done:
    for (int i = 0; i < nb; i++) item_clear(&batch[i]);
    free(batch);
    clean_abort(&o);
    mh_free(&m);
    li_free(li);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Stage 2: dedup

typedef struct part {
    char name[72];
    int shard, n_shards, rank;
} part_t;

static int cmp_part(const void *a, const void *b) {
    const part_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->shard - y->shard;
}

// The parts pl_clean left in out_dir/work (their .sig files), sorted by name and shard, each
// name's rank set; -1 when a name lacks some of its shards or there are none.
static int list_parts(const pl_config_t *c, part_t **parts, int *n_parts, int *n_names, err_t *e) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/work", c->out_dir);
    DIR *d = opendir(dir);
    if (!d) return err_set(e, "%s: cannot open it (%s); run `manabi data clean` first", dir, strerror(errno));
    part_t *p = NULL;
    int n = 0, cap = 0, rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        size_t len = strlen(de->d_name);
        part_t x = {0};
        int i, k, used = 0;
        // <name>.<5 digits>-of-<5 digits>.sig: the tail is 19 bytes
        if (len < 20 || strcmp(de->d_name + len - 4, ".sig") != 0 || len - 19 >= sizeof x.name) continue;
        const char *tail = de->d_name + len - 19;
        if (tail[0] != '.' || sscanf(tail, ".%5d-of-%5d.sig%n", &i, &k, &used) != 2 || used != 19) continue;
        memcpy(x.name, de->d_name, len - 19);
        x.shard = i, x.n_shards = k;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            part_t *q = realloc(p, (size_t)cap * sizeof *q);
            if (!q) {
                rc = oom(e);
                break;
            }
            p = q;
        }
        p[n++] = x;
    }
    closedir(d);
    if (rc == 0 && n == 0) rc = err_set(e, "%s: no parts (*.sig) to deduplicate; run `manabi data clean` first", dir);
    if (rc == 0) qsort(p, (size_t)n, sizeof *p, cmp_part);
    int names = 0;
    for (int a = 0; rc == 0 && a < n;) {
        int b = a;
        while (b < n && strcmp(p[b].name, p[a].name) == 0) b++;
        for (int j = a; rc == 0 && j < b; j++) {
            if (p[j].n_shards != p[a].n_shards)
                rc = err_set(e, "%s: parts of '%s' were cleaned with different shard counts (%d and %d); remove the stale "
                                "ones and rerun", dir, p[a].name, p[a].n_shards, p[j].n_shards);
            else if (p[j].shard != j - a)
                rc = err_set(e, "%s: part %s.%05d-of-%05d is missing; run `manabi data clean --name %s --shard %d/%d` "
                                "first", dir, p[a].name, j - a, p[a].n_shards, p[a].name, j - a, p[a].n_shards);
            p[j].rank = names;
        }
        if (rc == 0 && b - a != p[a].n_shards)
            rc = err_set(e, "%s: part %s.%05d-of-%05d is missing; run `manabi data clean --name %s --shard %d/%d` first",
                         dir, p[a].name, b - a, p[a].n_shards, p[a].name, b - a, p[a].n_shards);
        names++;
        a = b;
    }
    if (rc == 0 && names > MAX_NAMES) rc = err_set(e, "%s: %d part names, at most %d", dir, names, MAX_NAMES);
    if (rc != 0) {
        free(p);
        return -1;
    }
    *parts = p, *n_parts = n, *n_names = names;
    return 0;
}

static void part_file(char *buf, size_t cap, const pl_config_t *c, const part_t *p, const char *ext) {
    snprintf(buf, cap, "%s/work/%s.%05d-of-%05d%s", c->out_dir, p->name, p->shard, p->n_shards, ext);
}

// All the signatures: (N,) orders and hashes, (N, K) signatures.
typedef struct sigs {
    uint64_t *order, *hash, *sig;  // order (N,), hash (N, 2), sig (N, K)
    size_t n, cap;
    int k;
} sigs_t;

static void sigs_free(sigs_t *s) {
    free(s->order), free(s->hash), free(s->sig);
    memset(s, 0, sizeof *s);
}

static int sigs_load(sigs_t *s, const pl_config_t *c, const part_t *p, err_t *e) {
    char path[4200];
    part_file(path, sizeof path, c, p, ".sig");
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open it (%s)", path, strerror(errno));
    sig_header_t h;
    struct stat st;
    size_t rec = 24 + 8 * (size_t)s->k;
    int rc = -1;
    if (fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, SIG_MAGIC, 8) != 0 || fstat(fileno(f), &st) != 0) {
        err_set(e, "%s: not a manabi signature file; rerun `manabi data clean` for it", path);
    } else if ((int)h.bands != c->mh_bands || (int)h.rows != c->mh_rows || h.seed != c->mh_seed) {
        err_set(e, "%s: signatures made with %u bands x %u rows, seed %llu, but this run uses %d x %d, seed %llu; give "
                   "the same --bands/--rows/--seed as the clean stage", path, h.bands, h.rows,
                (unsigned long long)h.seed, c->mh_bands, c->mh_rows, (unsigned long long)c->mh_seed);
    } else if (((size_t)st.st_size - sizeof h) % rec != 0) {
        err_set(e, "%s: truncated (size %lld is not a whole number of records); rerun `manabi data clean` for it", path,
                (long long)st.st_size);
    } else {
        size_t n = ((size_t)st.st_size - sizeof h) / rec;
        if (s->n + n > s->cap) {
            size_t nc = s->cap ? s->cap : 1024;
            while (nc < s->n + n) nc *= 2;
            uint64_t *o = realloc(s->order, nc * 8), *hh = o ? realloc(s->hash, nc * 16) : NULL,
                     *sg = hh ? realloc(s->sig, nc * 8 * (size_t)s->k) : NULL;
            if (o) s->order = o;
            if (hh) s->hash = hh;
            if (!sg) {
                fclose(f);
                return err_set(e, "out of memory for %zu signatures (%zu bytes each)", s->n + n, rec);
            }
            s->sig = sg;
            s->cap = nc;
        }
        size_t i;
        for (i = 0; i < n; i++) {
            size_t j = s->n + i;
            uint64_t key;
            if (fread(&key, 8, 1, f) != 1 || fread(s->hash + 2 * j, 8, 2, f) != 2 ||
                fread(s->sig + j * (size_t)s->k, 8, (size_t)s->k, f) != (size_t)s->k)
                break;
            s->order[j] = key | ((uint64_t)p->rank << 56);
        }
        if (i < n) err_set(e, "%s: read error at record %zu", path, i);
        else s->n += n, rc = 0;
    }
    fclose(f);
    return rc;
}

// Lexicographic comparison of two records of 2 (cmp_u64x2) or 3 (cmp_u64x3) uint64.
static int cmp_u64xn(const uint64_t *a, const uint64_t *b, int n) {
    for (int i = 0; i < n; i++)
        if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
    return 0;
}
static int cmp_u64x2(const void *a, const void *b) { return cmp_u64xn(a, b, 2); }
static int cmp_u64x3(const void *a, const void *b) { return cmp_u64xn(a, b, 3); }

// Sorts the signatures by order (a part's records are in order, but shards of one name interleave).
static int sigs_sort(sigs_t *s, err_t *e) {
    size_t n = s->n, k = (size_t)s->k;
    size_t *idx = malloc(n * sizeof *idx);
    uint64_t *row = malloc(k * 8);
    uint8_t *done = calloc(n, 1);
    if (!idx || !row || !done) {
        free(idx), free(row), free(done);
        return oom(e);
    }
    // sort (order, index) pairs; orders are distinct
    const uint64_t *ord = s->order;
    uint64_t *pairs = malloc(n * 16);
    if (!pairs) {
        free(idx), free(row), free(done);
        return oom(e);
    }
    for (size_t i = 0; i < n; i++) pairs[2 * i] = ord[i], pairs[2 * i + 1] = i;
    qsort(pairs, n, 16, cmp_u64x2);
    for (size_t i = 0; i < n; i++) idx[i] = pairs[2 * i + 1];  // position i takes record idx[i]
    free(pairs);
    // apply the permutation in place, cycle by cycle
    for (size_t i = 0; i < n; i++) {
        if (done[i] || idx[i] == i) continue;
        uint64_t o = s->order[i], h0 = s->hash[2 * i], h1 = s->hash[2 * i + 1];
        memcpy(row, s->sig + i * k, k * 8);
        size_t j = i;
        for (;;) {
            size_t src = idx[j];
            done[j] = 1;
            if (src == i) {
                s->order[j] = o, s->hash[2 * j] = h0, s->hash[2 * j + 1] = h1;
                memcpy(s->sig + j * k, row, k * 8);
                break;
            }
            s->order[j] = s->order[src], s->hash[2 * j] = s->hash[2 * src], s->hash[2 * j + 1] = s->hash[2 * src + 1];
            memcpy(s->sig + j * k, s->sig + src * k, k * 8);
            j = src;
        }
    }
    free(idx), free(row), free(done);
    return 0;
}

// A duplicate: the document of `order` goes, because of the one of `rep`.
typedef struct dup {
    uint64_t order, rep;
    uint32_t reason;  // DUP_EXACT or DUP_NEAR
    uint32_t pad;
} dup_t;
enum { DUP_EXACT = 1, DUP_NEAR = 2 };
static const char DROPS_MAGIC[8] = {'M', 'N', 'B', 'D', 'U', 'P', 'S', '1'};

// Exact and near duplicates among s (sorted by order) into *out (sorted by order).
static int find_dups(const pl_config_t *c, sigs_t *s, dup_t **out, size_t *n_out, int64_t counts[2], err_t *e) {
    size_t n = s->n, k = (size_t)s->k, nd = 0;
    dup_t *d = malloc((n ? n : 1) * sizeof *d);
    uint32_t *rep = malloc((n ? n : 1) * sizeof *rep);   // exact representative (index), then near
    uint64_t *trip = c->exact ? malloc((n ? n : 1) * 24) : NULL;
    size_t *kept = malloc((n ? n : 1) * sizeof *kept);
    int rc = -1;
    if (!d || !rep || !kept || (c->exact && !trip)) {
        oom(e);
        goto done;
    }
    for (size_t i = 0; i < n; i++) rep[i] = (uint32_t)i;
    if (c->exact) {
        for (size_t i = 0; i < n; i++) trip[3 * i] = s->hash[2 * i], trip[3 * i + 1] = s->hash[2 * i + 1], trip[3 * i + 2] = i;
        qsort(trip, n, 24, cmp_u64x3);
        for (size_t a = 0, b; a < n; a = b) {
            for (b = a + 1; b < n && trip[3 * b] == trip[3 * a] && trip[3 * b + 1] == trip[3 * a + 1]; b++)
                rep[trip[3 * b + 2]] = (uint32_t)trip[3 * a + 2];
        }
    }
    // near duplicates among the exact representatives, compacted in order (index = order rank)
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (rep[i] == i) {
            if (m != i) memmove(s->sig + m * k, s->sig + i * k, k * 8);
            kept[m++] = i;
        }
    if (c->near && m > 1) {
        mh_t mh;
        uint32_t *nrep = malloc(m * sizeof *nrep);
        if (!nrep || mh_init(&mh, c->mh_bands, c->mh_rows, c->mh_seed, e) != 0) {
            free(nrep);
            if (!nrep) oom(e);
            goto done;
        }
        int r = mh_dedup(&mh, s->sig, m, c->mh_verify, nrep, e);
        mh_free(&mh);
        if (r != 0) {
            free(nrep);
            goto done;
        }
        for (size_t j = 0; j < m; j++)
            if (nrep[j] != j) rep[kept[j]] = (uint32_t)kept[nrep[j]] | 0x80000000u;  // high bit: near
        free(nrep);
    }
    counts[0] = counts[1] = 0;
    for (size_t i = 0; i < n; i++) {
        if ((rep[i] & 0x7FFFFFFFu) == i) continue;
        int near = (rep[i] & 0x80000000u) != 0;
        d[nd++] = (dup_t){.order = s->order[i], .rep = s->order[rep[i] & 0x7FFFFFFFu], .reason = near ? DUP_NEAR : DUP_EXACT};
        counts[near]++;
    }
    *out = d, *n_out = nd, d = NULL;
    rc = 0;
done:
    free(d), free(rep), free(trip), free(kept);
    return rc;
}

static int save_blob(const char *path, const char magic[8], const void *p, size_t size, uint64_t n, err_t *e) {
    io_atomic_t a = {0};
    int rc = -1;
    if (io_atomic_open(&a, path, e) == 0 && io_atomic_write(&a, magic, 8, e) == 0 && io_atomic_write(&a, &n, 8, e) == 0 &&
        io_atomic_write(&a, p, size * n, e) == 0 && io_atomic_commit(&a, e) == 0)
        rc = 0;
    io_atomic_abort(&a);
    return rc;
}

static int load_drops(const pl_config_t *c, dup_t **out, size_t *n_out, err_t *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/work/dedup.drops", c->out_dir);
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open it (%s); run `manabi data dedup` first", path, strerror(errno));
    char magic[8];
    uint64_t n = 0;
    dup_t *d = NULL;
    int rc = -1;
    if (fread(magic, 8, 1, f) != 1 || memcmp(magic, DROPS_MAGIC, 8) != 0 || fread(&n, 8, 1, f) != 1 ||
        n > SIZE_MAX / sizeof *d)
        err_set(e, "%s: not a manabi duplicate list; rerun `manabi data dedup`", path);
    else if (!(d = malloc((n ? n : 1) * sizeof *d)))
        oom(e);
    else if (fread(d, sizeof *d, n, f) != n)
        err_set(e, "%s: truncated; rerun `manabi data dedup`", path);
    else
        rc = 0;
    fclose(f);
    if (rc != 0) {
        free(d);
        return -1;
    }
    *out = d, *n_out = n;
    return 0;
}

// The ranks of the part names, as pl_dedup wrote them to work/dedup.json.
static int load_names(const pl_config_t *c, int *rank, err_t *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/work/dedup.json", c->out_dir);
    json_object *root = json_object_from_file(path), *names;
    if (!root) {
        const char *je = json_util_get_last_err();  // ends in a newline
        if (!je) je = "unknown error";
        return err_set(e, "%s: cannot read it (%.*s); run `manabi data dedup` first", path, (int)strcspn(je, "\n"), je);
    }
    *rank = -1;
    if (json_object_object_get_ex(root, "names", &names) && json_object_is_type(names, json_type_array))
        for (size_t i = 0; i < json_object_array_length(names); i++)
            if (strcmp(json_object_get_string(json_object_array_get_idx(names, i)), c->name) == 0) *rank = (int)i;
    json_object_put(root);
    if (*rank < 0)
        return err_set(e, "%s: part name '%s' was not deduplicated; run `manabi data dedup` after cleaning it", path, c->name);
    return 0;
}

static const dup_t *find_dup(const dup_t *d, size_t n, uint64_t order);

// Adds the line hashes of part p's documents that are not duplicates to the table t.
static int count_lines(const pl_config_t *c, const part_t *p, const dup_t *dups, size_t n_dups, dd_lines_t *t,
                       err_t *e) {
    char path[4200];
    part_file(path, sizeof path, c, p, ".lines");
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open it (%s); rerun `manabi data clean` for it", path, strerror(errno));
    char magic[8];
    uint64_t *hs = NULL, key;
    size_t cap = 0;
    uint32_t n;
    int rc = 0;
    if (fread(magic, 8, 1, f) != 1 || memcmp(magic, LINES_MAGIC, 8) != 0)
        rc = err_set(e, "%s: not a manabi line file; rerun `manabi data clean` for it", path);
    while (rc == 0 && fread(&key, 8, 1, f) == 1) {
        if (fread(&n, 4, 1, f) != 1) {
            rc = err_set(e, "%s: truncated; rerun `manabi data clean` for it", path);
            break;
        }
        if (n > cap) {
            uint64_t *q = realloc(hs, (size_t)n * 8);
            if (!q) {
                rc = oom(e);
                break;
            }
            hs = q, cap = n;
        }
        uint64_t order = key | ((uint64_t)p->rank << 56);
        if (n && fread(hs, 8, n, f) != n) rc = err_set(e, "%s: truncated; rerun `manabi data clean` for it", path);
        else if (!find_dup(dups, n_dups, order) && dd_lines_add(t, hs, n, order) != 0) rc = oom(e);
    }
    if (rc == 0 && ferror(f)) rc = err_set(e, "%s: read error", path);
    fclose(f);
    free(hs);
    return rc;
}

int pl_dedup(const pl_config_t *c, err_t *e) {
    if (check_config(c, e) != 0) return -1;
    part_t *parts = NULL;
    int n_parts, n_names, rc = -1;
    if (list_parts(c, &parts, &n_parts, &n_names, e) != 0) return -1;
    sigs_t s = {.k = c->mh_bands * c->mh_rows};
    dd_lines_t all;
    dd_lines_init(&all);
    dup_t *dups = NULL;
    size_t n_dups = 0;
    int64_t counts[2] = {0, 0};
    char path[4200];
    double t0 = timing_now();
    for (int i = 0; i < n_parts; i++)
        if (sigs_load(&s, c, &parts[i], e) != 0) goto done;
    if (sigs_sort(&s, e) != 0 || find_dups(c, &s, &dups, &n_dups, counts, e) != 0) goto done;
    size_t n_docs = s.n;
    sigs_free(&s);
    // boilerplate lines: in how many of the documents that stay each line occurs
    for (int i = 0; c->lines && i < n_parts; i++)
        if (count_lines(c, &parts[i], dups, n_dups, &all, e) != 0) goto done;
    size_t distinct = all.n, m = 0;
    for (size_t j = 0; j < all.cap; j++)
        if (all.e[j].docs && all.e[j].docs < (uint64_t)c->line_min_docs) all.e[j].docs = 0, m++;
    all.n -= m;
    dd_lines_sorted(&all);
    snprintf(path, sizeof path, "%s/work/dedup.lines", c->out_dir);
    if (dd_lines_save(&all, path, e) != 0) goto done;
    snprintf(path, sizeof path, "%s/work/dedup.drops", c->out_dir);
    if (save_blob(path, DROPS_MAGIC, dups, sizeof *dups, n_dups, e) != 0) goto done;
    // the summary finish and people read
    json_object *root = json_object_new_object(), *names = json_object_new_array();
    for (int i = 0; i < n_parts; i++)
        if (i == 0 || strcmp(parts[i].name, parts[i - 1].name) != 0)
            json_object_array_add(names, json_object_new_string(parts[i].name));
    json_object_object_add(root, "names", names);
    json_object_object_add(root, "documents", json_object_new_int64((int64_t)n_docs));
    json_object_object_add(root, "exact_duplicates", json_object_new_int64(counts[0]));
    json_object_object_add(root, "near_duplicates", json_object_new_int64(counts[1]));
    json_object_object_add(root, "distinct_lines", json_object_new_int64((int64_t)distinct));
    json_object_object_add(root, "boilerplate_lines", json_object_new_int64((int64_t)all.n));
    json_object_object_add(root, "bands", json_object_new_int(c->mh_bands));
    json_object_object_add(root, "rows", json_object_new_int(c->mh_rows));
    json_object_object_add(root, "verify", json_object_new_double(c->mh_verify));
    json_object_object_add(root, "seconds", json_object_new_double(timing_now() - t0));
    const char *js = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    io_atomic_t a = {0};
    snprintf(path, sizeof path, "%s/work/dedup.json", c->out_dir);
    int w = io_atomic_open(&a, path, e) || io_atomic_write(&a, js, strlen(js), e) || io_atomic_write(&a, "\n", 1, e) ||
            io_atomic_commit(&a, e);
    io_atomic_abort(&a);
    json_object_put(root);
    if (w) goto done;
    if (c->progress)
        fprintf(stderr, "dedup: %zu documents: %lld exact and %lld near duplicates, %zu boilerplate lines (%.1f s)\n",
                n_docs, (long long)counts[0], (long long)counts[1], all.n, timing_now() - t0);
    rc = 0;
done:
    sigs_free(&s);
    dd_lines_free(&all);
    free(dups);
    free(parts);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Stage 3: finish

static const dup_t *find_dup(const dup_t *d, size_t n, uint64_t order) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d[mid].order < order) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && d[lo].order == order ? &d[lo] : NULL;
}

// One record of a .docs file.  Returns 1, 0 at the end, -1 on a damaged file.
typedef struct doc_rec {
    uint64_t key;
    char lang[8];
    char *source, *text;
    size_t source_len, len, source_cap, cap;
} doc_rec_t;

static int read_field(FILE *f, char **buf, size_t *cap, size_t n) {
    if (n + 1 > *cap) {
        char *p = realloc(*buf, n + 1);
        if (!p) return -1;
        *buf = p, *cap = n + 1;
    }
    if (n && fread(*buf, 1, n, f) != n) return -1;
    (*buf)[n] = 0;
    return 0;
}

static int read_doc(FILE *f, doc_rec_t *r) {
    uint8_t ll;
    uint32_t sl;
    uint64_t tl;
    if (fread(&r->key, 8, 1, f) != 1) return feof(f) ? 0 : -1;
    if (fread(&ll, 1, 1, f) != 1 || ll >= sizeof r->lang || (ll && fread(r->lang, 1, ll, f) != ll)) return -1;
    r->lang[ll] = 0;
    if (fread(&sl, 4, 1, f) != 1 || read_field(f, &r->source, &r->source_cap, sl) != 0) return -1;
    r->source_len = sl;
    if (fread(&tl, 8, 1, f) != 1 || tl > (1ULL << 40) || read_field(f, &r->text, &r->cap, (size_t)tl) != 0) return -1;
    r->len = (size_t)tl;
    return 1;
}

// text without its boilerplate lines (those in `boiler` whose first document is not `order`)
// into out (room for len + 1 bytes); returns the new length and counts the lines removed.
static size_t strip_boilerplate(const pl_config_t *c, const dd_lines_t *boiler, uint64_t order, const char *text,
                                size_t len, char *out, size_t *removed) {
    size_t n = 0, i = 0;
    *removed = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len, a = i, b = end;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r')) a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
        size_t chars = 0;
        for (size_t j = a; j < b && chars < (size_t)c->line_min_chars; j++) chars += ((unsigned char)text[j] & 0xC0) != 0x80;
        const dd_line_t *x = chars >= (size_t)c->line_min_chars ? dd_lines_find(boiler, dd_line_hash(text + a, b - a)) : NULL;
        if (x && x->first != order) {
            (*removed)++;
        } else {
            // at most one blank line in a row, none at the start
            int blank = a == b;
            if (!(blank && (n == 0 || (n >= 2 && out[n - 1] == '\n' && out[n - 2] == '\n')))) {
                memcpy(out + n, text + i, end - i);
                n += end - i;
                out[n++] = '\n';
            }
        }
        i = end + 1;
    }
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ')) n--;
    out[n] = 0;
    return n;
}

static int write_clean(io_atomic_t *a, const doc_rec_t *r, const char *text, size_t len, err_t *e) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "text", json_object_new_string_len(text, (int)len));
    json_object_object_add(o, "source", json_object_new_string(r->source));
    json_object_object_add(o, "lang", json_object_new_string(r->lang));
    const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    int rc = io_atomic_write(a, js, strlen(js), e) != 0 || io_atomic_write(a, "\n", 1, e) != 0 ? -1 : 0;
    json_object_put(o);
    return rc;
}

// Copies the clean stage's dropped documents into the explain file.
static int copy_file(io_atomic_t *a, const char *path, err_t *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open it (%s); rerun `manabi data clean` with --explain", path, strerror(errno));
    char buf[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, f)) > 0) rc = io_atomic_write(a, buf, n, e);
    fclose(f);
    return rc;
}

static int load_quality(const char *path, qf_config_t *q, err_t *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open it (%s); rerun `manabi data clean` for this part", path, strerror(errno));
    char magic[8];
    uint64_t n = 0;
    int ok = fread(magic, 8, 1, f) == 1 && memcmp(magic, QUALITY_MAGIC, 8) == 0 && fread(&n, 8, 1, f) == 1 && n == 1 &&
             fread(q, sizeof *q, 1, f) == 1 && fgetc(f) == EOF;
    fclose(f);
    return ok ? 0 : err_set(e, "%s: not the quality settings of this manabi version; rerun `manabi data clean` for this "
                               "part", path);
}

int pl_finish(const pl_config_t *c, err_t *e) {
    if (check_config(c, e) != 0) return -1;
    int rank = -1, rc = -1;
    if (load_names(c, &rank, e) != 0) return -1;
    dup_t *dups = NULL;
    size_t n_dups = 0;
    dd_lines_t boiler;
    dd_lines_init(&boiler);
    char path[4200];
    snprintf(path, sizeof path, "%s/work/dedup.lines", c->out_dir);
    if (load_drops(c, &dups, &n_dups, e) != 0 || (c->lines && dd_lines_load(&boiler, path, e) != 0)) {
        free(dups);
        return -1;
    }
    qf_config_t quality;
    part_path(path, sizeof path, c, "work", ".quality");
    if (load_quality(path, &quality, e) != 0) {
        free(dups);
        dd_lines_free(&boiler);
        return -1;
    }
    io_atomic_t out = {0}, dropped = {0};
    doc_rec_t r = {0};
    char *buf = NULL;
    size_t buf_cap = 0;
    FILE *f = NULL;
    rp_t *rep = rp_new();
    if (!rep) {
        oom(e);
        goto done;
    }
    part_path(path, sizeof path, c, "work", ".docs");
    char magic[8];
    if (!(f = fopen(path, "rb"))) {
        err_set(e, "%s: cannot open it (%s); run `manabi data clean --name %s --shard %d/%d` first", path,
                strerror(errno), c->name, c->shard, c->n_shards);
        goto done;
    }
    if (fread(magic, 8, 1, f) != 1 || memcmp(magic, DOCS_MAGIC, 8) != 0) {
        err_set(e, "%s: not a manabi document file; rerun `manabi data clean` for it", path);
        goto done;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/clean", c->out_dir);
    if (io_mkdir_p(dir, e) != 0) goto done;
    part_path(path, sizeof path, c, "clean", ".jsonl");
    if (io_atomic_open(&out, path, e) != 0) goto done;
    if (c->explain) {
        snprintf(dir, sizeof dir, "%s/dropped", c->out_dir);
        part_path(path, sizeof path, c, "dropped", ".jsonl");
        if (io_mkdir_p(dir, e) || io_atomic_open(&dropped, path, e)) goto done;
        part_path(path, sizeof path, c, "work", ".dropped.jsonl");
        if (copy_file(&dropped, path, e) != 0) goto done;
    }
    int k;
    while ((k = read_doc(f, &r)) == 1) {
        uint64_t order = r.key | ((uint64_t)rank << 56);
        const dup_t *d = find_dup(dups, n_dups, order);
        rp_stage_t s = RP_EXACT_DEDUP;
        const char *reason = NULL;
        double value = NAN, limit = NAN;
        const char *text = r.text;
        size_t len = r.len;
        rp_stage_in(rep, RP_EXACT_DEDUP, len);
        if (d && d->reason == DUP_EXACT) {
            reason = "exact_duplicate";
        } else {
            rp_stage_out(rep, RP_EXACT_DEDUP, len);
            rp_stage_in(rep, s = RP_NEAR_DEDUP, len);
            if (d) {
                reason = "near_duplicate";
            } else {
                rp_stage_out(rep, RP_NEAR_DEDUP, len);
                rp_stage_in(rep, s = RP_LINE_DEDUP, len);
                size_t removed = 0;
                if (c->lines && boiler.n) {
                    if (len + 1 > buf_cap) {
                        char *p = realloc(buf, len + 1);
                        if (!p) {
                            oom(e);
                            goto done;
                        }
                        buf = p, buf_cap = len + 1;
                    }
                    size_t n2 = strip_boilerplate(c, &boiler, order, text, len, buf, &removed);
                    if (removed) {
                        if (rp_count(rep, "line_dedup.lines_removed", (int64_t)removed) ||
                            rp_count(rep, "line_dedup.bytes_removed", (int64_t)(len - n2)) ||
                            rp_count(rep, "line_dedup.docs_changed", 1)) {
                            oom(e);
                            goto done;
                        }
                        text = buf, len = n2;
                        qf_result_t v = check_quality(&quality, r.lang, text, len);
                        if (len == 0) reason = "empty";
                        else if (v.rule == QF_OUT_OF_MEMORY) {
                            oom(e);
                            goto done;
                        } else if (v.rule != QF_KEEP) {
                            reason = qf_rule_name(v.rule), value = v.value, limit = v.limit;
                        }
                    }
                }
            }
        }
        if (reason) {
            if (rp_drop(rep, s, reason, r.source, text, len, value, limit) != 0) {
                oom(e);
                goto done;
            }
            if (c->explain && write_dropped(&dropped, r.source, s, reason, value, limit, text, len, e) != 0) goto done;
            continue;
        }
        rp_stage_out(rep, RP_LINE_DEDUP, len);
        if (write_clean(&out, &r, text, len, e) != 0) goto done;
    }
    if (k < 0) {
        part_path(path, sizeof path, c, "work", ".docs");
        err_set(e, "%s: damaged or truncated; rerun `manabi data clean` for it", path);
        goto done;
    }
    part_path(path, sizeof path, c, "work", ".finish-report.json");
    if (rp_save(rep, path, e) != 0 || io_atomic_commit(&out, e) != 0 || (c->explain && io_atomic_commit(&dropped, e) != 0))
        goto done;
    rc = 0;
done:
    if (f) fclose(f);
    io_atomic_abort(&out);
    io_atomic_abort(&dropped);
    free(r.source), free(r.text), free(buf), free(dups);
    dd_lines_free(&boiler);
    rp_free(rep);
    return rc;
}

int pl_finish_all(const pl_config_t *c, const char *name, err_t *e) {
    part_t *parts;
    int n_parts, n_names, done = 0;
    char path[4200];
    snprintf(path, sizeof path, "%s/work/dedup.json", c->out_dir);
    if (!io_exists(path)) return err_set(e, "%s: missing; run `manabi data dedup` first", path);
    if (list_parts(c, &parts, &n_parts, &n_names, e) != 0) return -1;
    int rc = 0;
    for (int i = 0; rc == 0 && i < n_parts; i++) {
        if (name && strcmp(parts[i].name, name) != 0) continue;
        pl_config_t one = *c;
        one.name = parts[i].name, one.shard = parts[i].shard, one.n_shards = parts[i].n_shards;
        rc = pl_finish(&one, e);
        done++;
    }
    if (rc == 0 && done == 0) rc = err_set(e, "%s/work: no parts named '%s'", c->out_dir, name ? name : "");
    free(parts);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Report and the whole run

int pl_report(const pl_config_t *c, rp_t **out, err_t *e) {
    *out = NULL;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/work", c->out_dir);
    DIR *d = opendir(dir);
    if (!d) return err_set(e, "%s: cannot open it (%s); run `manabi data clean` first", dir, strerror(errno));
    strvec_t files = {0};
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n > 12 && strcmp(de->d_name + n - 12, "-report.json") == 0 && strvec_push(&files, de->d_name) != 0) rc = oom(e);
    }
    closedir(d);
    if (files.n) qsort(files.v, (size_t)files.n, sizeof *files.v, cmp_str);  // examples in part order
    rp_t *all = rc == 0 ? rp_new() : NULL;
    if (rc == 0 && !all) rc = oom(e);
    for (int i = 0; rc == 0 && i < files.n; i++) {
        char path[4400];
        rp_t *r;
        snprintf(path, sizeof path, "%s/%s", dir, files.v[i]);
        if ((rc = rp_load(&r, path, e)) == 0) {
            rc = rp_merge(all, r, e);
            rp_free(r);
        }
    }
    for (int i = 0; i < files.n; i++) free(files.v[i]);
    free(files.v);
    if (rc == 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/report.json", c->out_dir);
        rc = rp_save(all, path, e);
    }
    if (rc != 0) {
        rp_free(all);
        return -1;
    }
    *out = all;
    return 0;
}

int pl_run(const pl_config_t *c, const char *const *files, int n_files, rp_t **r, err_t *e) {
    pl_config_t one = *c;
    one.shard = 0, one.n_shards = 1;
    *r = NULL;
    if (pl_clean(&one, files, n_files, e) != 0 || pl_dedup(&one, e) != 0 || pl_finish(&one, e) != 0) return -1;
    return pl_report(&one, r, e);
}
