// sftdata: see sftdata.h.  A line goes: JSON object -> format by its keys -> chat_t (checked)
// -> chat_encode straight into the dataset's arena -> mask, length policy -> an example.
#include "finetune/sftdata.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/reader.h"
#include "tokenizer/chat.h"

void sft_opts_default(sft_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->max_len = 2048;
    o->too_long = SFT_LONG_TRUNCATE;
    o->train_on_prompt = 0;
    o->strict = 0;
}

const char *sft_format_name(sft_format_t f) {
    switch (f) {
    case SFT_FMT_MESSAGES: return "messages";
    case SFT_FMT_PROMPT: return "prompt/completion";
    case SFT_FMT_INSTRUCTION: return "instruction";
    case SFT_NFORMATS: break;
    }
    return "?";
}

static const char *const skip_names[SFT_NSKIP] = {
    "malformed JSON", "unknown format", "missing field", "wrong type", "unknown role", "empty content",
    "no assistant message"};
static const char *const skip_keys[SFT_NSKIP] = {"bad_json",     "format",        "missing",     "wrong_type",
                                                 "unknown_role", "empty_content", "no_assistant"};

const char *sft_skip_name(sft_skip_t k) { return (int)k >= 0 && k < SFT_NSKIP ? skip_names[k] : "?"; }
const char *sft_skip_key(sft_skip_t k) { return (int)k >= 0 && k < SFT_NSKIP ? skip_keys[k] : "?"; }

void sft_init(sft_data_t *ds) { memset(ds, 0, sizeof *ds); }

void sft_free(sft_data_t *ds) {
    if (!ds) return;
    free(ds->ids);
    free(ds->mask);
    free(ds->ex);
    for (int i = 0; i < ds->n_files; i++) free(ds->files[i]);
    free(ds->files);
    sft_init(ds);
}

// ---- one line ------------------------------------------------------------------------------

// What one sft_load_text call works with.
typedef struct loader {
    sft_data_t *ds;
    const tok_t *t;
    const sft_opts_t *o;
    const char *file;  // the dataset's copy of the name
    int file_idx;
    size_t line;
    err_t *e;
} loader_t;

static int blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') return 0;
    return 1;
}

static void add_note(loader_t *L, int reason, const char *msg) {
    sft_stats_t *st = &L->ds->st;
    if (st->n_notes >= SFT_MAX_NOTES) return;
    sft_note_t *n = &st->notes[st->n_notes++];
    n->file = L->file;
    n->line = L->line;
    n->reason = reason;
    size_t len = strlen(msg);
    if (len >= sizeof n->msg) {  // cut, backing off to a UTF-8 character boundary
        len = sizeof n->msg - 1;
        while (len > 0 && ((unsigned char)msg[len] & 0xC0) == 0x80) len--;
    }
    memcpy(n->msg, msg, len);
    n->msg[len] = 0;
}

// A bad line: counted and noted, returning 1 (skip it); with strict, -1 with e naming file:line.
__attribute__((format(printf, 3, 4))) static int skip(loader_t *L, sft_skip_t why, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (L->o->strict)
        return err_set(L->e, "%s:%zu: %s (strict mode: fix the line, or load without strict to skip and count it)",
                       L->file, L->line, msg);
    sft_stats_t *st = &L->ds->st;
    st->skipped[why]++;
    st->n_skipped++;
    add_note(L, (int)why, msg);
    return 1;
}

// Why chat_from_json refused root's "messages", found the way it checks (the same order), so
// that the skip is counted under the right reason; -1 when nothing is wrong (then the failure
// was out of memory).
static int messages_fault(json_object *root) {
    json_object *msgs, *role, *content;
    if (!json_object_object_get_ex(root, "messages", &msgs)) return SFT_SKIP_MISSING;
    if (!json_object_is_type(msgs, json_type_array)) return SFT_SKIP_TYPE;
    size_t n = json_object_array_length(msgs);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(msgs, i);
        chat_role_t r;
        if (!json_object_is_type(o, json_type_object)) return SFT_SKIP_TYPE;
        if (!json_object_object_get_ex(o, "role", &role)) return SFT_SKIP_MISSING;
        if (!json_object_is_type(role, json_type_string)) return SFT_SKIP_TYPE;
        if (chat_role_parse(json_object_get_string(role), &r, NULL) != 0) return SFT_SKIP_ROLE;
        if (!json_object_object_get_ex(o, "content", &content)) return SFT_SKIP_MISSING;
        if (!json_object_is_type(content, json_type_string)) return SFT_SKIP_TYPE;
    }
    return -1;
}

// The string field key of a prompt/completion or instruction line (fmt names the format in
// messages).  0 with *s (NULL when an optional field is absent or null), 1 when the line is
// skipped, -1 on a strict error.
static int get_field(loader_t *L, json_object *root, const char *key, int required, const char *fmt,
                     const char **s, size_t *n) {
    json_object *v;
    *s = NULL;
    *n = 0;
    int has = json_object_object_get_ex(root, key, &v);
    if (!required && (!has || json_object_is_type(v, json_type_null))) return 0;
    if (!has) return skip(L, SFT_SKIP_MISSING, "\"%s\" is missing (%s format)", key, fmt);
    if (!json_object_is_type(v, json_type_string))
        return skip(L, SFT_SKIP_TYPE, "\"%s\" is %s, expected a string", key, chat_json_kind(v));
    *s = json_object_get_string(v);
    *n = (size_t)json_object_get_string_len(v);
    if (required || strcmp(key, "system") == 0)
        if (blank(*s, *n)) return skip(L, SFT_SKIP_EMPTY, "\"%s\" is empty", key);
    return 0;
}

static int oom(loader_t *L) { return err_set(L->e, "%s:%zu: out of memory", L->file, L->line); }

// Builds the conversation of a prompt/completion or instruction line.  0, 1 (skipped) or -1.
static int build_pair(loader_t *L, json_object *root, sft_format_t f, chat_t *c) {
    const char *fmt = sft_format_name(f);
    const char *sys, *prompt, *answer, *input = NULL;
    size_t nsys, nprompt, nanswer, ninput = 0;
    int k;
    if ((k = get_field(L, root, "system", 0, fmt, &sys, &nsys)) != 0) return k;
    if (f == SFT_FMT_PROMPT) {
        if ((k = get_field(L, root, "prompt", 1, fmt, &prompt, &nprompt)) != 0) return k;
        if ((k = get_field(L, root, "completion", 1, fmt, &answer, &nanswer)) != 0) return k;
    } else {
        if ((k = get_field(L, root, "instruction", 1, fmt, &prompt, &nprompt)) != 0) return k;
        if ((k = get_field(L, root, "input", 0, fmt, &input, &ninput)) != 0) return k;
        if ((k = get_field(L, root, "output", 1, fmt, &answer, &nanswer)) != 0) return k;
        if (input && blank(input, ninput)) input = NULL;
    }
    err_t ce = {0};
    if (sys && chat_add(c, CHAT_SYSTEM, sys, nsys, &ce) != 0) return oom(L);
    if (!input) {
        if (chat_add(c, CHAT_USER, prompt, nprompt, &ce) != 0) return oom(L);
    } else {
        if (nprompt > SIZE_MAX / 2 || ninput > SIZE_MAX / 2) return oom(L);
        char *u = malloc(nprompt + 2 + ninput);
        if (!u) return oom(L);
        memcpy(u, prompt, nprompt);
        memcpy(u + nprompt, "\n\n", 2);
        memcpy(u + nprompt + 2, input, ninput);
        int rc = chat_add(c, CHAT_USER, u, nprompt + 2 + ninput, &ce);
        free(u);
        if (rc != 0) return oom(L);
    }
    if (chat_add(c, CHAT_ASSISTANT, answer, nanswer, &ce) != 0) return oom(L);
    return 0;
}

// The format of root by its keys.  0 with *f, 1 (skipped) or -1.
static int detect_format(loader_t *L, json_object *root, sft_format_t *f) {
    static const char *const keys[SFT_NFORMATS][3] = {
        {"messages", NULL, NULL}, {"prompt", "completion", NULL}, {"instruction", "input", "output"}};
    const char *seen[SFT_NFORMATS] = {NULL, NULL, NULL};
    int nf = 0, first = -1, second = -1;
    for (int k = 0; k < SFT_NFORMATS; k++) {
        for (int j = 0; j < 3 && keys[k][j] && !seen[k]; j++)
            if (json_object_object_get_ex(root, keys[k][j], NULL)) seen[k] = keys[k][j];
        if (seen[k]) {
            nf++;
            if (first < 0) first = k;
            else if (second < 0) second = k;
        }
    }
    if (nf == 0)
        return skip(L, SFT_SKIP_FORMAT,
                    "no known keys: expected \"messages\", or \"prompt\" and \"completion\", or \"instruction\", "
                    "\"input\" and \"output\"");
    if (nf > 1)
        return skip(L, SFT_SKIP_FORMAT, "keys of two formats, \"%s\" (%s) and \"%s\" (%s): keep one format per line",
                    seen[first], sft_format_name((sft_format_t)first), seen[second],
                    sft_format_name((sft_format_t)second));
    if (first == SFT_FMT_MESSAGES && json_object_object_get_ex(root, "system", NULL))
        return skip(L, SFT_SKIP_FORMAT,
                    "\"system\" beside \"messages\": put the system prompt in messages as {\"role\": \"system\", ...}");
    *f = (sft_format_t)first;
    return 0;
}

// Parses, checks and builds the conversation of line[0..len).  0 with *c filled, 1 (skipped) or -1.
static int parse_line(loader_t *L, json_tokener *tk, const char *line, size_t len, chat_t *c) {
    if (len > INT_MAX) return skip(L, SFT_SKIP_BAD_JSON, "a line of %zu bytes is too long for JSON (2 GiB at most)", len);
    json_tokener_reset(tk);
    json_object *root = json_tokener_parse_ex(tk, line, (int)len);
    enum json_tokener_error je = json_tokener_get_error(tk);
    if (!root && je == json_tokener_continue) {  // a bare number at the end: a NUL completes it
        root = json_tokener_parse_ex(tk, "", 1);
        je = json_tokener_get_error(tk);
    }
    size_t end = json_tokener_get_parse_end(tk);
    int k;
    if (!root || je != json_tokener_success) {
        k = skip(L, SFT_SKIP_BAD_JSON, "not valid JSON: %s at byte %zu",
                 je == json_tokener_continue ? "the value is incomplete" : json_tokener_error_desc(je), end);
        goto done;
    }
    if (!blank(line + end, len - end)) {
        k = skip(L, SFT_SKIP_BAD_JSON, "not valid JSON: text after the value at byte %zu", end);
        goto done;
    }
    if (!json_object_is_type(root, json_type_object)) {
        k = skip(L, SFT_SKIP_BAD_JSON, "expected a JSON object, got %s", chat_json_kind(root));
        goto done;
    }
    sft_format_t f = SFT_FMT_MESSAGES;
    if ((k = detect_format(L, root, &f)) != 0) goto done;
    L->ds->st.format[f]++;
    if (f != SFT_FMT_MESSAGES) {
        k = build_pair(L, root, f, c);
        goto done;
    }
    err_t ce = {0};
    if (chat_from_json(c, line, len, &ce) != 0) {
        int why = messages_fault(root);
        k = why < 0 ? oom(L) : skip(L, (sft_skip_t)why, "%s", ce.msg);
        goto done;
    }
    int last = -1;
    for (int i = 0; i < c->n; i++) {
        if (blank(c->msgs[i].content, c->msgs[i].len)) {
            k = skip(L, SFT_SKIP_EMPTY, "messages[%d].content is empty", i);
            goto done;
        }
        if (c->msgs[i].role == CHAT_ASSISTANT) last = i;
    }
    if (last < 0) {
        k = skip(L, SFT_SKIP_NO_ASSISTANT, "no assistant message in %d message%s: nothing to train on", c->n,
                 c->n == 1 ? "" : "s");
        goto done;
    }
    if (last + 1 < c->n) {
        char msg[240];
        snprintf(msg, sizeof msg, "messages[%d..%d] come after the last assistant message and train nothing: dropped",
                 last + 1, c->n - 1);
        if (L->o->strict) {
            k = err_set(L->e, "%s:%zu: %s (strict mode: end the conversation with an assistant message)", L->file,
                        L->line, msg);
            goto done;
        }
        chat_truncate(c, last + 1);
        L->ds->st.trimmed++;
        add_note(L, -1, msg);
    }
    k = 0;
done:
    if (k != 0) chat_free(c);
    json_object_put(root);
    return k;
}

static int grow_examples(sft_data_t *ds) {
    if (ds->n_ex < ds->ex_cap) return 0;
    size_t nc = ds->ex_cap ? 2 * ds->ex_cap : 256;
    sft_example_t *p = realloc(ds->ex, nc * sizeof *p);
    if (!p) return -1;
    ds->ex = p;
    ds->ex_cap = nc;
    return 0;
}

// Encodes c into the arena and applies the mask and length policies.  0 (kept or dropped) or -1.
static int add_example(loader_t *L, const chat_t *c) {
    sft_data_t *ds = L->ds;
    sft_stats_t *st = &ds->st;
    const size_t start = ds->n_tokens;
    if (chat_encode(L->t, c, 0, &ds->ids, &ds->mask, &ds->n_tokens, &ds->cap, L->e) != 0)
        return err_wrap(L->e, "%s:%zu", L->file, L->line);
    size_t len = ds->n_tokens - start;
    if (len > st->longest) st->longest = len;
    if (L->o->train_on_prompt) memset(ds->mask + start + 1, 1, len - 1);
    const size_t max = (size_t)L->o->max_len;
    if (len > max) {
        if (!st->long_file) {
            st->long_file = L->file;
            st->long_line = L->line;
            st->long_tokens = len;
        }
        if (L->o->too_long == SFT_LONG_ERROR) {
            ds->n_tokens = start;
            return err_set(L->e,
                           "%s:%zu: the example has %zu tokens, more than the %zu allowed (max_len); shorten it, or "
                           "let the loader truncate or drop such examples",
                           L->file, L->line, len, max);
        }
        len = max;
    }
    size_t trained = 0;
    for (size_t i = 0; i < len; i++) trained += ds->mask[start + i];
    if (ds->n_tokens - start > max) {
        if (L->o->too_long == SFT_LONG_DROP || trained == 0) {
            ds->n_tokens = start;
            st->dropped_long++;
            return 0;
        }
        st->truncated++;
    }
    ds->n_tokens = start + len;
    if (grow_examples(ds) != 0) {
        ds->n_tokens = start;
        return oom(L);
    }
    ds->ex[ds->n_ex++] = (sft_example_t){
        .off = start, .len = (int32_t)len, .trained = (int32_t)trained, .file = L->file_idx, .line = L->line};
    st->kept++;
    st->tokens += len;
    st->trained += trained;
    return 0;
}

int sft_load_text(sft_data_t *ds, const tok_t *t, const char *name, const char *text, size_t len,
                  const sft_opts_t *o, err_t *e) {
    sft_opts_t def;
    if (!o) {
        sft_opts_default(&def);
        o = &def;
    }
    if (o->max_len < 2) return err_set(e, "loading %s: max_len is %d, it must be at least 2", name, o->max_len);
    if ((int)o->too_long < SFT_LONG_TRUNCATE || o->too_long > SFT_LONG_ERROR)
        return err_set(e, "loading %s: unknown too_long policy %d", name, (int)o->too_long);
    if (chat_check_tokenizer(t, e) != 0) return err_wrap(e, "loading fine-tuning data %s", name);
    if (ds->have_tok && ds->tok_hash != tok_hash(t))
        return err_set(e, "loading %s: tokenizer %s is not the one the dataset's earlier files were encoded with", name,
                       tok_name(t));
    // Everything below is undone on failure: the counts, the arena's length, the files.
    const sft_stats_t st0 = ds->st;
    const size_t n_tokens0 = ds->n_tokens, n_ex0 = ds->n_ex;
    char *copy = strdup(name);
    char **files = copy ? realloc(ds->files, (size_t)(ds->n_files + 1) * sizeof *files) : NULL;
    json_tokener *tk = json_tokener_new();
    if (!copy || !files || !tk) {
        free(copy);
        json_tokener_free(tk);
        return err_set(e, "loading %s: out of memory", name);
    }
    ds->files = files;
    ds->files[ds->n_files] = copy;
    loader_t L = {.ds = ds, .t = t, .o = o, .file = copy, .file_idx = ds->n_files, .line = 0, .e = e};
    ds->n_files++;
    ds->st.files++;
    int rc = 0;
    for (size_t p = 0; p < len && rc == 0;) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t n = nl ? (size_t)(nl - (text + p)) : len - p;
        const char *line = text + p;
        p += n + (nl != NULL);
        L.line++;
        if (blank(line, n)) continue;
        ds->st.lines++;
        chat_t c = {0};
        int k = parse_line(&L, tk, line, n, &c);
        if (k < 0) rc = -1;
        else if (k == 0) rc = add_example(&L, &c);
        chat_free(&c);
    }
    json_tokener_free(tk);
    if (rc != 0) {
        ds->st = st0;
        ds->n_tokens = n_tokens0;
        ds->n_ex = n_ex0;
        free(ds->files[--ds->n_files]);
        return -1;
    }
    ds->eot = tok_special(t, TOK_EOT);
    ds->tok_hash = tok_hash(t);
    ds->have_tok = 1;
    return 0;
}

int sft_load(sft_data_t *ds, const tok_t *t, const char *path, const sft_opts_t *o, err_t *e) {
    // The reader gives the whole decompressed file as one text document: delimiter "", and a
    // max_line no file reaches.  Lines are then split here, numbered from 1.
    rd_config_t rc;
    rd_config_default(&rc);
    rc.format = RD_FMT_TEXT;
    rc.delimiter = "";
    rc.max_line = (size_t)1 << 40;
    rd_t *r = NULL;
    rd_doc_t d;
    if (rd_open(&r, path, &rc, e) != 0) return -1;
    int k = rd_next(r, &d, e), ret = -1;
    if (k < 0) goto done;
    if (rd_stats(r)->binary) {
        err_set(e, "%s: a binary file (a NUL byte near the start), not JSONL", path);
        goto done;
    }
    if (k == 0) d.text = "", d.len = 0;  // an empty file: no lines
    ret = sft_load_text(ds, t, path, d.text, d.len, o, e);
done:
    rd_close(r);
    return ret;
}

// ---- the report ----------------------------------------------------------------------------

static double pct(size_t a, size_t b) { return b ? 100.0 * (double)a / (double)b : 0.0; }

// A growing string for the text report.
typedef struct {
    char *p;
    size_t n, cap;
    int failed;
} buf_t;

__attribute__((format(printf, 2, 3))) static void bprintf(buf_t *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->failed = 1;
            return;
        }
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = b->cap ? b->cap : 512;
        while (nc <= b->n + (size_t)k) nc *= 2;
        char *q = realloc(b->p, nc);
        if (!q) {
            b->failed = 1;
            return;
        }
        b->p = q;
        b->cap = nc;
    }
}

static char *report_text(const sft_data_t *ds) {
    const sft_stats_t *st = &ds->st;
    buf_t b = {0};
    bprintf(&b, "fine-tuning data: %zu line%s in %zu file%s (", st->lines, st->lines == 1 ? "" : "s", st->files,
            st->files == 1 ? "" : "s");
    for (int f = 0; f < SFT_NFORMATS; f++)
        bprintf(&b, "%s%s %zu", f ? ", " : "", sft_format_name((sft_format_t)f), st->format[f]);
    bprintf(&b, ")\nkept %zu examples: %zu tokens, %zu trained (%.1f%%); longest %zu tokens\n", st->kept, st->tokens,
            st->trained, pct(st->trained, st->tokens), st->longest);
    bprintf(&b, "skipped %zu", st->n_skipped);
    int any = 0;
    for (int k = 0; k < SFT_NSKIP; k++)
        if (st->skipped[k]) bprintf(&b, "%s%s %zu", any++ ? ", " : ": ", skip_names[k], st->skipped[k]);
    bprintf(&b, "\n");
    if (st->trimmed)
        bprintf(&b, "trimmed %zu conversation%s after the last assistant message\n", st->trimmed,
                st->trimmed == 1 ? "" : "s");
    if (st->long_file)
        bprintf(&b, "too long: %zu truncated, %zu dropped (the first: %s:%zu, %zu tokens)\n", st->truncated,
                st->dropped_long, st->long_file, st->long_line, st->long_tokens);
    for (size_t i = 0; i < st->n_notes; i++)
        bprintf(&b, "  %s:%zu: %s\n", st->notes[i].file, st->notes[i].line, st->notes[i].msg);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

// Adds key = a new int to o; 0, or -1 when out of memory.
static int add_int(json_object *o, const char *key, size_t v) {
    json_object *x = json_object_new_int64((int64_t)v);
    if (!x || json_object_object_add(o, key, x) != 0) {
        json_object_put(x);
        return -1;
    }
    return 0;
}

static char *report_json(const sft_data_t *ds) {
    const sft_stats_t *st = &ds->st;
    char *s = NULL;
    json_object *root = json_object_new_object(), *formats = json_object_new_object(),
                *skipped = json_object_new_object(), *notes = json_object_new_array();
    int ok = root && formats && skipped && notes;
    for (int f = 0; ok && f < SFT_NFORMATS; f++) ok = add_int(formats, sft_format_name((sft_format_t)f), st->format[f]) == 0;
    ok = ok && add_int(skipped, "total", st->n_skipped) == 0;
    for (int k = 0; ok && k < SFT_NSKIP; k++) ok = add_int(skipped, skip_keys[k], st->skipped[k]) == 0;
    for (size_t i = 0; ok && i < st->n_notes; i++) {
        char line[1200];
        snprintf(line, sizeof line, "%s:%zu: %s", st->notes[i].file, st->notes[i].line, st->notes[i].msg);
        json_object *x = json_object_new_string(line);
        ok = x && json_object_array_add(notes, x) == 0;
        if (!ok) json_object_put(x);
    }
    ok = ok && add_int(root, "files", st->files) == 0 && add_int(root, "lines", st->lines) == 0;
    if (ok) ok = json_object_object_add(root, "formats", formats) == 0 ? (formats = NULL, 1) : 0;
    ok = ok && add_int(root, "kept", st->kept) == 0;
    if (ok) ok = json_object_object_add(root, "skipped", skipped) == 0 ? (skipped = NULL, 1) : 0;
    ok = ok && add_int(root, "trimmed", st->trimmed) == 0 && add_int(root, "truncated", st->truncated) == 0 &&
         add_int(root, "dropped_long", st->dropped_long) == 0 && add_int(root, "tokens", st->tokens) == 0 &&
         add_int(root, "trained_tokens", st->trained) == 0 && add_int(root, "longest", st->longest) == 0;
    if (ok) ok = json_object_object_add(root, "notes", notes) == 0 ? (notes = NULL, 1) : 0;
    if (ok) {
        const char *js = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (js) s = strdup(js);
    }
    json_object_put(formats);
    json_object_put(skipped);
    json_object_put(notes);
    json_object_put(root);
    return s;
}

char *sft_report(const sft_data_t *ds, int json) { return json ? report_json(ds) : report_text(ds); }

// ---- rows ----------------------------------------------------------------------------------

void sft_epoch_free(sft_epoch_t *ep) {
    if (!ep) return;
    free(ep->row_first);
    free(ep->ex);
    free(ep->row_trained);
    memset(ep, 0, sizeof *ep);
}

// Packs the examples order[0..n) into rows of T: each goes into the oldest of the last
// SFT_PACK_WINDOW open rows with room for it, else into a new row.  A row closes when it has no
// room left for the shortest example, or when it falls out of the window.  row_of[k] gets the
// row of order[k]; returns the number of rows, or -1 when out of memory.
static long pack_rows(const sft_data_t *ds, const int32_t *order, size_t n, int T, size_t *row_of) {
    int32_t shortest = T;
    for (size_t i = 0; i < n; i++)
        if (ds->ex[order[i]].len < shortest) shortest = ds->ex[order[i]].len;
    int *room = NULL;  // (rows) free positions per row
    size_t rows = 0, cap = 0, open[SFT_PACK_WINDOW];
    int n_open = 0;
    for (size_t k = 0; k < n; k++) {
        const int32_t len = ds->ex[order[k]].len;
        int j = 0;
        while (j < n_open && room[open[j]] < len) j++;
        if (j == n_open) {
            if (rows == cap) {
                size_t nc = cap ? 2 * cap : 256;
                int *p = realloc(room, nc * sizeof *p);
                if (!p) {
                    free(room);
                    return -1;
                }
                room = p;
                cap = nc;
            }
            room[rows] = T;
            if (n_open == SFT_PACK_WINDOW) {  // the oldest open row closes
                memmove(open, open + 1, sizeof open[0] * (size_t)(n_open - 1));
                n_open--;
            }
            j = n_open;
            open[n_open++] = rows++;
        }
        size_t r = open[j];
        room[r] -= len;
        row_of[k] = r;
        if (room[r] < shortest) {  // full: nothing more fits
            memmove(open + j, open + j + 1, sizeof open[0] * (size_t)(n_open - j - 1));
            n_open--;
        }
    }
    free(room);
    return (long)rows;
}

int sft_epoch_plan(sft_epoch_t *ep, const sft_data_t *ds, const sft_batch_opts_t *b, uint64_t epoch, err_t *e) {
    memset(ep, 0, sizeof *ep);
    if (b->T < 2) return err_set(e, "rows of %d tokens: the row length T must be at least 2", b->T);
    if (b->layout != SFT_PACKED && b->layout != SFT_PADDED) return err_set(e, "unknown row layout %d", (int)b->layout);
    if (ds->n_ex == 0) return err_set(e, "the fine-tuning dataset has no examples to make rows of");
    if (ds->n_ex > INT32_MAX) return err_set(e, "the fine-tuning dataset has %zu examples, more than 2^31 - 1", ds->n_ex);
    for (size_t i = 0; i < ds->n_ex; i++)
        if (ds->ex[i].len > b->T)
            return err_set(e, "%s:%zu: the example has %d tokens, more than a row of %d; load the data with max_len %d",
                           ds->files[ds->ex[i].file], ds->ex[i].line, (int)ds->ex[i].len, b->T, b->T);
    const size_t n = ds->n_ex;
    int32_t *order = malloc(n * sizeof *order);
    size_t *row_of = NULL;
    if (!order) goto oom;
    for (size_t i = 0; i < n; i++) order[i] = (int32_t)i;
    if (b->shuffle) {  // Fisher-Yates; the epoch number is mixed into the seed
        rng_t rng;
        rng_seed(&rng, b->seed ^ ((epoch + 1) * 0x9E3779B97F4A7C15ULL));
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)rng_below(&rng, i + 1);
            int32_t tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
    }
    ep->T = b->T;
    ep->layout = b->layout;
    if (b->layout == SFT_PADDED) {
        ep->n_rows = n;
        ep->ex = order;
        order = NULL;
        ep->row_first = malloc((n + 1) * sizeof *ep->row_first);
        if (!ep->row_first) goto oom;
        for (size_t r = 0; r <= n; r++) ep->row_first[r] = r;
    } else {
        row_of = malloc(n * sizeof *row_of);
        if (!row_of) goto oom;
        long rows = pack_rows(ds, order, n, b->T, row_of);
        if (rows < 0) goto oom;
        ep->n_rows = (size_t)rows;
        ep->row_first = calloc(ep->n_rows + 1, sizeof *ep->row_first);
        ep->ex = malloc(n * sizeof *ep->ex);
        if (!ep->row_first || !ep->ex) goto oom;
        // Counting sort by row, stable: a row's examples keep the order they were placed in.
        for (size_t k = 0; k < n; k++) ep->row_first[row_of[k] + 1]++;
        for (size_t r = 0; r < ep->n_rows; r++) ep->row_first[r + 1] += ep->row_first[r];
        size_t *fill = malloc(ep->n_rows * sizeof *fill);  // the next free slot of each row
        if (!fill) goto oom;
        memcpy(fill, ep->row_first, ep->n_rows * sizeof *fill);
        for (size_t k = 0; k < n; k++) ep->ex[fill[row_of[k]]++] = order[k];
        free(fill);
    }
    ep->row_trained = malloc(ep->n_rows * sizeof *ep->row_trained);
    if (!ep->row_trained) goto oom;
    for (size_t r = 0; r < ep->n_rows; r++) {
        int32_t tr = 0;
        for (size_t k = ep->row_first[r]; k < ep->row_first[r + 1]; k++) {
            tr += ds->ex[ep->ex[k]].trained;
            ep->tokens += (size_t)ds->ex[ep->ex[k]].len;
        }
        ep->row_trained[r] = tr;
        ep->trained += (size_t)tr;
    }
    free(order);
    free(row_of);
    return 0;
oom:
    free(order);
    free(row_of);
    sft_epoch_free(ep);
    return err_set(e, "out of memory planning the rows of %zu examples", n);
}

int sft_epoch_row(const sft_epoch_t *ep, const sft_data_t *ds, size_t r, int32_t *tokens, int32_t *targets,
                  int32_t *pos) {
    int t = 0, trained = 0;
    for (size_t k = ep->row_first[r]; k < ep->row_first[r + 1]; k++) {
        const sft_example_t *x = &ds->ex[ep->ex[k]];
        const int32_t *ids = ds->ids + x->off;
        const uint8_t *mask = ds->mask + x->off;
        for (int32_t i = 0; i < x->len; i++, t++) {
            tokens[t] = ids[i];
            pos[t] = i;
            targets[t] = i + 1 < x->len && mask[i + 1] ? ids[i + 1] : -1;
            trained += targets[t] >= 0;
        }
    }
    for (int p = 0; t < ep->T; t++, p++) {
        tokens[t] = ds->eot;
        targets[t] = -1;
        pos[t] = p;
    }
    return trained;
}

static int by_offset(const void *a, const void *b) {
    size_t x = ((const sft_example_t *)a)->off, y = ((const sft_example_t *)b)->off;
    return x < y ? -1 : x > y;
}

void sft_keep_fraction(sft_data_t *ds, double fraction, uint64_t seed) {
    if (!(fraction < 1.0) || ds->n_ex == 0) return;
    size_t keep = (size_t)(fraction * (double)ds->n_ex + 0.5);
    if (keep < 1) keep = 1;
    rng_t rng;
    rng_seed(&rng, seed ^ 0x5EEDF4AC710Dull);
    for (size_t i = 0; i < keep; i++) {  // a partial Fisher-Yates shuffle picks the subset ...
        size_t j = i + (size_t)rng_below(&rng, ds->n_ex - i);
        sft_example_t t = ds->ex[i];
        ds->ex[i] = ds->ex[j], ds->ex[j] = t;
    }
    // ... which then goes back to file order, so the data order still comes from the epochs' seed
    qsort(ds->ex, keep, sizeof *ds->ex, by_offset);
    ds->n_ex = keep;
}
