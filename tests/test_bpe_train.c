// Tests of bpe_train: hand-worked examples, the tie-break and overlap rules, and a naive
// reference trainer (recounts every pair from scratch at each step) compared merge by merge.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "tokenizer/bpe_train.h"

// splitmix64: the tests' own small generator, so they need nothing beyond bpe_train.c
static uint64_t next_u64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *state, uint64_t n) { return next_u64(state) % n; }

static bpe_word_t word(const char *s, uint64_t count) {
    return (bpe_word_t){(const uint8_t *)s, (uint32_t)strlen(s), count};
}

// ---- the reference: recount everything at every step ------------------------------------------

typedef struct {
    uint64_t key, count;
} occ_t;

static int cmp_occ(const void *x, const void *y) {
    const occ_t *a = x, *b = y;
    return (a->key > b->key) - (a->key < b->key);
}

// Same contract as bpe_train, written the obvious way.  A word's pairs are read left to right;
// an equal pair (x, x) is not counted right after an (x, x) that was counted, which is where the
// greedy merge would not place a site either ("aaaaa" counts (a, a) twice).  Returns *n_out.
static int ref_train(const bpe_word_t *words, size_t n_words, int n_merges, uint64_t min_count, bpe_merge_t *out) {
    size_t n_sym = 0;
    for (size_t i = 0; i < n_words; i++) n_sym += words[i].len;
    int32_t *sym = malloc((n_sym + 1) * sizeof *sym);
    size_t *off = malloc((n_words + 1) * sizeof *off);
    uint32_t *len = malloc((n_words + 1) * sizeof *len);
    occ_t *occ = malloc((n_sym + 1) * sizeof *occ);
    if (!sym || !off || !len || !occ) {
        test_fail(__FILE__, __LINE__, "out of memory");
        return 0;
    }
    size_t pos = 0;
    for (size_t i = 0; i < n_words; i++) {
        off[i] = pos;
        len[i] = words[i].len;
        for (uint32_t j = 0; j < words[i].len; j++) sym[pos++] = words[i].bytes[j];
    }
    int done = 0;
    while (done < n_merges) {
        size_t n_occ = 0;
        for (size_t i = 0; i < n_words; i++) {
            const int32_t *s = sym + off[i];
            int prev_equal_counted = 0;
            for (uint32_t j = 0; j + 1 < len[i]; j++) {
                int equal = s[j] == s[j + 1];
                if (equal && prev_equal_counted) {
                    prev_equal_counted = 0;
                    continue;
                }
                prev_equal_counted = equal;
                occ[n_occ++] = (occ_t){(uint64_t)(uint32_t)s[j] << 32 | (uint32_t)s[j + 1], words[i].count};
            }
        }
        qsort(occ, n_occ, sizeof *occ, cmp_occ);
        uint64_t best_key = 0, best = 0;
        for (size_t k = 0; k < n_occ;) {
            uint64_t sum = 0;
            size_t m = k;
            for (; m < n_occ && occ[m].key == occ[k].key; m++) sum += occ[m].count;
            if (sum > best) {  // keys ascend, so on a tie the first (smaller left, then right) stays
                best = sum;
                best_key = occ[k].key;
            }
            k = m;
        }
        if (best == 0 || best < min_count) break;
        int32_t a = (int32_t)(best_key >> 32), b = (int32_t)(uint32_t)best_key, z = 256 + done;
        out[done++] = (bpe_merge_t){a, b, best};
        for (size_t i = 0; i < n_words; i++) {
            int32_t *s = sym + off[i];
            uint32_t o = 0;
            for (uint32_t j = 0; j < len[i];) {
                if (j + 1 < len[i] && s[j] == a && s[j + 1] == b) {
                    s[o++] = z;
                    j += 2;
                } else {
                    s[o++] = s[j++];
                }
            }
            len[i] = o;
        }
    }
    free(sym);
    free(off);
    free(len);
    free(occ);
    return done;
}

// ---- helpers -----------------------------------------------------------------------------------

typedef struct {
    int left, right;
    uint64_t count;
} expect_t;

static void check_merges(const bpe_merge_t *got, int n_got, const expect_t *want, int n_want, const char *what) {
    CHECK_MSG(n_got == n_want, "%s: %d merges, expected %d", what, n_got, n_want);
    for (int i = 0; i < n_got && i < n_want; i++)
        CHECK_MSG(got[i].left == want[i].left && got[i].right == want[i].right && got[i].count == want[i].count,
                  "%s: merge %d is (%d, %d) x%llu, expected (%d, %d) x%llu", what, i, got[i].left, got[i].right,
                  (unsigned long long)got[i].count, want[i].left, want[i].right, (unsigned long long)want[i].count);
}

static int same_merges(const bpe_merge_t *x, int nx, const bpe_merge_t *y, int ny, const char *what) {
    if (nx != ny) {
        test_fail(__FILE__, __LINE__, "%s: %d merges vs %d", what, nx, ny);
        return 0;
    }
    for (int i = 0; i < nx; i++) {
        if (x[i].left != y[i].left || x[i].right != y[i].right || x[i].count != y[i].count) {
            test_fail(__FILE__, __LINE__, "%s: merge %d is (%d, %d) x%llu vs (%d, %d) x%llu", what, i, x[i].left,
                      x[i].right, (unsigned long long)x[i].count, y[i].left, y[i].right,
                      (unsigned long long)y[i].count);
            return 0;
        }
    }
    return 1;
}

// Random words over the first `alphabet` letters of "abcd..", lengths 0..max_len, counts
// 1..max_count.  Returns the words (bytes in *buf); both are freed by the caller.
static bpe_word_t *random_words(uint64_t seed, size_t n, int alphabet, int max_len, uint64_t max_count, uint8_t **buf) {
    bpe_word_t *w = malloc(n * sizeof *w);
    *buf = malloc(n * (size_t)max_len + 1);
    if (!w || !*buf) return NULL;
    uint64_t st = seed;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = (uint32_t)below(&st, (uint64_t)max_len + 1);
        w[i] = (bpe_word_t){*buf + pos, len, 1 + below(&st, max_count)};
        for (uint32_t j = 0; j < len; j++) (*buf)[pos++] = (uint8_t)('a' + below(&st, (uint64_t)alphabet));
    }
    return w;
}

// ---- tests -------------------------------------------------------------------------------------

// The classic example, worked by hand (l=108 o=111 w=119 e=101 r=114 n=110 s=115 t=116 i=105 d=100).
// Initial counts: (e,s) 9, (s,t) 9, (w,e) 8, (l,o) 7, (o,w) 7, (n,e) 6, (e,w) 6, (w,i) 3, (i,d) 3,
// (d,e) 3, (e,r) 2.
//    0  (e,s) 9   tie with (s,t) 9: e < s          newest -> n e w es t, widest -> w i d es t
//    1  (es,t) 9  = 257 "est"; newest loses (w,e) 6, so (w,e) is 2
//    2  (l,o) 7   tie with (o,w) 7: l < o          = 258 "lo"
//    3  (lo,w) 7  = 259 "low"; lower -> low e r
//    4  (e,w) 6   tie with (n,e) 6, (w,est) 6: e is the smallest left   = 260 "ew"
//    5  (n,ew) 6  tie with (ew,est) 6: n=110 < 260                    = 261 "new"
//    6  (new,est) 6                                                    = 262 "newest"
//    7  (d,est) 3 tie with (w,i) 3, (i,d) 3: d is the smallest left    = 263 "dest"
//    8  (i,dest) 3 tie with (w,i) 3: i < w                             = 264 "idest"
//    9  (w,idest) 3                                                    = 265 "widest"
//   10  (e,r) 2   tie with (low,e) 2: e=101 < 259                     = 266 "er"
//   11  (low,er) 2                                                     = 267 "lower"
// after which every word is one token.
static const expect_t classic[] = {
    {'e', 's', 9}, {256, 't', 9}, {'l', 'o', 7}, {258, 'w', 7}, {'e', 'w', 6}, {'n', 260, 6},
    {261, 257, 6}, {'d', 257, 3}, {'i', 263, 3}, {'w', 264, 3}, {'e', 'r', 2}, {259, 266, 2},
};

TEST(bpe_train_hand_example) {
    bpe_word_t w[] = {word("low", 5), word("lower", 2), word("newest", 6), word("widest", 3)};
    bpe_merge_t m[20];
    int n = -1;
    err_t e = {0};
    CHECK(bpe_train(w, 4, 20, 1, m, &n, &e) == 0);
    check_merges(m, n, classic, 12, "all merges");  // stops early: nothing left to merge
    CHECK(bpe_train(w, 4, 5, 1, m, &n, &e) == 0);
    check_merges(m, n, classic, 5, "first five");
    CHECK(bpe_train(w, 4, 20, 3, m, &n, &e) == 0);
    check_merges(m, n, classic, 10, "min_count 3");
    CHECK(bpe_train(w, 4, 20, 7, m, &n, &e) == 0);
    check_merges(m, n, classic, 4, "min_count 7");
    CHECK(bpe_train(w, 4, 20, 10, m, &n, &e) == 0);
    CHECK(n == 0);
    CHECK(bpe_train(w, 4, 0, 1, m, &n, &e) == 0);
    CHECK(n == 0);
}

// Equal counts: the smaller left id wins, then the smaller right id.
TEST(bpe_train_tie_break) {
    bpe_word_t w[] = {word("xb", 3), word("ac", 3), word("ab", 3)};
    bpe_merge_t m[10];
    int n;
    err_t e = {0};
    static const expect_t want[] = {{'a', 'b', 3}, {'a', 'c', 3}, {'x', 'b', 3}};
    CHECK(bpe_train(w, 3, 10, 1, m, &n, &e) == 0);
    check_merges(m, n, want, 3, "tie break");
    // same left: the smaller right wins.  (a,b) 4; then (z,z) 2 and (z,q) 2 tie: q < z
    bpe_word_t w2[] = {word("zzq", 2), word("ab", 4)};
    static const expect_t want2[] = {{'a', 'b', 4}, {'z', 'q', 2}, {'z', 257, 2}};
    CHECK(bpe_train(w2, 2, 10, 1, m, &n, &e) == 0);
    check_merges(m, n, want2, 3, "same left");
    // a merged token's id is larger than every byte's, so its pairs lose ties to byte pairs:
    // (a,b) 3 -> then (ab,c) 2 and (x,c) 2 tie: x = 120 < 256
    bpe_word_t w3[] = {word("abc", 2), word("xc", 2), word("ab", 1)};
    static const expect_t want3[] = {{'a', 'b', 3}, {'x', 'c', 2}, {256, 'c', 2}};
    CHECK(bpe_train(w3, 3, 10, 1, m, &n, &e) == 0);
    check_merges(m, n, want3, 3, "merged token");
}

// Runs of one symbol: (x, x) is counted as the greedy left-to-right merge would apply it.
TEST(bpe_train_repeated_symbols) {
    bpe_merge_t m[10];
    int n;
    err_t e = {0};
    // "aaaaa": (a,a) 2 -> [aa aa a]; then (aa,aa) 1 and (aa,a) 1 tie: right a=97 < 256;
    // -> [aa aaa]; then (aa,aaa) 1.
    bpe_word_t w1[] = {word("aaaaa", 1)};
    static const expect_t want1[] = {{'a', 'a', 2}, {256, 'a', 1}, {256, 257, 1}};
    CHECK(bpe_train(w1, 1, 10, 1, m, &n, &e) == 0);
    check_merges(m, n, want1, 3, "aaaaa");
    // "aaaa": (a,a) 2 -> [aa aa] -> (aa,aa) 1
    bpe_word_t w2[] = {word("aaaa", 1)};
    static const expect_t want2[] = {{'a', 'a', 2}, {256, 256, 1}};
    CHECK(bpe_train(w2, 1, 10, 1, m, &n, &e) == 0);
    check_merges(m, n, want2, 2, "aaaa");
    // "aaa" holds (a,a) once, not twice: 10 < 15, so (b,c) comes first
    bpe_word_t w3[] = {word("aaa", 10), word("bc", 15)};
    static const expect_t want3[] = {{'b', 'c', 15}, {'a', 'a', 10}, {256 + 1, 'a', 10}};
    CHECK(bpe_train(w3, 2, 10, 1, m, &n, &e) == 0);
    check_merges(m, n, want3, 3, "aaa vs bc");
    // a run next to a merge site shrinks: "aaab" x1 -> (a,a) 1, (a,b) 1: tie, (a,a) first (a < b)
    // -> [aa a b]: (aa,a) 1, (a,b) 1: (a,b) first (97 < 256) -> [aa ab] -> (aa,ab)
    bpe_word_t w4[] = {word("aaab", 1)};
    static const expect_t want4[] = {{'a', 'a', 1}, {'a', 'b', 1}, {256, 257, 1}};
    CHECK(bpe_train(w4, 1, 10, 1, m, &n, &e) == 0);
    check_merges(m, n, want4, 3, "aaab");
    // "abab" x3 and "ababab" x1: (a,b) 9 -> [ab ab] x3, [ab ab ab] x1 (which holds (ab,ab) once)
    // -> (ab,ab) 4 -> [abab] x3, [abab ab] x1 -> (abab,ab) 1
    bpe_word_t w5[] = {word("abab", 3), word("ababab", 1)};
    static const expect_t want6[] = {{'a', 'b', 9}, {256, 256, 4}, {257, 256, 1}};
    CHECK(bpe_train(w5, 2, 10, 1, m, &n, &e) == 0);
    check_merges(m, n, want6, 3, "abab");
}

// Words of length 0 and 1 (and count 0) hold no pairs.
TEST(bpe_train_short_words) {
    bpe_merge_t m[10];
    int n = -1;
    err_t e = {0};
    bpe_word_t w[] = {word("", 100), word("a", 50), word("b", 7), {NULL, 0, 3}};
    CHECK(bpe_train(w, 4, 10, 1, m, &n, &e) == 0);
    CHECK(n == 0);
    CHECK(bpe_train(NULL, 0, 10, 1, m, &n, &e) == 0);
    CHECK(n == 0);
    bpe_word_t w2[] = {word("", 100), word("a", 50), word("ab", 2), word("xy", 0), word("b", 9)};
    static const expect_t want[] = {{'a', 'b', 2}};
    CHECK(bpe_train(w2, 5, 10, 1, m, &n, &e) == 0);
    check_merges(m, n, want, 1, "mixed");
}

// Counts beyond 32 bits are exact.
TEST(bpe_train_large_counts) {
    bpe_merge_t m[10];
    int n;
    err_t e = {0};
    uint64_t big = 3ULL << 32;
    bpe_word_t w[] = {word("ab", big), word("cd", big + 1), word("abab", 1ULL << 61)};
    // (a,b) = 3*2^32 + 2^62, then (ab,ab) = 2^61, then (c,d) = 3*2^32 + 1
    const expect_t want[] = {{'a', 'b', big + (1ULL << 62)}, {256, 256, 1ULL << 61}, {'c', 'd', big + 1}};
    CHECK(bpe_train(w, 3, 10, 1, m, &n, &e) == 0);
    check_merges(m, n, want, 3, "large counts");
    // two words just above 2^32 apart: the larger wins even though the low 32 bits say otherwise
    bpe_word_t w2[] = {word("xy", (1ULL << 32) + 0), word("pq", 0xffffffffULL)};
    static const expect_t want2[] = {{'x', 'y', 1ULL << 32}, {'p', 'q', 0xffffffffULL}};
    CHECK(bpe_train(w2, 2, 10, (1ULL << 32) - 1, m, &n, &e) == 0);
    check_merges(m, n, want2, 2, "2^32");
    CHECK(bpe_train(w2, 2, 10, 1ULL << 32, m, &n, &e) == 0);
    check_merges(m, n, want2, 1, "min_count 2^32");
    // a total that could overflow is refused
    bpe_word_t w3[] = {word("ab", 1ULL << 63), word("abc", 1ULL << 62)};
    e.msg[0] = 0;
    CHECK(bpe_train(w3, 2, 10, 1, m, &n, &e) == -1);
    CHECK(strstr(e.msg, "overflow") != NULL);
}

TEST(bpe_train_bad_arguments) {
    bpe_merge_t m[4];
    int n;
    err_t e = {0};
    bpe_word_t w[] = {word("ab", 1)};
    CHECK(bpe_train(w, 1, 4, 0, m, &n, &e) == -1);
    CHECK(strstr(e.msg, "min_count") != NULL);
    CHECK(bpe_train(w, 1, -1, 1, m, &n, &e) == -1);
    CHECK(strstr(e.msg, "n_merges") != NULL);
    CHECK(bpe_train(w, 1, 4, 1, NULL, &n, &e) == -1);
    bpe_word_t bad[] = {{NULL, 3, 1}};
    CHECK(bpe_train(bad, 1, 4, 1, m, &n, &e) == -1);
    CHECK(strstr(e.msg, "word 0") != NULL);
}

// bpe_train and the naive reference agree merge by merge on random words from small alphabets,
// where ties and runs of one letter are everywhere.
TEST(bpe_train_matches_reference) {
    static const struct {
        uint64_t seed;
        size_t n_words;
        int alphabet, max_len, n_merges;
        uint64_t max_count, min_count;
    } cases[] = {
        {1, 2000, 2, 12, 300, 3, 1},       // a and b only: long runs
        {2, 3000, 3, 10, 400, 5, 1},
        {3, 3000, 4, 8, 400, 1, 1},        // all counts 1: ties at every step
        {4, 400, 3, 9, 1000000, 4, 1},     // until nothing is left to merge
        {5, 2000, 5, 14, 500, 1ULL << 40, 1ULL << 38},  // large counts, early stop by min_count
        {6, 1500, 26, 7, 1000000, 2, 2},   // until every pair is below 2
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t *buf;
        bpe_word_t *w = random_words(cases[c].seed, cases[c].n_words, cases[c].alphabet, cases[c].max_len,
                                     cases[c].max_count, &buf);
        size_t n_sym = cases[c].n_words * (size_t)cases[c].max_len;
        int n_merges = cases[c].n_merges < (int)n_sym ? cases[c].n_merges : (int)n_sym;
        bpe_merge_t *got = malloc((size_t)n_merges * sizeof *got), *want = malloc((size_t)n_merges * sizeof *want);
        if (!w || !got || !want) {
            test_fail(__FILE__, __LINE__, "out of memory");
            return;
        }
        int n_got = -1;
        err_t e = {0};
        CHECK_MSG(bpe_train(w, cases[c].n_words, n_merges, cases[c].min_count, got, &n_got, &e) == 0, "%s", e.msg);
        int n_want = ref_train(w, cases[c].n_words, n_merges, cases[c].min_count, want);
        char what[64];
        snprintf(what, sizeof what, "case %zu", c);
        same_merges(got, n_got, want, n_want, what);
        CHECK_MSG(n_want > 50, "case %zu: only %d merges", c, n_want);
        if (cases[c].n_merges >= 1000000) CHECK_MSG(n_got < n_merges, "case %zu: should stop early", c);
        free(got);
        free(want);
        free(w);
        free(buf);
    }
}

// The merges do not depend on the order of the words.
TEST(bpe_train_order_independent) {
    uint8_t *buf;
    size_t n_words = 3000;
    bpe_word_t *w = random_words(7, n_words, 3, 10, 3, &buf);
    bpe_merge_t *x = malloc(500 * sizeof *x), *y = malloc(500 * sizeof *y);
    if (!w || !x || !y) {
        test_fail(__FILE__, __LINE__, "out of memory");
        return;
    }
    int nx, ny;
    err_t e = {0};
    CHECK(bpe_train(w, n_words, 500, 1, x, &nx, &e) == 0);
    uint64_t st = 99;
    for (int round = 0; round < 3; round++) {
        for (size_t i = n_words - 1; i > 0; i--) {
            size_t j = (size_t)below(&st, i + 1);
            bpe_word_t tmp = w[i];
            w[i] = w[j];
            w[j] = tmp;
        }
        CHECK(bpe_train(w, n_words, 500, 1, y, &ny, &e) == 0);
        same_merges(x, nx, y, ny, "shuffled");
    }
    CHECK(nx == 500);
    free(x);
    free(y);
    free(w);
    free(buf);
}
