#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "core/io.h"

static const char *const special_names[TOK_NSPECIAL] = {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>",
                                                         "<|end|>"};

struct tok {
    char name[32];
    int vocab_size;
    int special[TOK_NSPECIAL];
    unsigned char bytes[256];  // byte-level: token i is the single byte i
    uint64_t hash;
};

int tok_load(tok_t **out, const char *spec, err_t *e) {
    *out = NULL;
    if (strcmp(spec, "byte") != 0)
        return err_set(e, "tokenizer '%s': unknown (the built-in tokenizer is 'byte')", spec);
    tok_t *t = calloc(1, sizeof *t);
    if (!t) return err_set(e, "out of memory");
    snprintf(t->name, sizeof t->name, "byte");
    for (int i = 0; i < 256; i++) t->bytes[i] = (unsigned char)i;
    for (int s = 0; s < TOK_NSPECIAL; s++) t->special[s] = 256 + s;
    t->vocab_size = 256 + TOK_NSPECIAL;
    uint64_t h = io_fnv1a(IO_FNV_INIT, "byte-level-v1", 13);
    for (int s = 0; s < TOK_NSPECIAL; s++) h = io_fnv1a(h, special_names[s], strlen(special_names[s]) + 1);
    t->hash = h;
    *out = t;
    return 0;
}

void tok_free(tok_t *t) { free(t); }
int tok_vocab_size(const tok_t *t) { return t->vocab_size; }
int tok_special(const tok_t *t, tok_special_t which) { return t->special[which]; }
const char *tok_name(const tok_t *t) { return t->name; }
uint64_t tok_hash(const tok_t *t) { return t->hash; }

int tok_encode(const tok_t *t, const char *text, size_t len, int32_t **ids, size_t *n, size_t *cap, err_t *e) {
    (void)t;
    if (*n + len > *cap) {
        size_t nc = *cap ? *cap : 1024;
        while (nc < *n + len) nc *= 2;
        int32_t *p = realloc(*ids, nc * sizeof *p);
        if (!p) return err_set(e, "out of memory encoding %zu bytes", len);
        *ids = p;
        *cap = nc;
    }
    for (size_t i = 0; i < len; i++) (*ids)[(*n)++] = (unsigned char)text[i];
    return 0;
}

const char *tok_token_bytes(const tok_t *t, int32_t id, size_t *len) {
    if (id >= 0 && id < 256) {
        *len = 1;
        return (const char *)&t->bytes[id];
    }
    for (int s = 0; s < TOK_NSPECIAL; s++)
        if (t->special[s] == id) {
            *len = strlen(special_names[s]);
            return special_names[s];
        }
    *len = 0;
    return "";
}

int tok_token_nbytes(const tok_t *t, int32_t id) {
    (void)t;
    return id >= 0 && id < 256 ? 1 : 0;
}
