#include "tokenizer/train.h"

#include <json-c/json.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "core/timing.h"
#include "data/reader.h"
#include "tokenizer/bpe_train.h"
#include "tokenizer/pretok.h"

static const char *const reserved[] = {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"};
enum { N_RESERVED = 5, BLOCK = 64 << 20 };

// ---- counting: distinct pieces -> count, open addressing, keys in an arena ------------------

typedef struct entry {
    uint64_t hash, count;
    uint64_t off;  // key bytes at arena + off
    uint32_t len;
} entry_t;

typedef struct counter {
    entry_t *slots;  // count == 0 marks an empty slot
    uint64_t cap, used;
    uint8_t *arena;
    uint64_t arena_len, arena_cap;
    int failed;      // out of memory
} counter_t;

static uint64_t hash_piece(const uint8_t *s, size_t n) {
    uint64_t h = IO_FNV_INIT ^ (n * 0x9E3779B97F4A7C15ULL);
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h ^ (h >> 31);
}

static int counter_grow(counter_t *c) {
    uint64_t cap = c->cap ? c->cap * 2 : 1 << 16;
    entry_t *s = calloc(cap, sizeof *s);
    if (!s) return -1;
    for (uint64_t i = 0; i < c->cap; i++)
        if (c->slots[i].count) {
            uint64_t j = c->slots[i].hash & (cap - 1);
            while (s[j].count) j = (j + 1) & (cap - 1);
            s[j] = c->slots[i];
        }
    free(c->slots);
    c->slots = s;
    c->cap = cap;
    return 0;
}

static void counter_add(counter_t *c, const uint8_t *s, size_t n, uint64_t count) {
    if (c->failed || n == 0) return;
    if ((c->used + 1) * 2 > c->cap && counter_grow(c) != 0) {
        c->failed = 1;
        return;
    }
    uint64_t h = hash_piece(s, n), j = h & (c->cap - 1);
    for (; c->slots[j].count; j = (j + 1) & (c->cap - 1)) {
        entry_t *x = &c->slots[j];
        if (x->hash == h && x->len == n && memcmp(c->arena + x->off, s, n) == 0) {
            x->count += count;
            return;
        }
    }
    if (c->arena_len + n > c->arena_cap) {
        uint64_t cap = c->arena_cap ? c->arena_cap * 2 : 1 << 20;
        while (cap < c->arena_len + n) cap *= 2;
        uint8_t *a = realloc(c->arena, cap);
        if (!a) {
            c->failed = 1;
            return;
        }
        c->arena = a;
        c->arena_cap = cap;
    }
    memcpy(c->arena + c->arena_len, s, n);
    c->slots[j] = (entry_t){.hash = h, .count = count, .off = c->arena_len, .len = (uint32_t)n};
    c->arena_len += n;
    c->used++;
}

static void counter_free(counter_t *c) {
    free(c->slots);
    free(c->arena);
    memset(c, 0, sizeof *c);
}

static int count_piece(const char *text, size_t start, size_t end, void *ctx) {
    counter_add(ctx, (const uint8_t *)text + start, end - start, 1);
    return 0;
}

// ---- the tokenizer file ------------------------------------------------------------------------

static int write_tokenizer(const tok_train_opts_t *o, const char *regex, const bpe_merge_t *merges, int n_merges,
                           err_t *e) {
    json_object *root = json_object_new_object(), *m = json_object_new_array(), *sp = json_object_new_array();
    json_object_object_add(root, "format", json_object_new_string("manabi-tokenizer"));
    json_object_object_add(root, "version", json_object_new_int(1));
    json_object_object_add(root, "pattern", json_object_new_string(regex));
    for (int i = 0; i < n_merges; i++) {
        json_object *pair = json_object_new_array();
        json_object_array_add(pair, json_object_new_int(merges[i].left));
        json_object_array_add(pair, json_object_new_int(merges[i].right));
        json_object_array_add(m, pair);
    }
    json_object_object_add(root, "merges", m);
    int id = 256 + n_merges;
    for (int i = 0; i < N_RESERVED + o->n_extra_specials; i++) {
        const char *name = i < N_RESERVED ? reserved[i] : o->extra_specials[i - N_RESERVED];
        json_object *pair = json_object_new_array();
        json_object_array_add(pair, json_object_new_string(name));
        json_object_array_add(pair, json_object_new_int(id++));
        json_object_array_add(sp, pair);
    }
    json_object_object_add(root, "specials", sp);
    const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    io_atomic_t a;
    int rc = io_atomic_open(&a, o->out, e) == 0 && io_atomic_write(&a, s, strlen(s), e) == 0 &&
                     io_atomic_write(&a, "\n", 1, e) == 0 && io_atomic_commit(&a, e) == 0
                 ? 0
                 : -1;
    json_object_put(root);
    return rc;
}

// ---- input: documents from reader.h, joined by newlines -------------------------------------

// The documents of one input file as a byte stream: text files lose their <|endoftext|>
// delimiter lines, JSONL files their JSON syntax (the text field is what is learnt from).
typedef struct docs {
    rd_t *r;
    const char *text;  // the current document, from off on; NULL before the first
    size_t len, off;
    int sep;           // 1: a "\n" is owed before the next document
} docs_t;

static int docs_open(docs_t *d, const char *path, err_t *e) {
    memset(d, 0, sizeof *d);
    rd_config_t c;
    rd_config_default(&c);
    c.strict = 1;
    return rd_open(&d->r, path, &c, e);
}

// Fills buf with up to cap bytes; 1 with *got bytes, 0 at the end (*got may be > 0), -1 on error.
static int docs_fill(docs_t *d, char *buf, size_t cap, size_t *got, err_t *e) {
    size_t n = 0;
    while (n < cap) {
        if (d->text && d->off < d->len) {
            size_t k = d->len - d->off < cap - n ? d->len - d->off : cap - n;
            memcpy(buf + n, d->text + d->off, k);
            n += k, d->off += k;
            continue;
        }
        if (d->sep) {
            buf[n++] = '\n';
            d->sep = 0;
            continue;
        }
        rd_doc_t doc;
        int k = rd_next(d->r, &doc, e);
        if (k <= 0) {
            *got = n;
            return k;
        }
        d->text = doc.text, d->len = doc.len, d->off = 0, d->sep = 1;
    }
    *got = n;
    return 1;
}

static void docs_close(docs_t *d) {
    rd_close(d->r);
    memset(d, 0, sizeof *d);
}

// ---- training ----------------------------------------------------------------------------------

int tok_train(const tok_train_opts_t *o, tok_train_report_t *r, err_t *e) {
    memset(r, 0, sizeof *r);
    int n_special = N_RESERVED + o->n_extra_specials;
    int n_merges = o->vocab_size - 256 - n_special;
    if (n_merges < 0)
        return err_set(e, "--vocab-size %d is smaller than 256 bytes + %d special tokens", o->vocab_size, n_special);
    if (o->n_inputs < 1) return err_set(e, "no input files");
    pretok_t *pre;
    if (pretok_new(&pre, o->pattern, e) != 0) return -1;
    int threads = o->threads > 0 ? o->threads : omp_get_max_threads();
    if (threads > 256) threads = 256;
    counter_t *cnt = calloc((size_t)threads, sizeof *cnt);
    char *block = malloc(BLOCK + 1);
    bpe_word_t *words = NULL;
    bpe_merge_t *merges = NULL;
    docs_t ds = {0};
    int rc = -1;
    if (!cnt || !block) {
        err_set(e, "out of memory");
        goto done;
    }
    double t0 = timing_now();
    for (int fi = 0; fi < o->n_inputs; fi++) {
        if (docs_open(&ds, o->inputs[fi], e) != 0) goto done;
        size_t carry = 0;  // bytes after the last newline of the previous block
        for (;;) {
            size_t got;
            int k = docs_fill(&ds, block + carry, BLOCK - carry, &got, e);
            if (k < 0) goto done;
            size_t len = carry + got;
            int last = k == 0;
            size_t cut = len;  // process up to the last newline, unless this is the end
            if (!last) {
                while (cut > 0 && block[cut - 1] != '\n') cut--;
                if (cut == 0) cut = len;  // one enormous line: cut anyway
            }
            // One slice per thread, each ending just after a newline.
            size_t bounds[257];
            bounds[0] = 0;
            for (int t = 1; t < threads; t++) {
                size_t b = cut * (size_t)t / (size_t)threads;
                if (b < bounds[t - 1]) b = bounds[t - 1];
                while (b > 0 && b < cut && block[b - 1] != '\n') b++;
                bounds[t] = b;
            }
            bounds[threads] = cut;
            int split_failed = 0;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
            for (int t = 0; t < threads; t++) {
                err_t te = {0};
                if (pretok_split(pre, block + bounds[t], bounds[t + 1] - bounds[t], count_piece, &cnt[t], &te) != 0)
                    split_failed = 1;
            }
            if (split_failed) {
                err_set(e, "%s: the split pattern failed on this text", o->inputs[fi]);
                goto done;
            }
            r->bytes += (int64_t)cut;
            memmove(block, block + cut, len - cut);
            carry = len - cut;
            if (last && carry == 0) break;
            if (o->verbose) {
                printf("\rcounting: %.1f MB", r->bytes / 1e6);
                fflush(stdout);
            }
        }
        docs_close(&ds);
    }
    // Add the per-thread tables into the first.
    for (int t = 1; t < threads; t++) {
        for (uint64_t i = 0; i < cnt[t].cap; i++)
            if (cnt[t].slots[i].count)
                counter_add(&cnt[0], cnt[t].arena + cnt[t].slots[i].off, cnt[t].slots[i].len, cnt[t].slots[i].count);
        counter_free(&cnt[t]);
    }
    for (int t = 0; t < threads; t++)
        if (cnt[t].failed) {
            err_set(e, "out of memory counting pieces");
            goto done;
        }
    if (r->bytes == 0) {
        err_set(e, "the input is empty: nothing to learn from");
        goto done;
    }
    r->distinct = (int64_t)cnt[0].used;
    words = malloc(sizeof *words * (cnt[0].used + 1));
    merges = malloc(sizeof *merges * ((size_t)n_merges + 1));
    if (!words || !merges) {
        err_set(e, "out of memory");
        goto done;
    }
    size_t nw = 0;
    for (uint64_t i = 0; i < cnt[0].cap; i++)
        if (cnt[0].slots[i].count) {
            entry_t *x = &cnt[0].slots[i];
            words[nw++] = (bpe_word_t){.bytes = cnt[0].arena + x->off, .len = x->len, .count = x->count};
            r->pieces += (int64_t)x->count;
        }
    double t1 = timing_now();
    r->count_s = t1 - t0;
    if (o->verbose) printf("\rcounted %.1f MB: %lld pieces, %lld distinct (%.1f s)\n", r->bytes / 1e6,
                           (long long)r->pieces, (long long)r->distinct, r->count_s);
    if (bpe_train(words, nw, n_merges, 1, merges, &r->merges, e) != 0) goto done;
    r->merge_s = timing_now() - t1;
    if (o->verbose) printf("learned %d merges (%.1f s)\n", r->merges, r->merge_s);
    if (write_tokenizer(o, pretok_regex(pre), merges, r->merges, e) != 0) goto done;
    rc = 0;
done:
    docs_close(&ds);
    if (cnt)
        for (int t = 0; t < threads; t++) counter_free(&cnt[t]);
    free(cnt);
    free(block);
    free(words);
    free(merges);
    pretok_free(pre);
    return rc;
}
