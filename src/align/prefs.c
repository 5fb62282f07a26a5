#include "align/prefs.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "tokenizer/chat.h"

void pref_init(pref_data_t *d) { memset(d, 0, sizeof *d); }

void pref_free(pref_data_t *d) {
    if (!d) return;
    free(d->ids);
    free(d->p);
    memset(d, 0, sizeof *d);
}

const char *pref_skip_name(pref_skip_t k) {
    static const char *const names[] = {"bad", "empty", "identical", "too_long"};
    return k >= 0 && k < PREF_NSKIP ? names[k] : "?";
}

void pref_row(const pref_data_t *d, size_t i, int chosen, int32_t *ids, int *n, int *start) {
    const pref_pair_t *p = &d->p[i];
    const int32_t *base = d->ids + p->off;
    memcpy(ids, base, (size_t)p->n_prompt * sizeof(int32_t));
    const int32_t *ans = base + p->n_prompt + (chosen ? 0 : p->n_chosen);
    int na = chosen ? p->n_chosen : p->n_rejected;
    memcpy(ids + p->n_prompt, ans, (size_t)na * sizeof(int32_t));
    *n = p->n_prompt + na, *start = p->n_prompt;
}

// A skipped line: counted, noted, or with strict an error.  Returns 1 (skip) or -1 (error).
static int skip(pref_data_t *d, const char *path, size_t line, pref_skip_t why, int strict, err_t *e,
                const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (strict) return err_set(e, "%s:%zu: %s", path, line, msg);
    d->skipped[why]++;
    if (d->n_notes < 4) snprintf(d->notes[d->n_notes++], sizeof d->notes[0], "%s:%zu: %s", path, line, msg);
    return 1;
}

static const char *str_field(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                              : NULL;
}

// The prompt of a line as a conversation: a string (one user message) or an array of messages.
static int prompt_chat(json_object *o, chat_t *c, const char **why) {
    json_object *p;
    if (!json_object_object_get_ex(o, "prompt", &p) && !json_object_object_get_ex(o, "messages", &p))
        return *why = "no \"prompt\"", -1;
    err_t e = {0};
    if (json_object_is_type(p, json_type_string))
        return chat_add(c, CHAT_USER, json_object_get_string(p), (size_t)json_object_get_string_len(p), &e);
    if (!json_object_is_type(p, json_type_array)) return *why = "\"prompt\" is neither a string nor a conversation", -1;
    for (size_t i = 0; i < json_object_array_length(p); i++) {
        json_object *m = json_object_array_get_idx(p, i);
        const char *role = str_field(m, "role"), *content = str_field(m, "content");
        chat_role_t r;
        if (!role || !content || chat_role_parse(role, &r, &e) != 0)
            return *why = "a prompt message without a known role or a content string", -1;
        if (chat_add(c, r, content, strlen(content), &e) != 0) return *why = "out of memory", -1;
    }
    return c->n ? 0 : (*why = "the prompt is empty", -1);
}

static int grow(pref_data_t *d, size_t more) {
    if (d->n_ids + more > d->cap_ids) {
        size_t c = d->cap_ids ? d->cap_ids : 1 << 16;
        while (c < d->n_ids + more) c *= 2;
        int32_t *q = realloc(d->ids, c * sizeof *q);
        if (!q) return -1;
        d->ids = q, d->cap_ids = c;
    }
    if (d->n == d->cap) {
        size_t c = d->cap ? 2 * d->cap : 256;
        pref_pair_t *q = realloc(d->p, c * sizeof *q);
        if (!q) return -1;
        d->p = q, d->cap = c;
    }
    return 0;
}

// Appends x to a growing id array.
static int push(int32_t **buf, size_t *n, size_t *cap, int32_t x) {
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        int32_t *q = realloc(*buf, c * sizeof *q);
        if (!q) return -1;
        *buf = q, *cap = c;
    }
    (*buf)[(*n)++] = x;
    return 0;
}

int pref_load(pref_data_t *d, const tok_t *t, const char *path, int max_len, int strict, err_t *e) {
    if (chat_check_tokenizer(t, e) != 0) return -1;
    char *text;
    size_t len;
    if (io_read_file(path, &text, &len, e) != 0) return -1;
    int32_t end = tok_special(t, TOK_END), *buf = NULL;
    size_t bn = 0, bcap = 0;
    int rc = 0;
    size_t line = 0;
    for (char *s = text, *nl; rc >= 0 && s < text + len; s = nl + 1) {
        nl = memchr(s, '\n', (size_t)(text + len - s));
        if (!nl) nl = text + len;
        line++;
        size_t n = (size_t)(nl - s);
        while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ')) n--;
        if (n == 0) continue;
        d->lines++;
        json_tokener *tk = json_tokener_new();
        json_object *o = tk ? json_tokener_parse_ex(tk, s, (int)n) : NULL;
        json_tokener_free(tk);
        chat_t c;
        chat_init(&c);
        const char *why = NULL, *ch = NULL, *rj = NULL;
        if (!o || !json_object_is_type(o, json_type_object)) why = "not a JSON object";
        else if (prompt_chat(o, &c, &why) != 0) {
        } else if (!(ch = str_field(o, "chosen")) || !(rj = str_field(o, "rejected")))
            why = "\"chosen\" and \"rejected\" must be strings";
        if (why) rc = skip(d, path, line, PREF_SKIP_BAD, strict, e, "%s", why);
        else if (!*ch || !*rj) rc = skip(d, path, line, PREF_SKIP_EMPTY, strict, e, "an empty answer");
        else if (strcmp(ch, rj) == 0)
            rc = skip(d, path, line, PREF_SKIP_IDENTICAL, strict, e, "the chosen and the rejected answer are the same");
        else {
            bn = 0;
            size_t np = 0, nc = 0;
            int ok = chat_encode(t, &c, 1, &buf, NULL, &bn, &bcap, e) == 0;
            np = bn;
            ok = ok && tok_encode(t, ch, strlen(ch), 0, &buf, &bn, &bcap, e) == 0 && push(&buf, &bn, &bcap, end) == 0;
            nc = bn - np;
            ok = ok && tok_encode(t, rj, strlen(rj), 0, &buf, &bn, &bcap, e) == 0 && push(&buf, &bn, &bcap, end) == 0;
            if (!ok) {
                rc = err_set(e, "%s:%zu: out of memory", path, line);
            } else {
                size_t nr = bn - np - nc, longest = np + (nc > nr ? nc : nr);
                if ((int64_t)longest > max_len)
                    rc = skip(d, path, line, PREF_SKIP_LONG, strict, e, "%zu tokens, more than the %d of the context",
                              longest, max_len);
                else if (grow(d, bn) != 0)
                    rc = err_set(e, "out of memory");
                else {
                    memcpy(d->ids + d->n_ids, buf, bn * sizeof(int32_t));
                    d->p[d->n++] = (pref_pair_t){.off = d->n_ids, .n_prompt = (int32_t)np, .n_chosen = (int32_t)nc,
                                                 .n_rejected = (int32_t)nr, .line = line};
                    d->n_ids += bn;
                }
            }
        }
        chat_free(&c);
        json_object_put(o);
    }
    free(buf);
    free(text);
    return rc < 0 ? -1 : 0;
}

void pref_rows_free(pref_rows_t *r) {
    free(r->tokens), free(r->targets), free(r->weights), free(r->row), free(r->last);
    memset(r, 0, sizeof *r);
}

int pref_rows_init(pref_rows_t *r, int pairs, int T, err_t *e) {
    memset(r, 0, sizeof *r);
    size_t n = (size_t)2 * pairs * T;
    r->cap_pairs = pairs, r->cap_T = T;
    r->tokens = malloc(n * sizeof(int32_t)), r->targets = malloc(n * sizeof(int32_t));
    r->weights = malloc(n * sizeof(float)), r->row = malloc((size_t)T * sizeof(int32_t));
    r->last = malloc((size_t)2 * pairs * sizeof(int));
    if (!r->tokens || !r->targets || !r->weights || !r->row || !r->last) {
        pref_rows_free(r);
        return err_set(e, "out of memory for %d pairs of %d tokens", pairs, T);
    }
    return 0;
}

int pref_longest(const pref_data_t *d, size_t first, size_t count) {
    int T = 2;
    for (size_t i = first; i < first + count; i++) {
        const pref_pair_t *p = &d->p[i];
        int n = p->n_prompt + (p->n_chosen > p->n_rejected ? p->n_chosen : p->n_rejected);
        T = n > T ? n : T;
    }
    return T;
}

void pref_rows_fill(pref_rows_t *r, const pref_data_t *d, const size_t *idx, int count) {
    int T = 2;
    for (int i = 0; i < count; i++) {
        int t = pref_longest(d, idx[i], 1);
        T = t > T ? t : T;
    }
    r->B = 2 * count, r->T = T;
    for (int row = 0; row < r->B; row++) {
        int n, start;
        pref_row(d, idx[row / 2], row % 2 == 0, r->row, &n, &start);
        int32_t *tk = r->tokens + (size_t)row * T, *tg = r->targets + (size_t)row * T;
        float *w = r->weights + (size_t)row * T;
        for (int t = 0; t < T; t++) {
            tk[t] = t < n ? r->row[t] : r->row[0];  // padding: any valid id
            int trained = t >= start - 1 && t < n - 1;  // predicting the answer's tokens
            tg[t] = trained ? r->row[t + 1] : 0;
            w[t] = trained ? 1.0f : 0.0f;
        }
        r->last[row] = n - 1;
    }
}
