#include "tokenizer/bpe.h"

#include <stdlib.h>
#include <string.h>

enum { LONG_PIECE = 64 };  // from this many bytes on, the heap version

static uint64_t hash_bytes(const uint8_t *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
}

int32_t bpe_lookup(const bpe_t *b, const uint8_t *s, size_t n) {
    for (uint64_t i = hash_bytes(s, n) & b->mask;; i = (i + 1) & b->mask) {
        int32_t id = b->slots[i];
        if (id < 0) return -1;
        if (b->off[id + 1] - b->off[id] == n && memcmp(b->blob + b->off[id], s, n) == 0) return id;
    }
}

void bpe_free(bpe_t *b) {
    if (!b) return;
    free(b->blob);
    free(b->off);
    free(b->slots);
    memset(b, 0, sizeof *b);
}

int bpe_init(bpe_t *b, const uint8_t *const *tokens, const uint32_t *len, int32_t n, err_t *e) {
    memset(b, 0, sizeof *b);
    uint64_t total = 0, cap = 16;
    for (int32_t i = 0; i < n; i++) total += len[i];
    while (cap < (uint64_t)n * 2) cap *= 2;
    b->blob = malloc(total ? total : 1);
    b->off = malloc(sizeof(uint64_t) * ((size_t)n + 1));
    b->slots = malloc(sizeof(int32_t) * cap);
    if (!b->blob || !b->off || !b->slots) {
        bpe_free(b);
        return err_set(e, "out of memory for a vocabulary of %d tokens", n);
    }
    memset(b->slots, 0xff, sizeof(int32_t) * cap);
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
        uint64_t h = hash_bytes(tokens[i], len[i]) & b->mask;
        while (b->slots[h] >= 0) h = (h + 1) & b->mask;
        b->slots[h] = i;
        if (len[i] == 1) b->byte_id[tokens[i][0]] = i;
    }
    for (int k = 0; k < 256; k++)
        if (b->byte_id[k] < 0) {
            bpe_free(b);
            return err_set(e, "the vocabulary has no token for byte 0x%02x: every byte needs one", k);
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

// Rank of the token piece[a, b), or NO_RANK.
static inline int32_t rank_of(const bpe_t *b, const uint8_t *piece, uint32_t a, uint32_t c) {
    int32_t id = bpe_lookup(b, piece + a, c - a);
    return id < 0 ? NO_RANK : id;
}

// tiktoken's byte_pair_merge: parts are boundaries start[0..m]; rank[i] ranks part i joined
// with part i+1.
static int64_t merge_short(const bpe_t *b, bpe_scratch_t *s, const uint8_t *piece, size_t n, int32_t *out) {
    uint32_t *st = s->start;
    int32_t *rk = s->rank;
    size_t m = n;  // parts
    for (size_t i = 0; i <= n; i++) st[i] = (uint32_t)i;
    for (size_t i = 0; i + 1 < m; i++) rk[i] = rank_of(b, piece, st[i], st[i + 2]);
    while (m > 1) {
        int32_t best = NO_RANK;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < m; i++)
            if (rk[i] < best) best = rk[i], bi = i;
        if (best == NO_RANK) break;
        // Merge parts bi and bi+1: drop boundary bi+1.
        memmove(st + bi + 1, st + bi + 2, (m - bi - 1) * sizeof *st);
        memmove(rk + bi + 1, rk + bi + 2, (m > bi + 2 ? m - bi - 2 : 0) * sizeof *rk);
        m--;
        if (bi + 1 < m) rk[bi] = rank_of(b, piece, st[bi], st[bi + 2]);
        if (bi > 0) rk[bi - 1] = rank_of(b, piece, st[bi - 1], st[bi + 1]);
    }
    for (size_t i = 0; i < m; i++) out[i] = bpe_lookup(b, piece + st[i], st[i + 1] - st[i]);
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

// The same merges in O(n log n): parts form a linked list (part i spans start[i] up to the
// start of next[i]); the heap holds candidate pairs, re-checked when popped.
static int64_t merge_long(const bpe_t *b, bpe_scratch_t *s, const uint8_t *piece, size_t n, int32_t *out) {
    int32_t *nx = s->next, *pv = s->prev, *rk = s->rank;
    uint32_t *st = s->start;
    s->heap_n = 0;
    for (size_t i = 0; i < n; i++) {
        st[i] = (uint32_t)i;
        pv[i] = (int32_t)i - 1;
        nx[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    st[n] = (uint32_t)n;
    // end of the part after i: the start of next(next(i)), or n
#define PAIR_END(i) (nx[nx[i]] >= 0 ? st[nx[nx[i]]] : (uint32_t)n)
    for (size_t i = 0; i + 1 < n; i++) {
        rk[i] = rank_of(b, piece, st[i], PAIR_END(i));
        if (rk[i] != NO_RANK) heap_push(s, (uint64_t)rk[i] << 32 | i);
    }
    if (n) rk[n - 1] = NO_RANK;
    while (s->heap_n) {
        uint64_t top = heap_pop(s);
        int32_t r = (int32_t)(top >> 32), i = (int32_t)(uint32_t)top;
        if (st[i] == UINT32_MAX || rk[i] != r || nx[i] < 0) continue;  // stale entry
        int32_t j = nx[i];  // merge j into i
        nx[i] = nx[j];
        if (nx[j] >= 0) pv[nx[j]] = i;
        st[j] = UINT32_MAX;  // dead
        rk[j] = NO_RANK;
        rk[i] = nx[i] >= 0 ? rank_of(b, piece, st[i], PAIR_END(i)) : NO_RANK;
        if (rk[i] != NO_RANK) heap_push(s, (uint64_t)rk[i] << 32 | (uint32_t)i);
        int32_t p = pv[i];
        if (p >= 0) {
            rk[p] = rank_of(b, piece, st[p], PAIR_END(p));
            if (rk[p] != NO_RANK) heap_push(s, (uint64_t)rk[p] << 32 | (uint32_t)p);
        }
    }
#undef PAIR_END
    int64_t m = 0;
    for (int32_t i = n ? 0 : -1; i >= 0; i = nx[i]) {
        uint32_t end = nx[i] >= 0 ? st[nx[i]] : (uint32_t)n;
        out[m++] = bpe_lookup(b, piece + st[i], end - st[i]);
    }
    return m;
}

int64_t bpe_encode_piece(const bpe_t *b, bpe_scratch_t *s, const uint8_t *piece, size_t n, int32_t *out) {
    if (n == 0) return 0;
    int32_t whole = bpe_lookup(b, piece, n);
    if (whole >= 0) {
        out[0] = whole;
        return 1;
    }
    if (n == 1) {  // unreachable: every byte is a token
        out[0] = b->byte_id[piece[0]];
        return 1;
    }
    if (reserve(s, n) != 0) return -1;
    return n < LONG_PIECE ? merge_short(b, s, piece, n, out) : merge_long(b, s, piece, n, out);
}
