// bpe_train: the incremental BPE trainer (see bpe_train.h for the contract).
//
// State, all owned by one trainer_t:
//   words   every pre-token that can hold a pair (len >= 2, count > 0) as [len, count (2 words),
//           symbols...] in one uint32 buffer; a word's id is the offset of its header, so one
//           cache miss brings in its length, count and first symbols.  Merges shrink words in place.
//   map     open-addressing hash map (linear probing, backward-shift deletion): packed pair
//           (left << 32 | right) -> current count and the pair's word list.
//   lists   for each pair, the words it appeared in, as one contiguous sorted run of word ids in
//           an arena (idx).  A pair only ever appears in new words during the step that creates
//           the newer of its two tokens (see below), so its list is complete when that step ends
//           and is written once, then.  Words are never taken off a list: a word that lost the
//           pair is skipped when the list is walked.  Lists of pairs that were merged or fell
//           below min_count are dead; the arena is compacted when it fills.
//   heap    max-heap of (count, pair): larger count first, then smaller packed key (smaller left,
//           then smaller right).  Entries go stale when a count drops; a popped entry whose count
//           differs from the map's is pushed back with the current count (lazy invalidation).
//
// Why this is exact.  A merge (a, b) -> z only lowers the counts of pairs without z (the symbols
// around a site lose neighbours and gain none; a run of equal symbols only shrinks), and the
// pairs with z are new.  So (1) a pair gains words and count only in the step that creates its
// newer token, (2) every pair at or above min_count keeps one heap entry whose stored count is
// >= its true count, and an entry found at the top with its current count beats every other pair
// under the total order, and (3) a pair whose count is below min_count can never be merged: it is
// dropped from the map, and later updates of a pair not in the map are ignored.
//
// Updating counts around a merge.  With the run rule for equal pairs (a run of k x's holds
// floor(k/2) pairs (x, x)), a word's pairs are: one (x, y) per boundary between runs, plus
// floor(k/2) (x, x) per run.  So if a word is cut at run boundaries, its pairs are those of the
// pieces plus one pair per cut.  Around each merge site we take a window that reaches one symbol
// beyond the site on each side and is then widened to whole runs; overlapping windows are joined.
// The symbols at a window's edges are not part of any site, so the cut pairs outside the windows
// are unchanged, and the update is: subtract the pairs of each old window, merge, add the pairs of
// each new window.
#include "tokenizer/bpe_train.h"

#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define NONE SIZE_MAX
#define EMPTY_KEY UINT64_MAX  // no pair packs to this: ids are < 2^31
#define HDR 3                 // words and lists start with 3 header entries
#define PREFETCH 8            // how many words ahead a list walk prefetches

static uint64_t pair_key(uint32_t left, uint32_t right) { return (uint64_t)left << 32 | right; }

typedef struct {
    uint64_t key;    // packed pair, EMPTY_KEY for a free slot
    uint64_t count;  // current count of the pair over all words
    uint32_t list;   // during the pair's first step: its index among the fresh pairs; then the
                     // offset in idx of its word list
    uint32_t n;      // words on the list; 0 when the list is dead or was never kept
} slot_t;

typedef struct {
    uint64_t count, key;
} heap_item_t;

typedef struct {
    uint32_t fresh, word;  // fresh pair `fresh` appeared in `word` during this step
} pend_t;

typedef struct {
    uint32_t lo, hi, n_sites;  // old positions [lo, hi) of one window and the sites inside it
} window_t;

typedef enum { PAIRS_SUB, PAIRS_ADD, PAIRS_FILL } pairs_mode_t;

typedef struct {
    // words: word w is buf[w] = len, buf[w + 1 .. w + 2] = count (low, high), buf[w + 3 ..] = symbols
    uint32_t *buf;
    // pair -> count, list
    slot_t *slots;
    size_t cap, used;  // cap is a power of 2
    // lists: each is [n, key low, key high, n word ids] (the header lets compaction find its slot)
    uint32_t *idx;
    size_t n_idx, cap_idx;
    // heap
    heap_item_t *heap;
    size_t n_heap, cap_heap;
    // pairs created during the current step: key, and the last word they were seen in (their
    // list cursor while lists are written); pend holds their (pair, word) entries
    uint64_t *fresh_key;
    uint32_t *fresh_last;
    size_t n_fresh, cap_fresh;
    pend_t *pend;
    size_t n_pend, cap_pend;
    // scratch for one word: merge sites and windows, (max_len / 2 + 1) entries each
    uint32_t *sites;
    window_t *wins;
    // the token being created (pairs with it are new); during the initial count every pair is new
    uint32_t z;
    int initial;
    uint64_t min_count;
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

// Returns the slot index of key, or NONE when absent.
static size_t map_find(const trainer_t *t, uint64_t key) {
    for (size_t i = map_hash(key, t->cap);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].key == key) return i;
        if (t->slots[i].key == EMPTY_KEY) return NONE;
    }
}

static int map_alloc(trainer_t *t, size_t cap) {
    t->slots = malloc(cap * sizeof *t->slots);
    if (!t->slots) return err_set(t->e, "bpe_train: out of memory for a pair table of %zu slots", cap);
    for (size_t i = 0; i < cap; i++) t->slots[i] = (slot_t){EMPTY_KEY, 0, 0, 0};
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

// Finds or inserts key (count 0, no list); *created tells which.
static int map_upsert(trainer_t *t, uint64_t key, size_t *idx, int *created) {
    if (map_reserve(t, t->used + 1) != 0) return -1;
    size_t i = map_hash(key, t->cap);
    while (t->slots[i].key != key && t->slots[i].key != EMPTY_KEY) i = (i + 1) & (t->cap - 1);
    *created = t->slots[i].key == EMPTY_KEY;
    if (*created) {
        t->slots[i] = (slot_t){key, 0, 0, 0};
        t->used++;
    }
    *idx = i;
    return 0;
}

// Removes slot i, shifting back the entries of its probe run that hashed at or before it.
static void map_delete(trainer_t *t, size_t i) {
    size_t mask = t->cap - 1;
    for (size_t j = (i + 1) & mask; t->slots[j].key != EMPTY_KEY; j = (j + 1) & mask) {
        size_t h = map_hash(t->slots[j].key, t->cap);
        // the entry at j may move to i unless its home h lies cyclically in (i, j]
        int stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
        if (!stays) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].key = EMPTY_KEY;
    t->used--;
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
    while (i > 0 && heap_above(x, h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
    return 0;
}

static void heap_pop(trainer_t *t) {
    t->heap[0] = t->heap[--t->n_heap];
    if (t->n_heap) heap_sift_down(t, 0);
}

// ---- counts ------------------------------------------------------------------------------------

// Applies one pair occurrence of word w, weighted d: PAIRS_SUB and PAIRS_ADD change the count
// (a pair new in w is also noted for w's entry on its list); PAIRS_FILL writes w into the list.
static int pair_delta(trainer_t *t, uint64_t key, uint64_t d, pairs_mode_t mode, uint32_t w) {
    int is_new = t->initial || (uint32_t)(key >> 32) == t->z || (uint32_t)key == t->z;
    if (mode != PAIRS_ADD || !is_new) {
        size_t i = map_find(t, key);
        if (i == NONE) return 0;  // dropped: below min_count for good
        slot_t *s = &t->slots[i];
        if (mode == PAIRS_FILL) {
            if (s->n == 0 || t->idx[s->list + s->n - 1] != w) t->idx[s->list + s->n++] = w;
        } else if (mode == PAIRS_ADD) {
            s->count += d;
        } else {
            if (s->count < d)
                return err_set(t->e, "bpe_train: internal error: count of pair (%u, %u) would go below zero",
                               (unsigned)(key >> 32), (unsigned)(uint32_t)key);
            s->count -= d;
        }
        return 0;
    }
    size_t i;
    int created;
    if (map_upsert(t, key, &i, &created) != 0) return -1;
    if (created) {
        if (t->n_fresh == t->cap_fresh) {
            size_t cap = t->cap_fresh;
            uint64_t *k = grow(t->fresh_key, &cap, t->n_fresh + 1, sizeof *k, t->e, "new pair list");
            if (!k) return -1;
            t->fresh_key = k;
            cap = t->cap_fresh;
            uint32_t *l = grow(t->fresh_last, &cap, t->n_fresh + 1, sizeof *l, t->e, "new pair list");
            if (!l) return -1;
            t->fresh_last = l;
            t->cap_fresh = cap;
        }
        if (t->n_fresh >= NIL) return err_set(t->e, "bpe_train: more than 2^32 - 1 new pairs in one step");
        t->fresh_key[t->n_fresh] = key;
        t->fresh_last[t->n_fresh] = NIL;
        t->slots[i].list = (uint32_t)t->n_fresh++;
    }
    slot_t *s = &t->slots[i];
    s->count += d;
    uint32_t k = s->list;
    if (t->fresh_last[k] == w) return 0;  // w is already counted on this pair's list
    t->fresh_last[k] = w;
    if (s->n == NIL - HDR) return err_set(t->e, "bpe_train: a pair occurs in more than 2^32 - 4 words");
    s->n++;
    if (t->initial) return 0;  // the initial lists are filled in a second pass (PAIRS_FILL)
    pend_t *p = grow(t->pend, &t->cap_pend, t->n_pend + 1, sizeof *p, t->e, "new pair entries");
    if (!p) return -1;
    t->pend = p;
    p[t->n_pend++] = (pend_t){k, w};
    return 0;
}

// Applies the pairs of the symbols s[0..n) of word w, taken on their own, weighted c: one
// (x, y) per boundary between runs and floor(k / 2) (x, x) per run of k x's.
static int word_pairs(trainer_t *t, const uint32_t *s, uint32_t n, uint64_t c, pairs_mode_t mode, uint32_t w) {
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        while (j < n && s[j] == s[i]) j++;
        if (j - i >= 2 && pair_delta(t, pair_key(s[i], s[i]), (uint64_t)((j - i) / 2) * c, mode, w) != 0) return -1;
        if (j < n && pair_delta(t, pair_key(s[i], s[j]), c, mode, w) != 0) return -1;
        i = j;
    }
    return 0;
}

static uint64_t word_count(const uint32_t *hdr) { return hdr[1] | (uint64_t)hdr[2] << 32; }

// Applies (a, b) -> z to word w and updates the counts of the pairs around each site.
static int merge_word(trainer_t *t, uint32_t w, uint32_t a, uint32_t b) {
    uint32_t *hdr = t->buf + w, *s = hdr + HDR, n = hdr[0], n_sites = 0, n_wins = 0;
    for (uint32_t i = 0; i + 1 < n;) {
        if (s[i] == a && s[i + 1] == b) {
            t->sites[n_sites++] = i;
            i += 2;
        } else {
            i++;
        }
    }
    if (!n_sites) return 0;  // w lost the pair since it was put on the list
    uint64_t c = word_count(hdr);
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
        if (word_pairs(t, s + t->wins[k].lo, t->wins[k].hi - t->wins[k].lo, c, PAIRS_SUB, w) != 0) return -1;
    uint32_t o = 0;
    for (uint32_t i = 0, k = 0; i < n;) {
        if (k < n_sites && i == t->sites[k]) {
            s[o++] = t->z;
            i += 2;
            k++;
        } else {
            s[o++] = s[i++];
        }
    }
    hdr[0] = o;
    uint32_t shift = 0;  // sites before the current window
    for (uint32_t k = 0; k < n_wins; k++) {
        uint32_t lo = t->wins[k].lo - shift;
        shift += t->wins[k].n_sites;
        uint32_t hi = t->wins[k].hi - shift;
        if (word_pairs(t, s + lo, hi - lo, c, PAIRS_ADD, w) != 0) return -1;
    }
    return 0;
}

// ---- lists -------------------------------------------------------------------------------------

// Drops the dead lists (pair merged or below min_count; such pairs leave the map too) and slides
// the live ones down.
static void lists_compact(trainer_t *t) {
    size_t q = 0;
    for (size_t p = 0; p < t->n_idx;) {
        uint32_t n = t->idx[p];
        size_t i = map_find(t, t->idx[p + 1] | (uint64_t)t->idx[p + 2] << 32);
        if (i != NONE && t->slots[i].n > 0 && t->slots[i].count >= t->min_count) {
            memmove(t->idx + q, t->idx + p, (HDR + (size_t)n) * sizeof *t->idx);
            t->slots[i].list = (uint32_t)(q + HDR);
            q += HDR + n;
        } else if (i != NONE) {
            map_delete(t, i);
        }
        p += HDR + n;
    }
    t->n_idx = q;
}

// Makes room for need more list entries: compacts first, grows when still over 3/4 full.
static int lists_reserve(trainer_t *t, size_t need) {
    if (t->n_idx + need <= t->cap_idx) return 0;
    lists_compact(t);
    if (4 * (t->n_idx + need) <= 3 * t->cap_idx) return 0;
    size_t cap = t->cap_idx, want = (t->n_idx + need) + (t->n_idx + need) / 2;
    if (want >= NIL) return err_set(t->e, "bpe_train: the pair index outgrew 2^32 entries");
    uint32_t *p = grow(t->idx, &cap, want, sizeof *t->idx, t->e, "pair index");
    if (!p) return -1;
    t->idx = p;
    t->cap_idx = cap;
    return 0;
}

// Ends a step (or the initial count): the pairs created in it have their final counts.  Those
// below min_count leave the map; the others get their list allocated (filled from pend, or by the
// initial PAIRS_FILL pass) and a heap entry.
static int lists_finish(trainer_t *t) {
    size_t need = 0;
    for (size_t k = 0; k < t->n_fresh; k++) {
        const slot_t *s = &t->slots[map_find(t, t->fresh_key[k])];
        if (s->count >= t->min_count) need += HDR + s->n;
    }
    if (lists_reserve(t, need) != 0) return -1;
    for (size_t k = 0; k < t->n_fresh; k++) {
        uint64_t key = t->fresh_key[k];
        size_t i = map_find(t, key);
        slot_t *s = &t->slots[i];
        if (s->count < t->min_count) {
            map_delete(t, i);
            t->fresh_last[k] = NIL;
            continue;
        }
        if (heap_push(t, s->count, key) != 0) return -1;
        uint32_t *h = t->idx + t->n_idx;
        h[0] = s->n;
        h[1] = (uint32_t)key;
        h[2] = (uint32_t)(key >> 32);
        s->list = (uint32_t)(t->n_idx + HDR);
        t->fresh_last[k] = s->list;  // the list's write cursor
        t->n_idx += HDR + s->n;
        if (t->initial) s->n = 0;  // counted again as PAIRS_FILL writes the list
    }
    for (size_t j = 0; j < t->n_pend; j++) {
        uint32_t k = t->pend[j].fresh;
        if (t->fresh_last[k] != NIL) t->idx[t->fresh_last[k]++] = t->pend[j].word;
    }
    t->n_fresh = t->n_pend = 0;
    return 0;
}

// Merges (a, b) -> t->z in every word on the pair's list.
static int merge_pair(trainer_t *t, uint32_t a, uint32_t b) {
    uint64_t key = pair_key(a, b);
    size_t i = map_find(t, key);
    const uint32_t *list = t->idx + t->slots[i].list;  // idx does not move until lists_finish
    uint32_t n = t->slots[i].n;
    for (uint32_t j = 0; j < n; j++) {
        if (j + PREFETCH < n) __builtin_prefetch(t->buf + list[j + PREFETCH]);
        if (merge_word(t, list[j], a, b) != 0) return -1;
    }
    i = map_find(t, key);  // the table may have grown
    if (t->slots[i].count != 0)
        return err_set(t->e, "bpe_train: internal error: pair (%u, %u) still counted %llu times after its merge",
                       a, b, (unsigned long long)t->slots[i].count);
    map_delete(t, i);
    return lists_finish(t);
}

// ---- setup and the main loop -------------------------------------------------------------------

static void trainer_free(trainer_t *t) {
    free(t->buf);
    free(t->slots);
    free(t->idx);
    free(t->heap);
    free(t->fresh_key);
    free(t->fresh_last);
    free(t->pend);
    free(t->sites);
    free(t->wins);
}

// Copies the words that can hold a pair, checks the overflow bound, counts every pair, writes
// the lists.
static int trainer_init(trainer_t *t, const bpe_word_t *words, size_t n_words) {
    size_t n_buf = 0;
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
        n_buf += HDR + (size_t)wd->len;
        if (wd->len > max_len) max_len = wd->len;
    }
    if (n_buf >= NIL) return err_set(t->e, "bpe_train: the words hold %zu bytes; at most about 4e9 fit", n_buf);
    t->buf = malloc((n_buf ? n_buf : 1) * sizeof *t->buf);
    t->sites = malloc((max_len / 2 + 1) * sizeof *t->sites);
    t->wins = malloc((max_len / 2 + 1) * sizeof *t->wins);
    if (!t->buf || !t->sites || !t->wins)
        return err_set(t->e, "bpe_train: out of memory for words of %zu bytes in all", n_buf);
    size_t pos = 0;
    for (size_t i = 0; i < n_words; i++) {
        const bpe_word_t *wd = &words[i];
        if (wd->len < 2 || wd->count == 0) continue;
        t->buf[pos] = wd->len;
        t->buf[pos + 1] = (uint32_t)wd->count;
        t->buf[pos + 2] = (uint32_t)(wd->count >> 32);
        for (uint32_t j = 0; j < wd->len; j++) t->buf[pos + HDR + j] = wd->bytes[j];
        pos += HDR + wd->len;
    }
    if (map_alloc(t, 1 << 16) != 0) return -1;
    t->initial = 1;
    for (size_t w = 0; w < n_buf; w += HDR + t->buf[w])
        if (word_pairs(t, t->buf + w + HDR, t->buf[w], word_count(t->buf + w), PAIRS_ADD, (uint32_t)w) != 0)
            return -1;
    if (lists_finish(t) != 0) return -1;
    for (size_t w = 0; w < n_buf; w += HDR + t->buf[w])
        if (word_pairs(t, t->buf + w + HDR, t->buf[w], 0, PAIRS_FILL, (uint32_t)w) != 0) return -1;
    t->initial = 0;
    return 0;
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
    t.min_count = min_count;
    int rc = trainer_init(&t, words, n_words);
    while (rc == 0 && *n_out < n_merges && t.n_heap > 0) {
        heap_item_t top = t.heap[0];
        size_t i = map_find(&t, top.key);
        uint64_t count = i == NONE ? 0 : t.slots[i].count;
        if (count != top.count) {  // stale: the count dropped since the push
            heap_pop(&t);
            if (count >= min_count) rc = heap_push(&t, count, top.key);
            else if (i != NONE) map_delete(&t, i);
            continue;
        }
        heap_pop(&t);
        uint32_t a = (uint32_t)(top.key >> 32), b = (uint32_t)top.key;
        t.z = 256 + (uint32_t)*n_out;
        out[*n_out] = (bpe_merge_t){(int32_t)a, (int32_t)b, count};
        rc = merge_pair(&t, a, b);
        if (rc == 0) (*n_out)++;
    }
    trainer_free(&t);
    return rc;
}
