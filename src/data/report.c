#include "data/report.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"

typedef struct rp_example {
    char *source, *text;
    double value, limit;
} rp_example_t;

typedef struct rp_reason {
    char *name;
    int64_t docs, bytes;
    int n_examples;
    rp_example_t ex[RP_EXAMPLES];
} rp_reason_t;

typedef struct rp_stage_counts {
    int64_t docs_in, bytes_in, docs_out, bytes_out;
    rp_reason_t *reasons;  // in order of first appearance
    int n_reasons, cap_reasons;
} rp_stage_counts_t;

typedef struct rp_counter_entry {
    char *name;
    int64_t n;
} rp_counter_entry_t;

struct rp {
    rp_stage_counts_t st[RP_NUM_STAGES];
    rp_counter_entry_t *counters;  // in order of first appearance
    int n_counters, cap_counters;
};

const char *rp_stage_name(rp_stage_t s) {
#define RP_NAME_(e, n) n,
    static const char *const names[] = {RP_STAGES(RP_NAME_)};
#undef RP_NAME_
    return (int)s >= 0 && s < RP_NUM_STAGES ? names[s] : "unknown";
}

rp_t *rp_new(void) { return calloc(1, sizeof(rp_t)); }

void rp_free(rp_t *r) {
    if (!r) return;
    for (int s = 0; s < RP_NUM_STAGES; s++) {
        for (int i = 0; i < r->st[s].n_reasons; i++) {
            rp_reason_t *x = &r->st[s].reasons[i];
            for (int k = 0; k < x->n_examples; k++) free(x->ex[k].source), free(x->ex[k].text);
            free(x->name);
        }
        free(r->st[s].reasons);
    }
    for (int i = 0; i < r->n_counters; i++) free(r->counters[i].name);
    free(r->counters);
    free(r);
}

void rp_stage_in(rp_t *r, rp_stage_t s, size_t len) {
    r->st[s].docs_in++;
    r->st[s].bytes_in += (int64_t)len;
}

void rp_stage_out(rp_t *r, rp_stage_t s, size_t len) {
    r->st[s].docs_out++;
    r->st[s].bytes_out += (int64_t)len;
}

static rp_reason_t *find_reason(rp_stage_counts_t *st, const char *name, int create) {
    for (int i = 0; i < st->n_reasons; i++)
        if (strcmp(st->reasons[i].name, name) == 0) return &st->reasons[i];
    if (!create) return NULL;
    if (st->n_reasons == st->cap_reasons) {
        int nc = st->cap_reasons ? 2 * st->cap_reasons : 8;
        rp_reason_t *p = realloc(st->reasons, (size_t)nc * sizeof *p);
        if (!p) return NULL;
        st->reasons = p;
        st->cap_reasons = nc;
    }
    rp_reason_t *x = &st->reasons[st->n_reasons];
    memset(x, 0, sizeof *x);
    if (!(x->name = strdup(name))) return NULL;
    st->n_reasons++;
    return x;
}

// Length of the longest prefix of text no longer than max that ends at a UTF-8 character boundary.
static size_t utf8_prefix(const char *text, size_t len, size_t max) {
    if (len <= max) return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
    return n;
}

static int add_example(rp_reason_t *x, const char *source, const char *text, size_t len, double value, double limit) {
    if (x->n_examples >= RP_EXAMPLES) return 0;
    rp_example_t *ex = &x->ex[x->n_examples];
    size_t n = text ? utf8_prefix(text, len, RP_SNIPPET) : 0;
    ex->text = malloc(n + 1);
    ex->source = strdup(source ? source : "");
    if (!ex->text || !ex->source) {
        free(ex->text), free(ex->source);
        return -1;
    }
    if (n) memcpy(ex->text, text, n);
    ex->text[n] = 0;
    ex->value = value;
    ex->limit = limit;
    x->n_examples++;
    return 0;
}

int rp_drop(rp_t *r, rp_stage_t s, const char *reason, const char *source, const char *text, size_t len,
            double value, double limit) {
    rp_reason_t *x = find_reason(&r->st[s], reason, 1);
    if (!x) return -1;
    x->docs++;
    x->bytes += (int64_t)len;
    return add_example(x, source, text, len, value, limit);
}

int rp_add_drops(rp_t *r, rp_stage_t s, const char *reason, int64_t n, int64_t bytes) {
    if (n <= 0) return 0;
    rp_reason_t *x = find_reason(&r->st[s], reason, 1);
    if (!x) return -1;
    x->docs += n;
    x->bytes += bytes;
    r->st[s].docs_in += n;
    r->st[s].bytes_in += bytes;
    return 0;
}

static rp_counter_entry_t *find_counter(rp_t *r, const char *name, int create) {
    for (int i = 0; i < r->n_counters; i++)
        if (strcmp(r->counters[i].name, name) == 0) return &r->counters[i];
    if (!create) return NULL;
    if (r->n_counters == r->cap_counters) {
        int nc = r->cap_counters ? 2 * r->cap_counters : 16;
        rp_counter_entry_t *p = realloc(r->counters, (size_t)nc * sizeof *p);
        if (!p) return NULL;
        r->counters = p;
        r->cap_counters = nc;
    }
    rp_counter_entry_t *c = &r->counters[r->n_counters];
    if (!(c->name = strdup(name))) return NULL;
    c->n = 0;
    r->n_counters++;
    return c;
}

int rp_count(rp_t *r, const char *name, int64_t n) {
    rp_counter_entry_t *c = find_counter(r, name, 1);
    if (!c) return -1;
    c->n += n;
    return 0;
}

int64_t rp_counter(const rp_t *r, const char *name) {
    rp_counter_entry_t *c = find_counter((rp_t *)r, name, 0);
    return c ? c->n : 0;
}

int64_t rp_docs_out(const rp_t *r, rp_stage_t s) { return r->st[s].docs_out; }

int64_t rp_dropped(const rp_t *r, rp_stage_t s, const char *reason) {
    rp_reason_t *x = find_reason((rp_stage_counts_t *)&r->st[s], reason, 0);
    return x ? x->docs : 0;
}

int rp_merge(rp_t *dst, const rp_t *src, err_t *e) {
    for (int s = 0; s < RP_NUM_STAGES; s++) {
        const rp_stage_counts_t *a = &src->st[s];
        rp_stage_counts_t *b = &dst->st[s];
        b->docs_in += a->docs_in, b->bytes_in += a->bytes_in;
        b->docs_out += a->docs_out, b->bytes_out += a->bytes_out;
        for (int i = 0; i < a->n_reasons; i++) {
            const rp_reason_t *x = &a->reasons[i];
            rp_reason_t *y = find_reason(b, x->name, 1);
            if (!y) return err_set(e, "out of memory merging reports");
            y->docs += x->docs, y->bytes += x->bytes;
            for (int k = 0; k < x->n_examples; k++)
                if (add_example(y, x->ex[k].source, x->ex[k].text, strlen(x->ex[k].text), x->ex[k].value,
                                x->ex[k].limit) != 0)
                    return err_set(e, "out of memory merging reports");
        }
    }
    for (int i = 0; i < src->n_counters; i++)
        if (rp_count(dst, src->counters[i].name, src->counters[i].n) != 0)
            return err_set(e, "out of memory merging reports");
    return 0;
}

// ---------------------------------------------------------------------------------------------
// JSON

static json_object *num_or_null(double v) { return isfinite(v) ? json_object_new_double(v) : NULL; }

int rp_save(const rp_t *r, const char *path, err_t *e) {
    json_object *root = json_object_new_object(), *stages = json_object_new_array(),
                *counters = json_object_new_object();
    for (int s = 0; s < RP_NUM_STAGES; s++) {
        const rp_stage_counts_t *st = &r->st[s];
        json_object *o = json_object_new_object(), *drops = json_object_new_array();
        json_object_object_add(o, "stage", json_object_new_string(rp_stage_name((rp_stage_t)s)));
        json_object_object_add(o, "docs_in", json_object_new_int64(st->docs_in));
        json_object_object_add(o, "bytes_in", json_object_new_int64(st->bytes_in));
        json_object_object_add(o, "docs_out", json_object_new_int64(st->docs_out));
        json_object_object_add(o, "bytes_out", json_object_new_int64(st->bytes_out));
        for (int i = 0; i < st->n_reasons; i++) {
            const rp_reason_t *x = &st->reasons[i];
            json_object *d = json_object_new_object(), *exs = json_object_new_array();
            json_object_object_add(d, "reason", json_object_new_string(x->name));
            json_object_object_add(d, "docs", json_object_new_int64(x->docs));
            json_object_object_add(d, "bytes", json_object_new_int64(x->bytes));
            for (int k = 0; k < x->n_examples; k++) {
                json_object *ex = json_object_new_object();
                json_object_object_add(ex, "source", json_object_new_string(x->ex[k].source));
                json_object_object_add(ex, "text", json_object_new_string(x->ex[k].text));
                json_object_object_add(ex, "value", num_or_null(x->ex[k].value));
                json_object_object_add(ex, "limit", num_or_null(x->ex[k].limit));
                json_object_array_add(exs, ex);
            }
            json_object_object_add(d, "examples", exs);
            json_object_array_add(drops, d);
        }
        json_object_object_add(o, "dropped", drops);
        json_object_array_add(stages, o);
    }
    for (int i = 0; i < r->n_counters; i++)
        json_object_object_add(counters, r->counters[i].name, json_object_new_int64(r->counters[i].n));
    json_object_object_add(root, "stages", stages);
    json_object_object_add(root, "counters", counters);
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    io_atomic_t a = {0};
    int rc = -1;
    if (io_atomic_open(&a, path, e) == 0 && io_atomic_write(&a, s, strlen(s), e) == 0 &&
        io_atomic_write(&a, "\n", 1, e) == 0 && io_atomic_commit(&a, e) == 0)
        rc = 0;
    io_atomic_abort(&a);
    json_object_put(root);
    return rc;
}

static int get_i64(json_object *o, const char *key, int64_t *v) {
    json_object *x;
    if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_int)) return -1;
    *v = json_object_get_int64(x);
    return 0;
}

static const char *get_str(json_object *o, const char *key) {
    json_object *x;
    if (!json_object_object_get_ex(o, key, &x) || !json_object_is_type(x, json_type_string)) return NULL;
    return json_object_get_string(x);
}

static double get_num(json_object *o, const char *key) {
    json_object *x;
    if (!json_object_object_get_ex(o, key, &x) || !x) return NAN;
    return json_object_get_double(x);
}

static int load_stage(rp_t *r, json_object *o) {
    const char *name = get_str(o, "stage");
    int s = 0;
    while (s < RP_NUM_STAGES && (!name || strcmp(name, rp_stage_name((rp_stage_t)s)) != 0)) s++;
    if (s == RP_NUM_STAGES) return -1;
    rp_stage_counts_t *st = &r->st[s];
    json_object *drops;
    if (get_i64(o, "docs_in", &st->docs_in) || get_i64(o, "bytes_in", &st->bytes_in) ||
        get_i64(o, "docs_out", &st->docs_out) || get_i64(o, "bytes_out", &st->bytes_out) ||
        !json_object_object_get_ex(o, "dropped", &drops) || !json_object_is_type(drops, json_type_array))
        return -1;
    for (size_t i = 0; i < json_object_array_length(drops); i++) {
        json_object *d = json_object_array_get_idx(drops, i), *exs;
        const char *reason = get_str(d, "reason");
        rp_reason_t *x = reason ? find_reason(st, reason, 1) : NULL;
        if (!x || get_i64(d, "docs", &x->docs) || get_i64(d, "bytes", &x->bytes) ||
            !json_object_object_get_ex(d, "examples", &exs) || !json_object_is_type(exs, json_type_array))
            return -1;
        for (size_t k = 0; k < json_object_array_length(exs); k++) {
            json_object *ex = json_object_array_get_idx(exs, k);
            const char *text = get_str(ex, "text");
            if (!text || add_example(x, get_str(ex, "source"), text, strlen(text), get_num(ex, "value"),
                                     get_num(ex, "limit")) != 0)
                return -1;
        }
    }
    return 0;
}

int rp_load(rp_t **out, const char *path, err_t *e) {
    *out = NULL;
    json_object *root = json_object_from_file(path), *stages, *counters;
    if (!root) {
        const char *je = json_util_get_last_err();  // ends in a newline
        if (!je) je = "unknown error";
        return err_set(e, "%s: cannot read it as JSON (%.*s)", path, (int)strcspn(je, "\n"), je);
    }
    rp_t *r = rp_new();
    int ok = r && json_object_object_get_ex(root, "stages", &stages) && json_object_is_type(stages, json_type_array) &&
             json_object_object_get_ex(root, "counters", &counters) && json_object_is_type(counters, json_type_object);
    for (size_t i = 0; ok && i < json_object_array_length(stages); i++)
        ok = load_stage(r, json_object_array_get_idx(stages, i)) == 0;
    if (ok) {
        json_object_object_foreach(counters, key, val) {
            if (!json_object_is_type(val, json_type_int) || rp_count(r, key, json_object_get_int64(val)) != 0) ok = 0;
        }
    }
    json_object_put(root);
    if (!ok) {
        rp_free(r);
        return err_set(e, "%s: not a manabi data report (missing or mistyped stages/counters); rerun the stage that "
                          "wrote it", path);
    }
    *out = r;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Text

static double pct(int64_t a, int64_t b) { return b > 0 ? 100.0 * (double)a / (double)b : 0.0; }

// One line of an example: newlines shown as "⏎", at most 100 bytes.
static void print_snippet(FILE *f, const char *text) {
    size_t n = utf8_prefix(text, strlen(text), 100);
    for (size_t i = 0; i < n; i++) {
        if (text[i] == '\n') fputs(" ⏎ ", f);
        else if (text[i] == '\t') fputc(' ', f);
        else fputc(text[i], f);
    }
}

void rp_print(const rp_t *r, FILE *f) {
    fprintf(f, "%-12s %10s %12s %10s %12s %7s\n", "stage", "docs in", "MB in", "docs out", "MB out", "kept");
    for (int s = 0; s < RP_NUM_STAGES; s++) {
        const rp_stage_counts_t *st = &r->st[s];
        if (st->docs_in == 0 && st->docs_out == 0 && st->n_reasons == 0) continue;
        fprintf(f, "%-12s %10lld %12.3f %10lld %12.3f %6.1f%%\n", rp_stage_name((rp_stage_t)s),
                (long long)st->docs_in, st->bytes_in / 1e6, (long long)st->docs_out, st->bytes_out / 1e6,
                pct(st->bytes_out, st->bytes_in));
        for (int i = 0; i < st->n_reasons; i++) {
            const rp_reason_t *x = &st->reasons[i];
            fprintf(f, "  - %-36s %8lld docs %10.3f MB", x->name, (long long)x->docs, x->bytes / 1e6);
            if (x->n_examples) {
                const rp_example_t *ex = &x->ex[0];
                fprintf(f, "   e.g. %s", ex->source);
                if (isfinite(ex->value)) fprintf(f, " (%.4g vs limit %.4g)", ex->value, ex->limit);
                fputs(": \"", f);
                print_snippet(f, ex->text);
                fputc('"', f);
            }
            fputc('\n', f);
        }
    }
    if (r->n_counters) {
        fputs("counters:", f);
        for (int i = 0; i < r->n_counters; i++)
            fprintf(f, "%s %s=%lld", i % 4 ? "" : "\n ", r->counters[i].name, (long long)r->counters[i].n);
        fputc('\n', f);
    }
}
