#include "finetune/evaluate.h"

#include <ctype.h>
#include <stdio.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "infer/generate.h"

void qa_normalize(char *s) {
    size_t w = 0;
    int space = 0;
    for (size_t r = 0; s[r]; r++) {
        unsigned char c = (unsigned char)s[r];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = w > 0;
            continue;
        }
        if (space) s[w++] = ' ', space = 0;
        s[w++] = (char)(c < 0x80 ? tolower(c) : c);
    }
    if (w > 0 && s[w - 1] == '.') w--;
    s[w] = 0;
}

// The references of one example: its last answer, then its line's "answers", normalised.
typedef struct refs {
    char **s;
    int n;
} refs_t;

static void refs_free(refs_t *r) {
    for (int i = 0; i < r->n; i++) free(r->s[i]);
    free(r->s);
    memset(r, 0, sizeof *r);
}

static int refs_add(refs_t *r, const char *s, size_t len) {
    char **q = realloc(r->s, (size_t)(r->n + 1) * sizeof *q);
    if (!q) return -1;
    r->s = q;
    if (!(r->s[r->n] = malloc(len + 1))) return -1;
    memcpy(r->s[r->n], s, len);
    r->s[r->n][len] = 0;
    qa_normalize(r->s[r->n++]);
    return 0;
}

// Line `line` (1-based) of text, as [*p, *p + *len); 0 when the text has fewer lines.
static int nth_line(const char *text, size_t n, size_t line, const char **p, size_t *len) {
    const char *at = text, *end = text + n;
    for (size_t l = 1; l < line; l++) {
        const char *nl = memchr(at, '\n', (size_t)(end - at));
        if (!nl) return 0;
        at = nl + 1;
    }
    const char *nl = memchr(at, '\n', (size_t)(end - at));
    *p = at, *len = (size_t)((nl ? nl : end) - at);
    return 1;
}

// Adds the strings of the "answers" array of a JSONL line, if it has one, and copies its
// "task" into task (48 bytes).
static int add_answers(refs_t *r, const char *line, size_t len, char *task) {
    json_tokener *t = json_tokener_new();
    if (!t) return -1;
    json_object *o = json_tokener_parse_ex(t, line, (int)len), *a;
    int rc = 0;
    json_object *tk;
    if (o && json_object_object_get_ex(o, "task", &tk) && json_object_is_type(tk, json_type_string))
        snprintf(task, 48, "%s", json_object_get_string(tk));
    if (o && json_object_object_get_ex(o, "answers", &a) && json_object_is_type(a, json_type_array))
        for (size_t i = 0; i < json_object_array_length(a) && rc == 0; i++) {
            json_object *s = json_object_array_get_idx(a, i);
            if (json_object_is_type(s, json_type_string))
                rc = refs_add(r, json_object_get_string(s), (size_t)json_object_get_string_len(s));
        }
    json_object_put(o);
    json_tokener_free(t);
    return rc;
}

// The i-th of n examples spread evenly over all `total` (every one when n == total).
static size_t pick(size_t i, size_t n, size_t total) { return n == total ? i : (size_t)((double)i * total / n); }

static int contains(const char *hay, const char *needle) { return *needle && strstr(hay, needle) != NULL; }

struct qa_key {
    refs_t *refs;       // (n) per example of the dataset
    char (*task)[48];   // (n)
    size_t n;
};

void qa_key_free(qa_key_t *k) {
    if (!k) return;
    for (size_t i = 0; k->refs && i < k->n; i++) refs_free(&k->refs[i]);
    free(k->refs), free(k->task), free(k);
}

qa_key_t *qa_key_new(const sft_data_t *ds, const tok_t *tok, err_t *e) {
    qa_key_t *k = calloc(1, sizeof *k);
    char **files = calloc((size_t)(ds->n_files > 0 ? ds->n_files : 1), sizeof *files);
    size_t *flen = calloc((size_t)(ds->n_files > 0 ? ds->n_files : 1), sizeof *flen);
    int ok = k && files && flen, asst = tok_special(tok, TOK_ASSISTANT), end = tok_special(tok, TOK_END);
    if (ok) {
        k->n = ds->n_ex;
        k->refs = calloc(k->n ? k->n : 1, sizeof *k->refs), k->task = calloc(k->n ? k->n : 1, sizeof *k->task);
        ok = k->refs && k->task;
    }
    if (!ok) err_set(e, "out of memory");
    for (int f = 0; ok && f < ds->n_files; f++)  // for the "answers" of each line
        ok = io_read_file(ds->files[f], &files[f], &flen[f], e) == 0;
    for (size_t i = 0; ok && i < ds->n_ex; i++) {
        const sft_example_t *x = &ds->ex[i];
        const int32_t *ids = ds->ids + x->off;
        int t = x->len - 1;
        while (t >= 0 && ids[t] != asst) t--;
        if (t < 0) {
            err_set(e, "%s:%zu: no answer to compare with", ds->files[x->file], x->line);
            ok = 0;
            break;
        }
        char buf[4096];
        size_t len = 0;
        for (t++; t < x->len && ids[t] != end; t++) {
            size_t nbytes;
            const char *bytes = tok_token_bytes(tok, ids[t], &nbytes);
            if (bytes && len + nbytes < sizeof buf) memcpy(buf + len, bytes, nbytes), len += nbytes;
        }
        const char *line;
        size_t line_len;
        if (refs_add(&k->refs[i], buf, len) != 0 ||
            (nth_line(files[x->file], flen[x->file], x->line, &line, &line_len) &&
             add_answers(&k->refs[i], line, line_len, k->task[i]) != 0)) {
            err_set(e, "out of memory");
            ok = 0;
        }
    }
    for (int f = 0; files && f < ds->n_files; f++) free(files[f]);
    free(files), free(flen);
    if (!ok) {
        qa_key_free(k);
        return NULL;
    }
    return k;
}

void qa_key_match(const qa_key_t *k, size_t i, const char *answer, int *exact, int *contained) {
    size_t n = strlen(answer);
    char small[512], *a = n < sizeof small ? small : malloc(n + 1);
    *exact = *contained = 0;
    if (!a) return;
    memcpy(a, answer, n + 1);
    qa_normalize(a);
    for (int j = 0; j < k->refs[i].n; j++) {
        *exact |= strcmp(a, k->refs[i].s[j]) == 0;
        *contained |= contains(a, k->refs[i].s[j]);
    }
    if (a != small) free(a);
}

const char *qa_key_reference(const qa_key_t *k, size_t i) { return k->refs[i].s[0]; }
const char *qa_key_task(const qa_key_t *k, size_t i) { return k->task[i]; }

int qa_eval(const gpt_t *m, const tok_t *tok, const sft_data_t *ds, const qa_opts_t *o, qa_result_t *r,
            qa_example_fn fn, void *ctx, err_t *e) {
    memset(r, 0, sizeof *r);
    size_t n = o->limit && o->limit < ds->n_ex ? o->limit : ds->n_ex;
    int B = o->batch > 0 ? o->batch : 1, asst = tok_special(tok, TOK_ASSISTANT), end = tok_special(tok, TOK_END);
    const int32_t **prompts = malloc((size_t)B * sizeof *prompts);
    int *lens = malloc((size_t)B * sizeof *lens);
    size_t *which = malloc((size_t)B * sizeof *which);
    gen_output_t *out = calloc((size_t)B, sizeof *out);
    qa_key_t *key = NULL;
    gen_t *g = NULL;
    int rc = -1;
    if (!prompts || !lens || !which || !out) {
        err_set(e, "out of memory");
        goto done;
    }
    if (!(key = qa_key_new(ds, tok, e)) || !(g = gen_new(m, tok, B, e))) goto done;
    gen_config_t gc;
    gen_config_default(&gc);
    gc.sample.temperature = 0;
    gc.max_new = o->max_new;
    int32_t stops[] = {end, tok_special(tok, TOK_EOT), tok_special(tok, TOK_USER), tok_special(tok, TOK_SYSTEM), asst};
    gc.stop_tokens = stops, gc.n_stop_tokens = 5;
    rng_t rng;
    rng_seed(&rng, 1);
    for (size_t first = 0; first < n; first += (size_t)B) {
        int nb = (int)(n - first < (size_t)B ? n - first : (size_t)B);
        for (int b = 0; b < nb; b++) {
            const sft_example_t *x = &ds->ex[which[b] = pick(first + b, n, ds->n_ex)];
            const int32_t *ids = ds->ids + x->off;
            int k = x->len - 1;
            while (k >= 0 && ids[k] != asst) k--;
            prompts[b] = ids, lens[b] = k + 1;  // qa_key_new checked that there is one
        }
        if (gen_run(g, &gc, prompts, lens, nb, 1, &rng, NULL, NULL, out, e) != 0) goto done;
        for (int b = 0; b < nb; b++) {
            char *ans = out[b].text;
            qa_normalize(ans);
            int ex, co;
            qa_key_match(key, which[b], ans, &ex, &co);
            r->n++, r->exact += ex, r->contained += co;
            const char *task = qa_key_task(key, which[b]);
            int t = 0;
            while (t < r->n_tasks && strcmp(r->task[t].name, task) != 0) t++;
            if (t == r->n_tasks) {
                if (r->n_tasks < QA_MAX_TASKS) snprintf(r->task[r->n_tasks++].name, sizeof r->task[0].name, "%s", task);
                else t = QA_MAX_TASKS - 1;
            }
            r->task[t].n++, r->task[t].exact += ex, r->task[t].contained += co;
            if (fn) fn(which[b], ans, qa_key_reference(key, which[b]), ex, co, ctx);
        }
        gen_output_free(out, nb);
    }
    rc = 0;
done:
    free(prompts), free(lens), free(which), free(out);
    qa_key_free(key);
    gen_free(g);
    return rc;
}
