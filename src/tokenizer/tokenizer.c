#include "tokenizer/tokenizer.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/io.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretok.h"

enum { MAX_SPECIALS = 16 };

typedef struct special {
    char str[64];
    int32_t id;
    int role;  // tok_special_t, or -1
} special_t;

struct tok {
    char name[64];
    bpe_t bpe;
    pretok_t *pre;  // NULL: the whole text is one piece (byte-level)
    special_t specials[MAX_SPECIALS];
    int n_specials;
    int role_id[TOK_NSPECIAL];
    int vocab_size;
    uint64_t hash;
};

static const char *const role_names[TOK_NSPECIAL] = {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>",
                                                      "<|end|>"};

static void add_special(tok_t *t, const char *str, int32_t id) {
    special_t *s = &t->specials[t->n_specials++];
    snprintf(s->str, sizeof s->str, "%s", str);
    s->id = id;
    s->role = -1;
    for (int r = 0; r < TOK_NSPECIAL; r++)
        if (strcmp(str, role_names[r]) == 0) {
            s->role = r;
            t->role_id[r] = id;
        }
    if (id + 1 > t->vocab_size) t->vocab_size = id + 1;
}

static void finish_hash(tok_t *t) {
    uint64_t h = io_fnv1a(IO_FNV_INIT, "manabi-tokenizer-v1", 19);
    const char *rx = t->pre ? pretok_regex(t->pre) : "";
    h = io_fnv1a(h, rx, strlen(rx) + 1);
    h = io_fnv1a(h, t->bpe.off, sizeof(uint64_t) * ((size_t)t->bpe.n + 1));
    h = io_fnv1a(h, t->bpe.blob, t->bpe.off[t->bpe.n]);
    for (int i = 0; i < t->n_specials; i++) {
        h = io_fnv1a(h, t->specials[i].str, strlen(t->specials[i].str) + 1);
        h = io_fnv1a(h, &t->specials[i].id, sizeof t->specials[i].id);
    }
    t->hash = h;
}

static tok_t *tok_alloc(void) {
    tok_t *t = calloc(1, sizeof *t);
    if (t)
        for (int r = 0; r < TOK_NSPECIAL; r++) t->role_id[r] = -1;
    return t;
}

static int load_byte(tok_t *t, err_t *e) {
    uint8_t bytes[256];
    const uint8_t *toks[256];
    uint32_t lens[256];
    for (int i = 0; i < 256; i++) {
        bytes[i] = (uint8_t)i;
        toks[i] = &bytes[i];
        lens[i] = 1;
    }
    if (bpe_init(&t->bpe, toks, lens, 256, e) != 0) return -1;
    snprintf(t->name, sizeof t->name, "byte");
    t->vocab_size = 256;
    for (int r = 0; r < TOK_NSPECIAL; r++) add_special(t, role_names[r], 256 + r);
    return 0;
}

typedef struct {
    const char *pattern, *name;
    int n;
    struct { const char *str; int32_t id; } sp[6];
} encoding_t;

// The specials of OpenAI's encodings (tiktoken_ext/openai_public.py).
static const encoding_t encodings[] = {
    {"gpt2", "gpt2", 1, {{"<|endoftext|>", 50256}}},
    {"cl100k", "cl100k_base", 5,
     {{"<|endoftext|>", 100257}, {"<|fim_prefix|>", 100258}, {"<|fim_middle|>", 100259}, {"<|fim_suffix|>", 100260},
      {"<|endofprompt|>", 100276}}},
    {"o200k", "o200k_base", 2, {{"<|endoftext|>", 199999}, {"<|endofprompt|>", 200018}}},
};

static const encoding_t *find_encoding(const char *name) {
    for (size_t i = 0; i < sizeof encodings / sizeof encodings[0]; i++)
        if (strcmp(name, encodings[i].pattern) == 0 || strcmp(name, encodings[i].name) == 0) return &encodings[i];
    return NULL;
}

static int load_tiktoken(tok_t *t, const char *path, const char *pattern, err_t *e) {
    if (!pattern) {  // from the file name
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        for (size_t i = 0; i < sizeof encodings / sizeof encodings[0] && !pattern; i++)
            if (strncmp(base, encodings[i].name, strlen(encodings[i].name)) == 0) pattern = encodings[i].pattern;
        if (!pattern)
            return err_set(e, "%s: cannot tell its split pattern from the name; give --pattern gpt2|cl100k|o200k", path);
    }
    const encoding_t *enc = find_encoding(pattern);
    if (!enc) return err_set(e, "--pattern: unknown encoding '%s' (gpt2, cl100k or o200k)", pattern);
    char *text;
    size_t len;
    if (io_read_file(path, &text, &len, e) != 0) return -1;
    int rc = -1;
    size_t lines = 0, cap = 1024;
    uint8_t **toks = malloc(cap * sizeof *toks);
    uint32_t *lens = malloc(cap * sizeof *lens);
    int32_t nt = 0;
    if (!toks || !lens) {
        err_set(e, "out of memory");
        goto done;
    }
    for (char *p = text, *end = text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        lines++;
        if (eol > p) {
            char *sp = memchr(p, ' ', (size_t)(eol - p));
            char *endp;
            long rank = sp ? strtol(sp + 1, &endp, 10) : -1;
            if (!sp || endp != eol || rank < 0) {
                err_set(e, "%s:%zu: expected '<base64 token> <rank>'", path, lines);
                goto done;
            }
            if (rank != nt) {
                err_set(e, "%s:%zu: rank %ld out of order (expected %d): ranks must be 0, 1, 2, ...", path, lines,
                        rank, nt);
                goto done;
            }
            if ((size_t)nt == cap) {
                cap *= 2;
                uint8_t **nt2 = realloc(toks, cap * sizeof *toks);
                uint32_t *nl2 = realloc(lens, cap * sizeof *lens);
                if (nt2) toks = nt2;
                if (nl2) lens = nl2;
                if (!nt2 || !nl2) {
                    err_set(e, "out of memory");
                    goto done;
                }
            }
            uint8_t *buf = malloc((size_t)(sp - p) + 3);
            int n = buf ? (int)base64_decode(p, (size_t)(sp - p), buf) : -1;
            if (n <= 0) {
                free(buf);
                err_set(e, "%s:%zu: the token is not valid base64", path, lines);
                goto done;
            }
            toks[nt] = buf;
            lens[nt++] = (uint32_t)n;
        }
        p = eol + 1;
    }
    if (bpe_init(&t->bpe, (const uint8_t *const *)toks, lens, nt, e) != 0) {
        err_wrap(e, "%s", path);
        goto done;
    }
    if (pretok_new(&t->pre, enc->pattern, e) != 0) goto done;
    snprintf(t->name, sizeof t->name, "%s", enc->name);
    t->vocab_size = nt;
    for (int i = 0; i < enc->n; i++) {
        if (enc->sp[i].id < nt) {
            err_set(e, "%s: special token %s (%d) collides with a regular rank; is this %s?", path, enc->sp[i].str,
                    enc->sp[i].id, enc->name);
            goto done;
        }
        add_special(t, enc->sp[i].str, enc->sp[i].id);
    }
    rc = 0;
done:
    for (int32_t i = 0; i < nt; i++) free(toks[i]);
    free(toks);
    free(lens);
    free(text);
    return rc;
}

// manabi's tokenizer file (written by tok_train): JSON with the split pattern, the merges
// (merge i makes token 256 + i from two earlier tokens) and the special tokens.
static int load_manabi(tok_t *t, const char *path, err_t *e) {
    char *text;
    if (io_read_file(path, &text, NULL, e) != 0) return -1;
    json_object *root = json_tokener_parse(text), *v, *merges, *specials;
    free(text);
    uint8_t *blob = NULL;
    const uint8_t **toks = NULL;
    uint32_t *lens = NULL;
    int rc = -1;
    if (!root || !json_object_object_get_ex(root, "format", &v) ||
        strcmp(json_object_get_string(v), "manabi-tokenizer") != 0) {
        err_set(e, "%s is not a manabi tokenizer file (no \"format\": \"manabi-tokenizer\")", path);
        goto done;
    }
    if (!json_object_object_get_ex(root, "version", &v) || json_object_get_int(v) != 1) {
        err_set(e, "%s: tokenizer file version %s; this manabi reads version 1", path,
                v ? json_object_get_string(v) : "(missing)");
        goto done;
    }
    if (!json_object_object_get_ex(root, "merges", &merges) || !json_object_is_type(merges, json_type_array) ||
        !json_object_object_get_ex(root, "specials", &specials) || !json_object_is_type(specials, json_type_array) ||
        !json_object_object_get_ex(root, "pattern", &v) || !json_object_is_type(v, json_type_string)) {
        err_set(e, "%s: fields 'pattern', 'merges' and 'specials' are required", path);
        goto done;
    }
    const char *pattern = json_object_get_string(v);
    int nm = (int)json_object_array_length(merges), n = 256 + nm;
    toks = malloc(sizeof *toks * (size_t)n);
    lens = malloc(sizeof *lens * (size_t)n);
    uint64_t *offs = malloc(sizeof *offs * ((size_t)n + 1));
    size_t cap = 1 << 16, used = 0;
    blob = malloc(cap);
    if (!toks || !lens || !offs || !blob) {
        free(offs);
        err_set(e, "out of memory");
        goto done;
    }
    for (int i = 0; i < 256; i++) {
        blob[used] = (uint8_t)i;
        offs[i] = used++;
        lens[i] = 1;
    }
    for (int i = 0; i < nm; i++) {
        json_object *pair = json_object_array_get_idx(merges, (size_t)i);
        int l = -1, r = -1;
        if (json_object_is_type(pair, json_type_array) && json_object_array_length(pair) == 2) {
            l = json_object_get_int(json_object_array_get_idx(pair, 0));
            r = json_object_get_int(json_object_array_get_idx(pair, 1));
        }
        if (l < 0 || r < 0 || l >= 256 + i || r >= 256 + i) {
            free(offs);
            err_set(e, "%s: merge %d must be a pair of earlier token ids", path, i);
            goto done;
        }
        size_t len = (size_t)lens[l] + lens[r];
        if (used + len > cap) {
            while (used + len > cap) cap *= 2;
            uint8_t *nb = realloc(blob, cap);
            if (!nb) {
                free(offs);
                err_set(e, "out of memory");
                goto done;
            }
            blob = nb;
        }
        memcpy(blob + used, blob + offs[l], lens[l]);
        memcpy(blob + used + lens[l], blob + offs[r], lens[r]);
        offs[256 + i] = used;
        lens[256 + i] = (uint32_t)len;
        used += len;
    }
    for (int i = 0; i < n; i++) toks[i] = blob + offs[i];
    free(offs);
    if (bpe_init(&t->bpe, toks, lens, n, e) != 0) {
        err_wrap(e, "%s", path);
        goto done;
    }
    if (pattern[0] && pretok_new(&t->pre, pattern, e) != 0) {
        err_wrap(e, "%s", path);
        goto done;
    }
    t->vocab_size = n;
    int ns = (int)json_object_array_length(specials);
    if (ns > MAX_SPECIALS) {
        err_set(e, "%s: %d special tokens; at most %d", path, ns, MAX_SPECIALS);
        goto done;
    }
    for (int i = 0; i < ns; i++) {
        json_object *pair = json_object_array_get_idx(specials, (size_t)i);
        const char *str = json_object_get_string(json_object_array_get_idx(pair, 0));
        int id = json_object_get_int(json_object_array_get_idx(pair, 1));
        if (!str || !*str || strlen(str) >= sizeof t->specials[0].str || id < n) {
            err_set(e, "%s: special token %d must be a name and an id after the %d regular tokens", path, i, n);
            goto done;
        }
        add_special(t, str, id);
    }
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(t->name, sizeof t->name, "%.*s", (int)(strcspn(base, ".")), base);
    rc = 0;
done:
    json_object_put(root);
    free(blob);
    free(toks);
    free(lens);
    return rc;
}

// GPT-2's byte-to-unicode table: token strings in encoder.json / vocab.bpe spell each byte as
// one printable code point (the printable Latin-1 bytes as themselves, the others from U+0100).
static void gpt2_byte_chars(int cp_of[256]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        cp_of[b] = printable ? b : 256 + n++;
    }
}

// Decodes a GPT-2 token string into bytes; returns the length, or -1 for a character outside
// the table.
static int gpt2_unmap(const char *s, const int byte_of[324], uint8_t *out) {
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int cp;
        if (*p < 0x80) cp = *p++;
        else if ((*p & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) cp = (p[0] & 0x1F) << 6 | (p[1] & 0x3F), p += 2;
        else return -1;
        if (cp >= 324 || byte_of[cp] < 0) return -1;
        out[n++] = (uint8_t)byte_of[cp];
    }
    return n;
}

// GPT-2's encoder.json (token string -> id) and, when it stands beside it, vocab.bpe (the
// merges, checked against the ids as tiktoken does).  The result is the gpt2 encoding.
static int load_gpt2_files(tok_t *t, const char *path, err_t *e) {
    int cp_of[256], byte_of[324];
    gpt2_byte_chars(cp_of);
    for (int i = 0; i < 324; i++) byte_of[i] = -1;
    for (int b = 0; b < 256; b++) byte_of[cp_of[b]] = b;
    char *text;
    if (io_read_file(path, &text, NULL, e) != 0) return -1;
    json_object *root = json_tokener_parse(text);
    free(text);
    int rc = -1, n = 0;
    uint8_t **toks = NULL;
    uint32_t *lens = NULL;
    FILE *f = NULL;
    if (!root || !json_object_is_type(root, json_type_object)) {
        err_set(e, "%s: not a JSON object of token -> id", path);
        goto done;
    }
    n = json_object_object_length(root) - 1;  // without <|endoftext|>
    toks = calloc((size_t)n + 1, sizeof *toks);
    lens = calloc((size_t)n + 1, sizeof *lens);
    if (!toks || !lens) {
        err_set(e, "out of memory");
        goto done;
    }
    json_object_object_foreach(root, key, val) {
        int id = json_object_get_int(val);
        if (strcmp(key, "<|endoftext|>") == 0) continue;
        uint8_t buf[1024];  // a token string spells at most one byte per character
        int len = strlen(key) < sizeof buf ? gpt2_unmap(key, byte_of, buf) : -1;
        if (id < 0 || id >= n || toks[id] || len <= 0) {
            err_set(e, "%s: entry \"%.40s\": %d is not a fresh id below %d, or the string is not GPT-2's byte "
                       "encoding", path, key, id, n);
            goto done;
        }
        toks[id] = malloc((size_t)len);
        if (!toks[id]) {
            err_set(e, "out of memory");
            goto done;
        }
        memcpy(toks[id], buf, (size_t)len);
        lens[id] = (uint32_t)len;
    }
    if (bpe_init(&t->bpe, (const uint8_t *const *)toks, lens, n, e) != 0) {
        err_wrap(e, "%s", path);
        goto done;
    }
    char merges[4200];
    const char *slash = strrchr(path, '/');
    snprintf(merges, sizeof merges, "%.*svocab.bpe", slash ? (int)(slash - path + 1) : 0, path);
    if ((f = fopen(merges, "r"))) {
        char line[1024];
        int lineno = 0, m = 0;
        while (fgets(line, sizeof line, f)) {
            lineno++;
            line[strcspn(line, "\r\n")] = 0;
            if (lineno == 1 && strncmp(line, "#version", 8) == 0) continue;
            if (!line[0]) continue;
            char *sp = strchr(line, ' ');
            uint8_t a[1024], b[2048];
            int la = sp ? (*sp = 0, gpt2_unmap(line, byte_of, a)) : -1, lb = sp ? gpt2_unmap(sp + 1, byte_of, b) : -1;
            if (la <= 0 || lb <= 0) {
                err_set(e, "%s:%d: expected two GPT-2 token strings", merges, lineno);
                goto done;
            }
            memmove(b + la, b, (size_t)lb);
            memcpy(b, a, (size_t)la);
            if (bpe_lookup(&t->bpe, b, (size_t)(la + lb)) != 256 + m) {
                err_set(e, "%s:%d: merge %d does not make token %d of %s", merges, lineno, m, 256 + m, path);
                goto done;
            }
            m++;
        }
    }
    if (pretok_new(&t->pre, "gpt2", e) != 0) goto done;
    snprintf(t->name, sizeof t->name, "gpt2");
    t->vocab_size = n;
    add_special(t, "<|endoftext|>", n);
    rc = 0;
done:
    if (f) fclose(f);
    for (int i = 0; toks && i < n; i++) free(toks[i]);
    free(toks);
    free(lens);
    json_object_put(root);
    return rc;
}

int tok_export_tiktoken(const tok_t *t, const char *path, err_t *e) {
    io_atomic_t a;
    if (io_atomic_open(&a, path, e) != 0) return -1;
    char *line = malloc(4096);
    int rc = line ? 0 : err_set(e, "out of memory");
    for (int32_t id = 0; rc == 0 && id < t->bpe.n; id++) {
        size_t len;
        const uint8_t *bytes = bpe_token(&t->bpe, id, &len);
        if (len > 2000) {
            rc = err_set(e, "token %d is too long to export (%zu bytes)", id, len);
            break;
        }
        size_t k = base64_encode(bytes, len, line);
        k += (size_t)snprintf(line + k, 32, " %d\n", id);
        rc = io_atomic_write(&a, line, k, e);
    }
    free(line);
    if (rc == 0) return io_atomic_commit(&a, e);
    io_atomic_abort(&a);
    return -1;
}

int tok_load(tok_t **out, const char *spec, const char *pattern, err_t *e) {
    *out = NULL;
    tok_t *t = tok_alloc();
    if (!t) return err_set(e, "out of memory");
    int rc;
    size_t n = strlen(spec);
    if (strcmp(spec, "byte") == 0) rc = load_byte(t, e);
    else if (n > 9 && strcmp(spec + n - 9, ".tiktoken") == 0) rc = load_tiktoken(t, spec, pattern, e);
    else if (n >= 12 && strcmp(spec + n - 12, "encoder.json") == 0) rc = load_gpt2_files(t, spec, e);
    else if (io_exists(spec)) rc = load_manabi(t, spec, e);
    else rc = err_set(e, "tokenizer '%s': expected 'byte', a manabi tokenizer file or a .tiktoken rank file", spec);
    if (rc != 0) {
        tok_free(t);
        return -1;
    }
    finish_hash(t);
    *out = t;
    return 0;
}

void tok_free(tok_t *t) {
    if (!t) return;
    bpe_free(&t->bpe);
    pretok_free(t->pre);
    free(t);
}

int tok_vocab_size(const tok_t *t) { return t->vocab_size; }
int tok_special(const tok_t *t, tok_special_t which) { return t->role_id[which]; }
const char *tok_name(const tok_t *t) { return t->name; }
const char *tok_pattern(const tok_t *t) { return t->pre ? pretok_regex(t->pre) : ""; }
uint64_t tok_hash(const tok_t *t) { return t->hash; }

typedef struct {
    const tok_t *t;
    bpe_scratch_t scratch;
    int32_t **ids;
    size_t *n, *cap;
    int failed;
} enc_ctx_t;

static int grow(int32_t **ids, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    int32_t *p = realloc(*ids, nc * sizeof *p);
    if (!p) return -1;
    *ids = p;
    *cap = nc;
    return 0;
}

static int encode_piece_cb(const char *text, size_t start, size_t end, void *ctx) {
    enc_ctx_t *c = ctx;
    size_t len = end - start;
    if (grow(c->ids, c->cap, *c->n + len) != 0) return c->failed = 1;
    int64_t k = bpe_encode_piece(&c->t->bpe, &c->scratch, (const uint8_t *)text + start, len, *c->ids + *c->n);
    if (k < 0) return c->failed = 1;
    *c->n += (size_t)k;
    return 0;
}

// Encodes text without specials.
static int encode_ordinary(enc_ctx_t *c, const char *text, size_t len, err_t *e) {
    if (len == 0) return 0;
    int rc = c->t->pre ? pretok_split(c->t->pre, text, len, encode_piece_cb, c, e)
                       : encode_piece_cb(text, 0, len, c);
    if (c->failed) return err_set(e, "out of memory encoding %zu bytes", len);
    return rc;
}

int tok_encode(const tok_t *t, const char *text, size_t len, int allow_special, int32_t **ids, size_t *n,
               size_t *cap, err_t *e) {
    enc_ctx_t c = {.t = t, .ids = ids, .n = n, .cap = cap};
    int rc = 0;
    size_t pos = 0;
    while (allow_special && rc == 0 && pos < len) {
        // The earliest special string from pos (the longest if several start there).
        const char *best = NULL;
        const special_t *bs = NULL;
        for (int i = 0; i < t->n_specials; i++) {
            const special_t *s = &t->specials[i];
            const char *hit = memmem(text + pos, len - pos, s->str, strlen(s->str));
            if (hit && (!best || hit < best || (hit == best && strlen(s->str) > strlen(bs->str)))) best = hit, bs = s;
        }
        if (!best) break;
        rc = encode_ordinary(&c, text + pos, (size_t)(best - text) - pos, e);
        if (rc == 0 && grow(ids, cap, *n + 1) != 0) rc = err_set(e, "out of memory");
        if (rc == 0) (*ids)[(*n)++] = bs->id;
        pos = (size_t)(best - text) + strlen(bs->str);
    }
    if (rc == 0) rc = encode_ordinary(&c, text + pos, len - pos, e);
    bpe_scratch_free(&c.scratch);
    return rc;
}

const char *tok_token_bytes(const tok_t *t, int32_t id, size_t *len) {
    if (id >= 0 && id < t->bpe.n) return (const char *)bpe_token(&t->bpe, id, len);
    for (int i = 0; i < t->n_specials; i++)
        if (t->specials[i].id == id) {
            *len = strlen(t->specials[i].str);
            return t->specials[i].str;
        }
    *len = 0;
    return NULL;
}

int tok_token_nbytes(const tok_t *t, int32_t id) {
    size_t len = 0;
    if (id >= 0 && id < t->bpe.n) bpe_token(&t->bpe, id, &len);
    return (int)len;
}
