#include "tokenizer/bpe.h"

#include <stdlib.h>
#include <string.h>

enum { LONG_PIECE = 24 };  // from this many bytes on, the heap version

static uint64_t hash_bytes(const uint8_t *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    // The tail (0..7 bytes) by fixed-size loads: a variable-length memcpy is a libc call.
    uint64_t w = 0;
    size_t r = n - i;
    if (r >= 4) {
        uint32_t a, c;
        memcpy(&a, s + i, 4);
        memcpy(&c, s + i + r - 4, 4);
        w = (uint64_t)a | (uint64_t)c << 32;
    } else if (r > 0) {
        w = (uint64_t)s[i] | (uint64_t)s[i + r / 2] << 8 | (uint64_t)s[i + r - 1] << 16;
    }
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

// A slot keeps the upper 32 bits of its token's hash, so that probing past other tokens
// rarely touches their bytes (the lookups are the hot path of encoding).
static int32_t lookup_hashed(const bpe_t *b, const uint8_t *s, size_t n, uint64_t h) {
    uint64_t tag = h >> 32;
    for (uint64_t i = h & b->mask;; i = (i + 1) & b->mask) {
        uint64_t slot = b->slots[i];
        if (slot == 0) return -1;
        if (slot >> 32 != tag) continue;
        int32_t id = (int32_t)(uint32_t)slot - 1;
        if (b->off[id + 1] - b->off[id] == n && memcmp(b->blob + b->off[id], s, n) == 0) return id;
    }
}

int32_t bpe_lookup(const bpe_t *b, const uint8_t *s, size_t n) { return lookup_hashed(b, s, n, hash_bytes(s, n)); }

static inline uint64_t pair_hash(uint64_t key) {
    key *= 0x9E3779B97F4A7C15ULL;
    return key ^ (key >> 29);
}

// A slot packs the pair and its token into 64 bits (ids below 2^20), so that a probe touches
// 8 bytes: these lookups are where encoding spends its time, mostly waiting for memory.
#define PAIR_EMPTY UINT64_MAX
#define PAIR_KEY(l, r) ((uint64_t)(uint32_t)(l) << 20 | (uint32_t)(r))

int32_t bpe_pair(const bpe_t *b, int32_t left, int32_t right) {
    uint64_t key = PAIR_KEY(left, right);
    for (uint64_t i = pair_hash(key) & b->pair_mask;; i = (i + 1) & b->pair_mask) {
        uint64_t slot = b->pairs[i];
        if (slot == PAIR_EMPTY) return -1;
        if (slot >> 20 == key) return (int32_t)(slot & 0xFFFFF);
    }
}

static uint64_t *pair_table(uint64_t cap) {
    uint64_t *t = malloc(cap * sizeof *t);
    if (t) memset(t, 0xff, cap * sizeof *t);
    return t;
}

static int pair_insert(bpe_t *b, uint64_t key, int32_t val) {
    if ((b->pair_n + 1) * 2 > b->pair_mask + 1) {  // grow to keep the table at most half full
        uint64_t cap = (b->pair_mask + 1) * 2, *t = pair_table(cap);
        if (!t) return -1;
        for (uint64_t i = 0; i <= b->pair_mask; i++)
            if (b->pairs[i] != PAIR_EMPTY) {
                uint64_t j = pair_hash(b->pairs[i] >> 20) & (cap - 1);
                while (t[j] != PAIR_EMPTY) j = (j + 1) & (cap - 1);
                t[j] = b->pairs[i];
            }
        free(b->pairs);
        b->pairs = t;
        b->pair_mask = cap - 1;
    }
    uint64_t j = pair_hash(key) & b->pair_mask;
    while (b->pairs[j] != PAIR_EMPTY) j = (j + 1) & b->pair_mask;
    b->pairs[j] = key << 20 | (uint32_t)val;
    b->pair_n++;
    return 0;
}

// Every way of cutting a token into two tokens: (left, right) -> the token.  Encoding merges
// two adjacent parts exactly when their bytes joined are a token, so with this table it
// never hashes bytes inside a piece.
static int build_pairs(bpe_t *b) {
    // Two bytes: a direct table (small enough to stay in cache; most lookups in a piece start
    // from single bytes).
    b->byte_pair = malloc(65536 * sizeof *b->byte_pair);
    if (!b->byte_pair) return -1;
    for (int x = 0; x < 256; x++)
        for (int y = 0; y < 256; y++) {
            uint8_t two[2] = {(uint8_t)x, (uint8_t)y};
            b->byte_pair[x << 8 | y] = bpe_lookup(b, two, 2);
        }
    b->pair_mask = 1023;
    b->pairs = pair_table(b->pair_mask + 1);
    if (!b->pairs) return -1;
    for (int32_t id = 0; id < b->n; id++) {
        size_t len;
        const uint8_t *t = bpe_token(b, id, &len);
        for (size_t k = 1; k < len; k++) {
            int32_t l = bpe_lookup(b, t, k), r = l < 0 ? -1 : bpe_lookup(b, t + k, len - k);
            if (r >= 0 && pair_insert(b, PAIR_KEY(l, r), id) != 0) return -1;
        }
    }
    return 0;
}

void bpe_free(bpe_t *b) {
    if (!b) return;
    free(b->blob);
    free(b->off);
    free(b->slots);
    free(b->pairs);
    free(b->byte_pair);
    memset(b, 0, sizeof *b);
}

int bpe_init(bpe_t *b, const uint8_t *const *tokens, const uint32_t *len, int32_t n, err_t *e) {
    memset(b, 0, sizeof *b);
    if (n > BPE_MAX_TOKENS) return err_set(e, "%d tokens: at most %d are supported", n, BPE_MAX_TOKENS);
    uint64_t total = 0, cap = 16;
    for (int32_t i = 0; i < n; i++) total += len[i];
    while (cap < (uint64_t)n * 2) cap *= 2;  // load factor at most 1/2
    b->blob = malloc(total ? total : 1);
    b->off = malloc(sizeof(uint64_t) * ((size_t)n + 1));
    b->slots = calloc(cap, sizeof *b->slots);
    if (!b->blob || !b->off || !b->slots) {
        bpe_free(b);
        return err_set(e, "out of memory for a vocabulary of %d tokens", n);
    }
    b->mask = cap - 1;
    b->n = n;
    for (int k = 0; k < 256; k++) b->byte_id[k] = -1;
    uint64_t o = 0;
    for (int32_t i = 0; i < n; i++) {
        b->off[i] = o;
        if (len[i] == 0) {
            bpe_free(b);
            return err_set(e, "token %d is empty", i);
        }
        memcpy(b->blob + o, tokens[i], len[i]);
        o += len[i];
        b->off[i + 1] = o;
        if (bpe_lookup(b, tokens[i], len[i]) >= 0) {
            int32_t other = bpe_lookup(b, tokens[i], len[i]);
            bpe_free(b);
            return err_set(e, "tokens %d and %d have the same bytes", other, i);
        }
        uint64_t h = hash_bytes(tokens[i], len[i]), j = h & b->mask;
        while (b->slots[j]) j = (j + 1) & b->mask;
        b->slots[j] = (h >> 32) << 32 | (uint64_t)(i + 1);
        if (len[i] == 1) b->byte_id[tokens[i][0]] = i;
    }
    for (int k = 0; k < 256; k++)
        if (b->byte_id[k] < 0) {
            bpe_free(b);
            return err_set(e, "the vocabulary has no token for byte 0x%02x: every byte needs one", k);
        }
    if (build_pairs(b) != 0) {
        bpe_free(b);
        return err_set(e, "out of memory for the pair table of %d tokens", n);
    }
    return 0;
}

void bpe_scratch_free(bpe_scratch_t *s) {
    if (!s) return;
    free(s->start);
    free(s->rank);
    free(s->prev);
    free(s->next);
    free(s->heap);
    free(s->cache);
    free(s->pair_cache);
    memset(s, 0, sizeof *s);
}

static int reserve(bpe_scratch_t *s, size_t n) {
    if (n + 2 <= s->cap) return 0;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n + 2) cap *= 2;
    uint32_t *st = realloc(s->start, cap * sizeof *st);
    if (st) s->start = st;
    int32_t *rk = realloc(s->rank, cap * sizeof *rk);
    if (rk) s->rank = rk;
    int32_t *pv = realloc(s->prev, cap * sizeof *pv);
    if (pv) s->prev = pv;
    int32_t *nx = realloc(s->next, cap * sizeof *nx);
    if (nx) s->next = nx;
    uint64_t *hp = realloc(s->heap, 2 * cap * sizeof *hp);
    if (hp) s->heap = hp;
    if (!st || !rk || !pv || !nx || !hp) return -1;
    s->cap = cap;
    return 0;
}

#define NO_RANK INT32_MAX

// The token two adjacent parts make, as a rank (NO_RANK if they make none).
// bpe_pair through a small direct-mapped cache of recent answers: a text keeps meeting the
// same pairs, and the full table is far larger than the CPU's caches.  An entry holds
// key << 20 | token, with token 0xFFFFF for "none"; 0 is an empty entry.
static inline int32_t pair_rank(const bpe_t *b, bpe_scratch_t *s, int32_t l, int32_t r) {
    uint64_t key = PAIR_KEY(l, r), *c = &s->pair_cache[(key * 0x9E3779B97F4A7C15ULL) >> (64 - BPE_PAIR_CACHE_BITS)];
    if (*c && *c >> 20 == key) {
        int32_t id = (int32_t)(*c & 0xFFFFF);
        return id == 0xFFFFF ? NO_RANK : id;
    }
    int32_t id = bpe_pair(b, l, r);
    *c = key << 20 | (uint64_t)(id < 0 ? 0xFFFFF : id);
    return id < 0 ? NO_RANK : id;
}

static inline int32_t byte_pair_rank(const bpe_t *b, uint8_t x, uint8_t y) {
    int32_t id = b->byte_pair[x << 8 | y];
    return id < 0 ? NO_RANK : id;
}

// tiktoken's byte_pair_merge on token ids: parts id[0..m), rank[i] is the token that parts
// i and i+1 make.  Each step merges the lowest rank, the leftmost on ties.
static int64_t merge_short(const bpe_t *b, bpe_scratch_t *s, const uint8_t *piece, size_t n, int32_t *out) {
    int32_t *id = out, *rk = s->rank;
    size_t m = n;
    for (size_t i = 0; i < n; i++) id[i] = b->byte_id[piece[i]];
    for (size_t i = 0; i + 1 < m; i++) rk[i] = byte_pair_rank(b, piece[i], piece[i + 1]);
    while (m > 1) {
        // The lowest rank, then its first position: two plain loops the compiler vectorises.
        int32_t best = NO_RANK;
        for (size_t i = 0; i + 1 < m; i++) best = rk[i] < best ? rk[i] : best;
        if (best == NO_RANK) break;
        size_t bi = 0;
        while (rk[bi] != best) bi++;
        id[bi] = best;  // parts bi and bi+1 become token `best`
        memmove(id + bi + 1, id + bi + 2, (m - bi - 2) * sizeof *id);
        memmove(rk + bi + 1, rk + bi + 2, (m > bi + 2 ? m - bi - 2 : 0) * sizeof *rk);
        m--;
        if (bi + 1 < m) rk[bi] = pair_rank(b, s, id[bi], id[bi + 1]);
        if (bi > 0) rk[bi - 1] = pair_rank(b, s, id[bi - 1], id[bi]);
    }
    return (int64_t)m;
}

// Min-heap of (rank << 32 | part index): the lowest rank first, then the leftmost part.
static void heap_push(bpe_scratch_t *s, uint64_t v) {
    size_t i = s->heap_n++;
    while (i > 0 && s->heap[(i - 1) / 2] > v) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = v;
}

static uint64_t heap_pop(bpe_scratch_t *s) {
    uint64_t top = s->heap[0], v = s->heap[--s->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n) break;
        if (c + 1 < s->heap_n && s->heap[c + 1] < s->heap[c]) c++;
        if (s->heap[c] >= v) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    s->heap[i] = v;
    return top;
}

// The same merges in O(n log n): the parts form a linked list (part i has token id[i], dead
// parts id -1); the heap holds candidate pairs, re-checked when popped.
static int64_t merge_long(const bpe_t *b, bpe_scratch_t *s, const uint8_t *piece, size_t n, int32_t *out) {
    int32_t *nx = s->next, *pv = s->prev, *rk = s->rank, *id = (int32_t *)s->start;
    s->heap_n = 0;
    for (size_t i = 0; i < n; i++) {
        id[i] = b->byte_id[piece[i]];
        pv[i] = (int32_t)i - 1;
        nx[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i < n; i++) {
        rk[i] = i + 1 < n ? byte_pair_rank(b, piece[i], piece[i + 1]) : NO_RANK;
        if (rk[i] != NO_RANK) heap_push(s, (uint64_t)rk[i] << 32 | i);
    }
    while (s->heap_n) {
        uint64_t top = heap_pop(s);
        int32_t r = (int32_t)(top >> 32), i = (int32_t)(uint32_t)top;
        if (id[i] < 0 || rk[i] != r) continue;  // stale entry
        int32_t j = nx[i];                       // merge j into i
        id[i] = r;
        nx[i] = nx[j];
        if (nx[j] >= 0) pv[nx[j]] = i;
        id[j] = -1;
        rk[j] = NO_RANK;
        rk[i] = nx[i] >= 0 ? pair_rank(b, s, id[i], id[nx[i]]) : NO_RANK;
        if (rk[i] != NO_RANK) heap_push(s, (uint64_t)rk[i] << 32 | (uint32_t)i);
        int32_t p = pv[i];
        if (p >= 0) {
            rk[p] = pair_rank(b, s, id[p], id[i]);
            if (rk[p] != NO_RANK) heap_push(s, (uint64_t)rk[p] << 32 | (uint32_t)p);
        }
    }
    int64_t m = 0;
    for (int32_t i = 0; i >= 0; i = nx[i]) out[m++] = id[i];
    return m;
}

int64_t bpe_encode_piece(const bpe_t *b, bpe_scratch_t *s, const uint8_t *piece, size_t n, int32_t *out) {
    if (n == 0) return 0;
    uint64_t h = hash_bytes(piece, n);
    int32_t whole = lookup_hashed(b, piece, n, h);
    if (whole >= 0) {
        out[0] = whole;
        return 1;
    }
    if (n == 1) {  // unreachable: every byte is a token
        out[0] = b->byte_id[piece[0]];
        return 1;
    }
    bpe_cache_entry_t *c = NULL;
    if (n <= BPE_CACHE_BYTES) {
        if (!s->cache) s->cache = calloc(BPE_CACHE_SLOTS, sizeof *s->cache);  // NULL: no cache, still correct
        if (s->cache) {
            c = &s->cache[(h >> 40) % BPE_CACHE_SLOTS];
            if (c->len == n && c->hash == h && memcmp(c->bytes, piece, n) == 0) {
                memcpy(out, c->ids, c->nids * sizeof *out);
                return c->nids;
            }
        }
    }
    if (reserve(s, n) != 0) return -1;
    if (!s->pair_cache && !(s->pair_cache = calloc((size_t)1 << BPE_PAIR_CACHE_BITS, sizeof *s->pair_cache))) return -1;
    int64_t m = n < LONG_PIECE ? merge_short(b, s, piece, n, out) : merge_long(b, s, piece, n, out);
    if (c && m <= BPE_CACHE_IDS) {
        c->hash = h;
        c->len = (uint16_t)n;
        c->nids = (uint16_t)m;
        memcpy(c->bytes, piece, n);
        memcpy(c->ids, out, (size_t)m * sizeof *out);
    }
    return m;
}
