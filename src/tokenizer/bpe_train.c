// bpe_train: the incremental BPE trainer (see bpe_train.h for the contract).
//
// State, all owned by one trainer_t:
//   words   every pre-token that can hold a pair (len >= 2, count > 0) as [len, count (2 words),
//           symbols...] in one uint32 buffer; a word's id is the offset of its header, so one
//           cache miss brings in its length, count and first symbols.  Merges shrink words in place.
//   map     open-addressing hash map (linear probing, backward-shift deletion): packed pair
//           (left << 32 | right) -> current count and the pair's word list.  It holds only pairs
//           that can still be merged (count >= min_count when last looked at).
//   lists   for each pair in the map, the words it appeared in, as one contiguous run of word ids
//           in increasing order in an arena (idx).  A pair only appears in new words during the
//           step that creates the newer of its two tokens (see below), so its list is complete when
//           that step ends and is written once, then.  Words are never taken off a list: a word
//           that lost the pair is skipped when the list is walked.  The lists of pairs that left
//           the map are dead; the arena is compacted when it fills.
//   heap    max-heap of (count, pair): larger count first, then smaller packed key (smaller left,
//           then smaller right).  Entries go stale when a count drops; a popped entry whose count
//           differs from the map's is pushed back with the current count (lazy invalidation).
//   fresh   the pairs created in the current step, with their counts and words so far; they join
//           the map when the step ends.
//
// Why this is exact.  A merge (a, b) -> z only lowers the counts of pairs without z (the symbols
// around a site lose neighbours and gain none; a run of equal symbols only shrinks), and the
// pairs with z are new.  So (1) a pair gains words and count only in the step that creates its
// newer token, (2) every pair in the map keeps one heap entry whose stored count is >= its true
// count, so an entry found at the top with its current count beats every other pair under the
// total order, and (3) a pair whose count is below min_count can never be merged: it leaves the
// map (or never enters it), and later updates of a pair not in the map are ignored.
//
// Updating counts around a merge.  With the run rule for equal pairs (a run of k x's holds
// floor(k/2) pairs (x, x)), a word's pairs are: one (x, y) per boundary between runs, plus
// floor(k/2) (x, x) per run.  So if a word is cut at run boundaries, its pairs are those of the
// pieces plus one pair per cut.  Around each merge site we take a window that reaches one symbol
// beyond the site on each side and is then widened to whole runs; overlapping windows are joined.
// The symbols at a window's edges are not part of any site, so the cut pairs outside the windows
// are unchanged, and the update is: subtract the pairs of each old window, merge, add the pairs of
// each new window.  Typically that is two map updates per site ((x, a) and (b, y)); the merged
// pair's own count is tallied locally and the new pairs (x, z), (z, y) go to the fresh table,
// which is indexed directly by the other token.
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
    uint32_t list;   // offset in idx of its word list
    uint32_t n;      // words on the list
} slot_t;

typedef struct {
    uint64_t key, count;  // a pair created in this step and its count so far
    uint32_t n;           // words it appeared in
    uint32_t last;        // the last of those words (so each is counted once)
    uint32_t pos;         // when the step ends: where its next word goes in idx, NIL if dropped
} fresh_t;

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
    size_t n_buf;
    size_t max_merges;  // sum over words of len - 1
    // pair -> count, list
    slot_t *slots;
    size_t cap, used;  // cap is a power of 2
    // lists: each is [n, key low, key high, n word ids] (the header lets compaction find its slot)
    uint32_t *idx;
    size_t n_idx, cap_idx;
    heap_item_t *heap;
    size_t n_heap, cap_heap;
    // pairs created in this step, found by their other token: (x, z) at by_left[x], (z, y) at
    // by_right[y] ((z, z) is at by_left[z]); during the initial count, (x, y) at by_left[256x + y]
    fresh_t *fresh;
    size_t n_fresh, cap_fresh;
    uint32_t *by_left, *by_right;
    pend_t *pend;  // the (fresh pair, word) entries of this step, for the lists
    size_t n_pend, cap_pend;
    // scratch for one word: merge sites and windows, (max_len / 2 + 1) entries each
    uint32_t *sites;
    window_t *wins;
    int initial;        // 1 during the initial count: every pair is new
    uint32_t z;         // the token being created; pairs with it are new
    uint64_t ab;        // the pair being merged
    uint64_t ab_sub;    // how much its count went down in this step
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
    for (size_t i = 0; i < cap; i++) t->slots[i].key = EMPTY_KEY;
    t->cap = cap;
    return 0;
}

// Inserts key, which must be absent, keeping the load factor at most 3/4; returns its slot index
// or NONE with e set.
static size_t map_insert(trainer_t *t, uint64_t key) {
    if (4 * (t->used + 1) > 3 * t->cap) {
        slot_t *old = t->slots;
        size_t old_cap = t->cap;
        if (map_alloc(t, 2 * old_cap) != 0) {
            t->slots = old;
            t->cap = old_cap;
            return NONE;
        }
        for (size_t i = 0; i < old_cap; i++) {
            if (old[i].key == EMPTY_KEY) continue;
            size_t j = map_hash(old[i].key, t->cap);
            while (t->slots[j].key != EMPTY_KEY) j = (j + 1) & (t->cap - 1);
            t->slots[j] = old[i];
        }
        free(old);
    }
    size_t i = map_hash(key, t->cap);
    while (t->slots[i].key != EMPTY_KEY) i = (i + 1) & (t->cap - 1);
    t->slots[i] = (slot_t){key, 0, 0, 0};
    t->used++;
    return i;
}

// Removes slot i, shifting back the entries of its probe run that may move.
static void map_delete(trainer_t *t, size_t i) {
    size_t mask = t->cap - 1;
    for (size_t j = (i + 1) & mask; t->slots[j].key != EMPTY_KEY; j = (j + 1) & mask) {
        size_t h = map_hash(t->slots[j].key, t->cap);
        // the entry at j stays unless its home h lies cyclically outside (i, j]
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
    heap_item_t *h = t->heap, x = h[--t->n_heap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->n_heap) break;
        if (c + 1 < t->n_heap && heap_above(h[c + 1], h[c])) c++;
        if (!heap_above(h[c], x)) break;
        h[i] = h[c];
        i = c;
    }
    if (t->n_heap) h[i] = x;
}

// ---- counts ------------------------------------------------------------------------------------

// The fresh-table cell of a new pair.
static uint32_t *fresh_cell(trainer_t *t, uint32_t left, uint32_t right) {
    if (t->initial) return &t->by_left[left << 8 | right];
    return right == t->z ? &t->by_left[left] : &t->by_right[right];
}

// Counts one occurrence, weighted d, of a new pair in word w.
static int fresh_add(trainer_t *t, uint32_t left, uint32_t right, uint64_t d, uint32_t w) {
    uint32_t *cell = fresh_cell(t, left, right), k = *cell;
    if (k == NIL) {
        fresh_t *f = grow(t->fresh, &t->cap_fresh, t->n_fresh + 1, sizeof *f, t->e, "new pair table");
        if (!f) return -1;
        t->fresh = f;
        k = *cell = (uint32_t)t->n_fresh++;
        f[k] = (fresh_t){pair_key(left, right), 0, 0, NIL, NIL};
    }
    fresh_t *f = &t->fresh[k];
    f->count += d;
    if (f->last == w) return 0;  // w is already on the pair's list
    f->last = w;
    if (f->n == NIL - HDR) return err_set(t->e, "bpe_train: a pair occurs in more than 2^32 - 4 words");
    f->n++;
    if (t->initial) return 0;  // the initial lists are written by a second pass (PAIRS_FILL)
    pend_t *p = grow(t->pend, &t->cap_pend, t->n_pend + 1, sizeof *p, t->e, "new pair entries");
    if (!p) return -1;
    t->pend = p;
    p[t->n_pend++] = (pend_t){k, w};
    return 0;
}

// Applies one occurrence, weighted d, of pair (left, right) in word w: PAIRS_SUB and PAIRS_ADD
// change its count; PAIRS_FILL (after the initial count) writes w into its list.
static int pair_delta(trainer_t *t, uint32_t left, uint32_t right, uint64_t d, pairs_mode_t mode, uint32_t w) {
    if (mode == PAIRS_FILL) {
        uint32_t k = t->by_left[left << 8 | right];
        fresh_t *f = &t->fresh[k];
        if (f->pos != NIL && f->last != w) {
            f->last = w;
            t->idx[f->pos++] = w;
        }
        return 0;
    }
    if (mode == PAIRS_ADD && (t->initial || left == t->z || right == t->z)) return fresh_add(t, left, right, d, w);
    uint64_t key = pair_key(left, right);
    if (mode == PAIRS_SUB && key == t->ab) {  // tallied here, checked when the step ends
        t->ab_sub += d;
        return 0;
    }
    size_t i = map_find(t, key);
    if (i == NONE) return 0;  // below min_count for good
    if (mode == PAIRS_ADD) {
        t->slots[i].count += d;
    } else {
        if (t->slots[i].count < d)
            return err_set(t->e, "bpe_train: internal error: count of pair (%u, %u) would go below zero", left, right);
        t->slots[i].count -= d;
    }
    return 0;
}

// Applies the pairs of the symbols s[0..n) of word w, taken on their own, weighted c: one
// (x, y) per boundary between runs and floor(k / 2) (x, x) per run of k x's.
static int word_pairs(trainer_t *t, const uint32_t *s, uint32_t n, uint64_t c, pairs_mode_t mode, uint32_t w) {
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i + 1;
        while (j < n && s[j] == s[i]) j++;
        if (j - i >= 2 && pair_delta(t, s[i], s[i], (uint64_t)((j - i) / 2) * c, mode, w) != 0) return -1;
        if (j < n && pair_delta(t, s[i], s[j], c, mode, w) != 0) return -1;
        i = j;
    }
    return 0;
}

static uint64_t word_count(const uint32_t *hdr) { return hdr[1] | (uint64_t)hdr[2] << 32; }

// Applies (a, b) -> z to word w and updates the counts of the pairs around each site.
static int merge_word(trainer_t *t, uint32_t w, uint32_t a, uint32_t b) {
    uint32_t *hdr = t->buf + w, *s = hdr + HDR, n = hdr[0], n_sites = 0, n_wins = 0;
    for (uint32_t i = 0; i + 1 < n; i++) {
        if (s[i] == a && s[i + 1] == b) t->sites[n_sites++] = i++;
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
    uint32_t o = t->sites[0];
    for (uint32_t i = o, k = 0; i < n;) {
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

// Drops the lists whose pair left the map or fell below min_count (removing it from the map)
// and slides the others down.
static void lists_compact(trainer_t *t) {
    size_t q = 0;
    for (size_t p = 0; p < t->n_idx;) {
        uint32_t n = t->idx[p];
        size_t i = map_find(t, t->idx[p + 1] | (uint64_t)t->idx[p + 2] << 32);
        if (i != NONE && t->slots[i].count >= t->min_count) {
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

// Ends a step (or the initial count): the fresh pairs have their final counts.  Those at or
// above min_count enter the map and the heap and get their list (written from pend, or by the
// initial PAIRS_FILL pass); the others are forgotten.
static int lists_finish(trainer_t *t) {
    size_t need = 0;
    for (size_t k = 0; k < t->n_fresh; k++)
        if (t->fresh[k].count >= t->min_count) need += HDR + t->fresh[k].n;
    if (lists_reserve(t, need) != 0) return -1;
    for (size_t k = 0; k < t->n_fresh; k++) {
        fresh_t *f = &t->fresh[k];
        if (!t->initial) *fresh_cell(t, (uint32_t)(f->key >> 32), (uint32_t)f->key) = NIL;
        f->pos = NIL;
        if (f->count < t->min_count) continue;
        size_t i = map_insert(t, f->key);
        if (i == NONE || heap_push(t, f->count, f->key) != 0) return -1;
        uint32_t *h = t->idx + t->n_idx;
        h[0] = f->n;
        h[1] = (uint32_t)f->key;
        h[2] = (uint32_t)(f->key >> 32);
        f->pos = (uint32_t)(t->n_idx + HDR);
        t->slots[i] = (slot_t){f->key, f->count, f->pos, f->n};
        t->n_idx += HDR + f->n;
    }
    for (size_t j = 0; j < t->n_pend; j++) {
        fresh_t *f = &t->fresh[t->pend[j].fresh];
        if (f->pos != NIL) t->idx[f->pos++] = t->pend[j].word;
    }
    t->n_pend = 0;
    if (!t->initial) t->n_fresh = 0;  // the initial table serves the PAIRS_FILL pass first
    return 0;
}

// Merges t->ab -> t->z in every word on the pair's list.
static int merge_pair(trainer_t *t) {
    uint32_t a = (uint32_t)(t->ab >> 32), b = (uint32_t)t->ab;
    size_t i = map_find(t, t->ab);
    const uint32_t *list = t->idx + t->slots[i].list;  // idx does not move until lists_finish
    uint32_t n = t->slots[i].n;
    t->ab_sub = 0;
    for (uint32_t j = 0; j < n; j++) {
        if (j + PREFETCH < n) {  // a word's header and first 29 symbols: two cache lines
            __builtin_prefetch(t->buf + list[j + PREFETCH]);
            __builtin_prefetch(t->buf + list[j + PREFETCH] + 16);
        }
        if (merge_word(t, list[j], a, b) != 0) return -1;
    }
    // the map had no insertion or deletion during the step: slot i is still the pair's
    if (t->slots[i].count != t->ab_sub)
        return err_set(t->e, "bpe_train: internal error: pair (%u, %u) was counted %llu times but merged %llu times",
                       a, b, (unsigned long long)t->slots[i].count, (unsigned long long)t->ab_sub);
    map_delete(t, i);
    return lists_finish(t);
}

// ---- setup and the main loop -------------------------------------------------------------------

static void trainer_free(trainer_t *t) {
    free(t->buf);
    free(t->slots);
    free(t->idx);
    free(t->heap);
    free(t->fresh);
    free(t->by_left);
    free(t->by_right);
    free(t->pend);
    free(t->sites);
    free(t->wins);
}

// Copies the words that can hold a pair and checks the overflow bound.
static int words_copy(trainer_t *t, const bpe_word_t *words, size_t n_words) {
    size_t n_buf = 0;
    uint32_t max_len = 0;
    uint64_t total = 0;     // sum of count x (len - 1): bounds every pair count
    size_t removable = 0;   // sum of len - 1: bounds the number of merges
    for (size_t i = 0; i < n_words; i++) {
        const bpe_word_t *wd = &words[i];
        if (wd->len > 0 && !wd->bytes)
            return err_set(t->e, "bpe_train: word %zu has length %u but no bytes", i, wd->len);
        if (wd->len < 2 || wd->count == 0) continue;
        uint64_t prod;
        if (__builtin_mul_overflow(wd->count, (uint64_t)(wd->len - 1), &prod) ||
            __builtin_add_overflow(total, prod, &total))
            return err_set(t->e, "bpe_train: pair counts could overflow 64 bits (at word %zu, count %llu); "
                           "scale the counts down", i, (unsigned long long)wd->count);
        n_buf += HDR + (size_t)wd->len;
        removable += wd->len - 1;
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
    t->n_buf = n_buf;
    t->max_merges = removable;
    return 0;
}

// Counts every pair (all are byte pairs, so the fresh table is indexed by 256 left + right),
// then writes the lists of those that reach min_count.
static int trainer_init(trainer_t *t, const bpe_word_t *words, size_t n_words, int n_merges) {
    if (words_copy(t, words, n_words) != 0) return -1;
    // every merge removes a symbol, so no more than max_merges tokens are ever created
    size_t n_ids = 256 + ((size_t)n_merges < t->max_merges ? (size_t)n_merges : t->max_merges);
    size_t n_left = n_ids > 65536 ? n_ids : 65536;
    t->by_left = malloc(n_left * sizeof *t->by_left);
    t->by_right = malloc(n_ids * sizeof *t->by_right);
    if (!t->by_left || !t->by_right) return err_set(t->e, "bpe_train: out of memory for %zu token ids", n_ids);
    memset(t->by_left, 0xff, n_left * sizeof *t->by_left);  // NIL
    memset(t->by_right, 0xff, n_ids * sizeof *t->by_right);
    if (map_alloc(t, 1 << 10) != 0) return -1;  // grows by doubling
    t->initial = 1;
    t->ab = EMPTY_KEY;
    for (size_t w = 0; w < t->n_buf; w += HDR + t->buf[w])
        if (word_pairs(t, t->buf + w + HDR, t->buf[w], word_count(t->buf + w), PAIRS_ADD, (uint32_t)w) != 0)
            return -1;
    if (lists_finish(t) != 0) return -1;
    for (size_t k = 0; k < t->n_fresh; k++) t->fresh[k].last = NIL;
    for (size_t w = 0; w < t->n_buf; w += HDR + t->buf[w])
        if (word_pairs(t, t->buf + w + HDR, t->buf[w], 0, PAIRS_FILL, (uint32_t)w) != 0) return -1;
    memset(t->by_left, 0xff, n_left * sizeof *t->by_left);
    t->n_fresh = 0;
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
    int rc = trainer_init(&t, words, n_words, n_merges);
    while (rc == 0 && *n_out < n_merges && t.n_heap > 0) {
        heap_item_t top = t.heap[0];
        heap_pop(&t);
        size_t i = map_find(&t, top.key);
        uint64_t count = i == NONE ? 0 : t.slots[i].count;
        if (count != top.count) {  // stale: the count dropped since the push
            if (count >= min_count) rc = heap_push(&t, count, top.key);
            else if (i != NONE) map_delete(&t, i);
            continue;
        }
        t.ab = top.key;
        t.z = 256 + (uint32_t)*n_out;
        out[*n_out] = (bpe_merge_t){(int32_t)(top.key >> 32), (int32_t)(uint32_t)top.key, count};
        rc = merge_pair(&t);
        if (rc == 0) (*n_out)++;
    }
    trainer_free(&t);
    return rc;
}
