// bpe_train: the incremental BPE trainer (see bpe_train.h for the contract).
//
// State, all owned by one trainer_t:
//   words   every kept pre-token as an array of symbol ids inside one buffer (sym), shrunk in
//           place as merges apply; only pre-tokens with len >= 2 and count > 0 are kept.
//   map     open-addressing hash map, packed pair (left << 32 | right) -> current count and the
//           head of the pair's word list.
//   nodes   the word lists: singly linked nodes (word id, next) in one arena with a free list.
//           A word is put on a pair's list when the pair first appears in it; it is never taken
//           off, so a list may name words that no longer hold the pair (they are skipped).
//   heap    max-heap of (count, pair) ordered by count, then smaller packed key.  Entries go
//           stale when a count drops; a popped entry whose count differs from the map's is
//           pushed back with the current count (lazy invalidation).
//
// Why the lazy heap is exact: a merge (a, b) -> z only lowers the counts of pairs without z (the
// symbols around a site lose neighbours, they gain none), and the pairs with z are new.  So every
// live pair keeps one heap entry whose stored count is >= its true count, and an entry whose
// stored count is current, found at the top, beats every other pair under the total order.
//
// Updating counts around a merge.  With the run rule for equal pairs (a run of k x's holds
// floor(k/2) pairs (x, x)), a word's pairs are: one (x, y) per boundary between runs, plus
// floor(k/2) (x, x) per run.  So if a word is cut at run boundaries, its pairs are those of the
// pieces plus one pair per cut.  Around each merge site we take a window that reaches one symbol
// beyond the site on each side and is then widened to whole runs; overlapping windows are joined.
// The symbols at a window's edges are not part of any site, so the cut pairs outside the windows
// are unchanged, and the update is: subtract the pairs of each old window, merge, add the pairs of
// each new window.  Pairs with z are the only ones that can be new in a word, so only they add
// the word to a list.
#include "tokenizer/bpe_train.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define EMPTY_KEY UINT64_MAX  // no pair packs to this: ids are < 2^31

static uint64_t pair_key(int32_t left, int32_t right) {
    return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

typedef struct {
    uint64_t key;    // packed pair, EMPTY_KEY for a free slot
    uint64_t count;  // current count of the pair over all words
    uint32_t head;   // first node of the pair's word list, NIL when empty
} slot_t;

typedef struct {
    uint32_t word, next;
} node_t;

typedef struct {
    uint64_t count, key;
} heap_item_t;

typedef struct {
    uint32_t lo, hi, n_sites;  // old positions [lo, hi) of one window and the sites inside it
} window_t;

typedef struct {
    // words: word w is sym[off[w] .. off[w] + len[w]), occurring cnt[w] times
    int32_t *sym;
    size_t *off;
    uint32_t *len;
    uint64_t *cnt;
    uint32_t n_words;
    // pair -> count, list head
    slot_t *slots;
    size_t cap, used;  // cap is a power of 2
    // word lists
    node_t *nodes;
    uint32_t n_nodes, cap_nodes, free_node;
    // heap
    heap_item_t *heap;
    size_t n_heap, cap_heap;
    // pairs created during the current step (pushed onto the heap once their count is final)
    uint64_t *fresh;
    size_t n_fresh, cap_fresh;
    // scratch for one word: merge sites and windows, (max_len / 2) entries each
    uint32_t *sites;
    window_t *wins;
    // the token being created; pairs with it are new; -1 during the initial count (all are new)
    int32_t z;
    err_t *e;
} trainer_t;

// Returns buf grown to hold at least need elements of size elem (capacity *cap, updated), or
// NULL with e set, buf being left as it was.
static void *grow(void *buf, size_t *cap, size_t need, size_t elem, err_t *e, const char *what) {
    if (need <= *cap) return buf;
    size_t c = *cap ? *cap : 64;
    while (c < need) c += c / 2 + 1;
    void *p = realloc(buf, c * elem);
    if (!p) {
        err_set(e, "bpe_train: out of memory growing the %s to %zu entries", what, c);
        return NULL;
    }
    *cap = c;
    return p;
}

// ---- hash map ----------------------------------------------------------------------------------

static size_t map_hash(uint64_t key, size_t cap) {
    // murmur3's 64-bit finalizer: packed pairs differ in few bits, so mix before masking
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

// Returns the slot index of key, or SIZE_MAX when absent.
static size_t map_find(const trainer_t *t, uint64_t key) {
    for (size_t i = map_hash(key, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].key == key) return i;
        if (t->slots[i].key == EMPTY_KEY) return SIZE_MAX;
    }
}

static int map_alloc(trainer_t *t, size_t cap) {
    t->slots = malloc(cap * sizeof *t->slots);
    if (!t->slots) return err_set(t->e, "bpe_train: out of memory for a pair table of %zu slots", cap);
    for (size_t i = 0; i < cap; i++) t->slots[i] = (slot_t){EMPTY_KEY, 0, NIL};
    t->cap = cap;
    return 0;
}

// Keeps the load factor at most 3/4.
static int map_reserve(trainer_t *t, size_t n) {
    if (4 * n <= 3 * t->cap) return 0;
    slot_t *old = t->slots;
    size_t old_cap = t->cap, cap = old_cap;
    while (4 * n > 3 * cap) cap *= 2;
    if (map_alloc(t, cap) != 0) {
        t->slots = old;
        t->cap = old_cap;
        return -1;
    }
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key == EMPTY_KEY) continue;
        size_t j = map_hash(old[i].key, cap);
        while (t->slots[j].key != EMPTY_KEY) j = (j + 1) & (cap - 1);
        t->slots[j] = old[i];
    }
    free(old);
    return 0;
}

// Finds or inserts key (count 0, empty list); *created tells which.
static int map_upsert(trainer_t *t, uint64_t key, size_t *idx, int *created) {
    if (map_reserve(t, t->used + 1) != 0) return -1;
    size_t i = map_hash(key, t->cap);
    while (t->slots[i].key != key && t->slots[i].key != EMPTY_KEY) i = (i + 1) & (t->cap - 1);
    *created = t->slots[i].key == EMPTY_KEY;
    if (*created) {
        t->slots[i].key = key;
        t->used++;
    }
    *idx = i;
    return 0;
}

// ---- heap --------------------------------------------------------------------------------------

static int heap_above(heap_item_t x, heap_item_t y) {
    return x.count > y.count || (x.count == y.count && x.key < y.key);
}

static void heap_sift_down(trainer_t *t, size_t i) {
    heap_item_t *h = t->heap, x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->n_heap) break;
        if (c + 1 < t->n_heap && heap_above(h[c + 1], h[c])) c++;
        if (!heap_above(h[c], x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static int heap_push(trainer_t *t, uint64_t count, uint64_t key) {
    heap_item_t *h = grow(t->heap, &t->cap_heap, t->n_heap + 1, sizeof *t->heap, t->e, "pair heap");
    if (!h) return -1;
    t->heap = h;
    heap_item_t x = {count, key};
    size_t i = t->n_heap++;
    while (i > 0 && heap_above(x, t->heap[(i - 1) / 2])) {
        t->heap[i] = t->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    t->heap[i] = x;
    return 0;
}

static void heap_pop(trainer_t *t) {
    t->heap[0] = t->heap[--t->n_heap];
    if (t->n_heap) heap_sift_down(t, 0);
}

// ---- counts ------------------------------------------------------------------------------------

// Adds d to the count of key for word w (subtracts when sub).  A pair that is new in w (every pair
// during the initial count, pairs with t->z afterwards) puts w on its list, once.
static int pair_delta(trainer_t *t, uint64_t key, uint64_t d, int sub, uint32_t w) {
    if (sub) {
        size_t i = map_find(t, key);
        if (i == SIZE_MAX || t->slots[i].count < d)
            return err_set(t->e, "bpe_train: internal error: count of pair (%u, %u) would go below zero",
                           (unsigned)(key >> 32), (unsigned)(uint32_t)key);
        t->slots[i].count -= d;
        return 0;
    }
    size_t i;
    int created;
    if (map_upsert(t, key, &i, &created) != 0) return -1;
    t->slots[i].count += d;
    if (t->z >= 0 && (uint32_t)(key >> 32) != (uint32_t)t->z && (uint32_t)key != (uint32_t)t->z) return 0;
    if (created) {
        uint64_t *f = grow(t->fresh, &t->cap_fresh, t->n_fresh + 1, sizeof *t->fresh, t->e, "new pair list");
        if (!f) return -1;
        t->fresh = f;
        t->fresh[t->n_fresh++] = key;
    }
    uint32_t head = t->slots[i].head;
    if (head != NIL && t->nodes[head].word == w) return 0;  // w is already on the list
    uint32_t n = t->free_node;
    if (n != NIL) {
        t->free_node = t->nodes[n].next;
    } else {
        if (t->n_nodes == NIL) return err_set(t->e, "bpe_train: more than 2^32 - 1 pair occurrences to index");
        size_t cap = t->cap_nodes;
        node_t *nodes = grow(t->nodes, &cap, (size_t)t->n_nodes + 1, sizeof *t->nodes, t->e, "pair index");
        if (!nodes) return -1;
        t->nodes = nodes;
        t->cap_nodes = cap > NIL ? NIL : (uint32_t)cap;
        n = t->n_nodes++;
    }
    t->nodes[n] = (node_t){w, head};
    t->slots[i].head = n;  // i is still valid: nothing was inserted since map_upsert
    return 0;
}

// Adds (or subtracts) c times the pairs of the symbols s[0..n) of word w, taken on their own:
// one (x, y) per boundary between runs and floor(k / 2) (x, x) per run of k x's.
static int add_segment(trainer_t *t, const int32_t *s, uint32_t n, uint64_t c, int sub, uint32_t w) {
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        while (j < n && s[j] == s[i]) j++;
        if (j - i >= 2 && pair_delta(t, pair_key(s[i], s[i]), (uint64_t)((j - i) / 2) * c, sub, w) != 0) return -1;
        if (j < n && pair_delta(t, pair_key(s[i], s[j]), c, sub, w) != 0) return -1;
        i = j;
    }
    return 0;
}

// Applies (a, b) -> z to word w and updates the counts of the pairs around each site.
static int merge_word(trainer_t *t, uint32_t w, int32_t a, int32_t b, int32_t z) {
    int32_t *s = t->sym + t->off[w];
    uint32_t n = t->len[w], n_sites = 0, n_wins = 0;
    uint64_t c = t->cnt[w];
    for (uint32_t i = 0; i + 1 < n;) {
        if (s[i] == a && s[i + 1] == b) {
            t->sites[n_sites++] = i;
            i += 2;
        } else {
            i++;
        }
    }
    if (!n_sites) return 0;  // a stale entry of the list
    for (uint32_t k = 0; k < n_sites; k++) {
        uint32_t p = t->sites[k];
        uint32_t l0 = p > 0 ? p - 1 : p, r0 = p + 2 < n ? p + 2 : p + 1, lo = l0, hi = r0 + 1;
        while (lo > 0 && s[lo - 1] == s[l0]) lo--;
        while (hi < n && s[hi] == s[r0]) hi++;
        if (n_wins && lo < t->wins[n_wins - 1].hi) {  // overlaps the previous window: join them
            t->wins[n_wins - 1].hi = hi;
            t->wins[n_wins - 1].n_sites++;
        } else {
            t->wins[n_wins++] = (window_t){lo, hi, 1};
        }
    }
    for (uint32_t k = 0; k < n_wins; k++)
        if (add_segment(t, s + t->wins[k].lo, t->wins[k].hi - t->wins[k].lo, c, 1, w) != 0) return -1;
    uint32_t o = 0;
    for (uint32_t i = 0, k = 0; i < n;) {
        if (k < n_sites && i == t->sites[k]) {
            s[o++] = z;
            i += 2;
            k++;
        } else {
            s[o++] = s[i++];
        }
    }
    t->len[w] = o;
    uint32_t shift = 0;  // sites before the current window
    for (uint32_t k = 0; k < n_wins; k++) {
        uint32_t lo = t->wins[k].lo - shift;
        shift += t->wins[k].n_sites;
        uint32_t hi = t->wins[k].hi - shift;
        if (add_segment(t, s + lo, hi - lo, c, 0, w) != 0) return -1;
    }
    return 0;
}

// Pushes the pairs created in this step whose final count reaches min_count.
static int push_fresh(trainer_t *t, uint64_t min_count) {
    for (size_t k = 0; k < t->n_fresh; k++) {
        uint64_t count = t->slots[map_find(t, t->fresh[k])].count;
        if (count >= min_count && heap_push(t, count, t->fresh[k]) != 0) return -1;
    }
    t->n_fresh = 0;
    return 0;
}

// Merges (a, b) -> z in every word on the pair's list, then recycles the list.
static int merge_pair(trainer_t *t, int32_t a, int32_t b, int32_t z, uint64_t min_count) {
    uint64_t key = pair_key(a, b);
    size_t i = map_find(t, key);
    uint32_t first = t->slots[i].head, last = NIL;
    t->slots[i].head = NIL;
    t->z = z;
    for (uint32_t n = first; n != NIL; n = t->nodes[n].next) {
        if (merge_word(t, t->nodes[n].word, a, b, z) != 0) return -1;
        last = n;
    }
    if (last != NIL) {
        t->nodes[last].next = t->free_node;
        t->free_node = first;
    }
    i = map_find(t, key);  // the table may have grown
    if (t->slots[i].count != 0)
        return err_set(t->e, "bpe_train: internal error: pair (%d, %d) still counted %llu times after its merge",
                       a, b, (unsigned long long)t->slots[i].count);
    return push_fresh(t, min_count);
}

// ---- setup and the main loop -------------------------------------------------------------------

static void trainer_free(trainer_t *t) {
    free(t->sym);
    free(t->off);
    free(t->len);
    free(t->cnt);
    free(t->slots);
    free(t->nodes);
    free(t->heap);
    free(t->fresh);
    free(t->sites);
    free(t->wins);
}

// Copies the words that can hold a pair, checks the overflow bound, counts every pair.
static int trainer_init(trainer_t *t, const bpe_word_t *words, size_t n_words, uint64_t min_count) {
    size_t n_keep = 0, n_sym = 0;
    uint32_t max_len = 0;
    uint64_t total = 0;  // sum of count x (len - 1): bounds every pair count
    for (size_t i = 0; i < n_words; i++) {
        const bpe_word_t *wd = &words[i];
        if (wd->len > 0 && !wd->bytes) return err_set(t->e, "bpe_train: word %zu has length %u but no bytes", i, wd->len);
        if (wd->len < 2 || wd->count == 0) continue;
        uint64_t prod;
        if (__builtin_mul_overflow(wd->count, (uint64_t)(wd->len - 1), &prod) ||
            __builtin_add_overflow(total, prod, &total))
            return err_set(t->e, "bpe_train: pair counts could overflow 64 bits (at word %zu, count %llu); "
                           "scale the counts down", i, (unsigned long long)wd->count);
        n_keep++;
        n_sym += wd->len;
        if (wd->len > max_len) max_len = wd->len;
    }
    if (n_keep >= NIL) return err_set(t->e, "bpe_train: %zu words is too many (at most 2^32 - 2)", n_keep);
    t->sym = malloc((n_sym ? n_sym : 1) * sizeof *t->sym);
    t->off = malloc((n_keep ? n_keep : 1) * sizeof *t->off);
    t->len = malloc((n_keep ? n_keep : 1) * sizeof *t->len);
    t->cnt = malloc((n_keep ? n_keep : 1) * sizeof *t->cnt);
    t->sites = malloc((max_len / 2 + 1) * sizeof *t->sites);
    t->wins = malloc((max_len / 2 + 1) * sizeof *t->wins);
    if (!t->sym || !t->off || !t->len || !t->cnt || !t->sites || !t->wins)
        return err_set(t->e, "bpe_train: out of memory for %zu words of %zu bytes in all", n_keep, n_sym);
    size_t pos = 0;
    for (size_t i = 0; i < n_words; i++) {
        const bpe_word_t *wd = &words[i];
        if (wd->len < 2 || wd->count == 0) continue;
        uint32_t w = t->n_words++;
        t->off[w] = pos;
        t->len[w] = wd->len;
        t->cnt[w] = wd->count;
        for (uint32_t j = 0; j < wd->len; j++) t->sym[pos++] = wd->bytes[j];
    }
    // most words hold each of their pairs once: one list node per symbol is a close first guess
    size_t cap_nodes = n_sym < NIL ? (n_sym ? n_sym : 1) : NIL - 1;
    t->nodes = malloc(cap_nodes * sizeof *t->nodes);
    if (!t->nodes) return err_set(t->e, "bpe_train: out of memory for a pair index of %zu entries", cap_nodes);
    t->cap_nodes = (uint32_t)cap_nodes;
    t->free_node = NIL;
    if (map_alloc(t, 1 << 16) != 0) return -1;
    t->z = -1;
    for (uint32_t w = 0; w < t->n_words; w++)
        if (add_segment(t, t->sym + t->off[w], t->len[w], t->cnt[w], 0, w) != 0) return -1;
    return push_fresh(t, min_count);
}

int bpe_train(const bpe_word_t *words, size_t n_words, int n_merges, uint64_t min_count,
              bpe_merge_t *out, int *n_out, err_t *e) {
    if (!n_out) return err_set(e, "bpe_train: n_out is NULL");
    *n_out = 0;
    if (n_merges < 0 || n_merges > INT32_MAX - 256)
        return err_set(e, "bpe_train: n_merges is %d; it must be in 0..%d", n_merges, INT32_MAX - 256);
    if (min_count < 1) return err_set(e, "bpe_train: min_count must be at least 1");
    if (n_words && !words) return err_set(e, "bpe_train: words is NULL but n_words is %zu", n_words);
    if (n_merges && !out) return err_set(e, "bpe_train: out is NULL but n_merges is %d", n_merges);
    if (n_merges == 0) return 0;

    trainer_t t = {0};
    t.e = e;
    int rc = trainer_init(&t, words, n_words, min_count);
    while (rc == 0 && *n_out < n_merges && t.n_heap > 0) {
        heap_item_t top = t.heap[0];
        uint64_t count = t.slots[map_find(&t, top.key)].count;
        if (count != top.count) {  // stale: the count dropped since the push
            heap_pop(&t);
            if (count >= min_count) rc = heap_push(&t, count, top.key);
            continue;
        }
        heap_pop(&t);
        int32_t a = (int32_t)(top.key >> 32), b = (int32_t)(uint32_t)top.key, z = 256 + *n_out;
        out[*n_out] = (bpe_merge_t){a, b, count};
        rc = merge_pair(&t, a, b, z, min_count);
        if (rc == 0) (*n_out)++;
    }
    trainer_free(&t);
    return rc;
}
