// Tests for data/minhash: signatures against exact Jaccard similarities computed naively
// here (shingles as strings, sorted and merged), and a planted-near-duplicate benchmark whose
// variants have known, exactly computed similarities to their base documents.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "data/minhash.h"
#include "test.h"

static void sb_cp(sb_t *b, uint32_t c) {  // UTF-8 encode
    char u[4];
    size_t n;
    if (c < 0x80) u[0] = (char)c, n = 1;
    else if (c < 0x800) u[0] = (char)(0xc0 | c >> 6), u[1] = (char)(0x80 | (c & 63)), n = 2;
    else if (c < 0x10000)
        u[0] = (char)(0xe0 | c >> 12), u[1] = (char)(0x80 | ((c >> 6) & 63)), u[2] = (char)(0x80 | (c & 63)), n = 3;
    else
        u[0] = (char)(0xf0 | c >> 18), u[1] = (char)(0x80 | ((c >> 12) & 63)), u[2] = (char)(0x80 | ((c >> 6) & 63)),
        u[3] = (char)(0x80 | (c & 63)), n = 4;
    sb_add(b, u, n);
}

// ---- the reference: shingle sets as sorted, unique strings ----

typedef struct ref_set {
    char **s;
    size_t n;
} ref_set_t;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int ref_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// Words: whitespace-separated, lower-cased, joined by one space.  Chars: runs of 5 code points
// of valid UTF-8 without whitespace (all this file's character-shingled texts are).
static ref_set_t ref_shingles(const char *text, mh_shingling_t how) {
    size_t len = strlen(text), nt = 0;
    size_t *start = malloc((len + 1) * sizeof *start), *end = malloc((len + 1) * sizeof *end);
    char *low = malloc(len + 1);
    for (size_t i = 0; i <= len; i++) low[i] = (char)(text[i] >= 'A' && text[i] <= 'Z' ? text[i] + 32 : text[i]);
    for (size_t i = 0; i < len;) {
        if (how == MH_WORDS) {
            if (ref_space(low[i])) { i++; continue; }
            start[nt] = i;
            while (i < len && !ref_space(low[i])) i++;
            end[nt++] = i;
        } else {
            unsigned char c = (unsigned char)low[i];
            size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
            start[nt] = i;
            end[nt++] = i += n;
        }
    }
    size_t w = nt < MH_SHINGLE ? nt : MH_SHINGLE, ns = nt == 0 ? 0 : nt - w + 1;
    ref_set_t r = {malloc((ns + 1) * sizeof(char *)), 0};
    for (size_t i = 0; i < ns; i++) {
        sb_t b = {0};
        for (size_t j = i; j < i + w; j++) {
            if (how == MH_WORDS && j > i) sb_add(&b, " ", 1);
            sb_add(&b, low + start[j], end[j] - start[j]);
        }
        r.s[r.n++] = b.p;
    }
    qsort(r.s, r.n, sizeof *r.s, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < r.n; i++) {
        if (u > 0 && strcmp(r.s[u - 1], r.s[i]) == 0) free(r.s[i]);
        else r.s[u++] = r.s[i];
    }
    r.n = u;
    free(start), free(end), free(low);
    return r;
}

static void ref_free(ref_set_t *r) {
    for (size_t i = 0; i < r->n; i++) free(r->s[i]);
    free(r->s);
}

static double ref_jaccard(const ref_set_t *a, const ref_set_t *b) {
    size_t i = 0, j = 0, inter = 0;
    while (i < a->n && j < b->n) {
        int c = strcmp(a->s[i], b->s[j]);
        if (c == 0) inter++, i++, j++;
        else if (c < 0) i++;
        else j++;
    }
    size_t uni = a->n + b->n - inter;
    return uni ? (double)inter / uni : 1.0;
}

// ---- documents: random words (English-like) or random hiragana/kanji (Japanese-like) ----

enum { VOCAB = 4000 };
static char vocab[VOCAB][12];

static void make_vocab(void) {
    rng_t r;
    rng_seed(&r, 99);
    for (int i = 0; i < VOCAB; i++) {
        int n = 3 + (int)rng_below(&r, 7);
        for (int j = 0; j < n; j++) vocab[i][j] = (char)('a' + rng_below(&r, 26));
        vocab[i][n] = 0;
    }
}

static uint32_t rand_token(rng_t *r, mh_shingling_t how) {
    if (how == MH_WORDS) return (uint32_t)rng_below(r, VOCAB);
    return rng_below(r, 10) < 6 ? 0x3041 + (uint32_t)rng_below(r, 83) : 0x4e00 + (uint32_t)rng_below(r, 3000);
}

// Words with varied separators and capitals (which the shingling must ignore); chars as is.
static char *render(const uint32_t *t, size_t n, mh_shingling_t how, rng_t *r, size_t *len) {
    sb_t b = {0};
    sb_add(&b, "", 0);
    for (size_t i = 0; i < n; i++) {
        if (how == MH_CHARS) {
            sb_cp(&b, t[i]);
            continue;
        }
        if (i > 0) {
            uint64_t u = rng_below(r, 20);
            sb_add(&b, u == 0 ? "\n" : u == 1 ? "  " : u == 2 ? " \t" : " ", u == 0 ? 1 : u == 1 || u == 2 ? 2 : 1);
        }
        char w[12];
        strcpy(w, vocab[t[i]]);
        if (rng_below(r, 10) == 0) w[0] = (char)(w[0] - 32);
        sb_add(&b, w, strlen(w));
    }
    *len = b.n;
    return b.p;
}

// A copy of t with about `edits` substitutions, insertions and deletions, one per equal
// segment so they rarely overlap.  Each isolated edit changes MH_SHINGLE shingles.
static uint32_t *edit_tokens(const uint32_t *t, size_t n, size_t edits, mh_shingling_t how, rng_t *r, size_t *n_out) {
    uint32_t *o = malloc((n + edits + 1) * sizeof *o);
    char *kind = calloc(n, 1);
    for (size_t e = 0; e < edits; e++) {
        size_t lo = e * n / edits, hi = (e + 1) * n / edits;
        uint64_t k = rng_below(r, 10);
        kind[lo + rng_below(r, hi - lo)] = k < 6 ? 's' : k < 8 ? 'i' : 'd';
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (kind[i] == 's') o[m++] = rand_token(r, how);
        else if (kind[i] == 'i') o[m++] = rand_token(r, how), o[m++] = t[i];
        else if (kind[i] != 'd') o[m++] = t[i];
    }
    free(kind);
    *n_out = m;
    return o;
}

// Edits that bring a document of n tokens to about Jaccard J with it: each isolated edit
// swaps ~5 of the S = n - 4 shingles, J = (S - 5r) / (S + 5r).
static size_t edits_for(size_t n, double J) {
    double S = (double)n - 4, r = S * (1 - J) / (MH_SHINGLE * (1 + J));
    return r < 1 ? 1 : (size_t)(r + 0.5);
}

static const double targets[] = {0.95, 0.9, 0.85, 0.7, 0.5, 0.3};
enum { NT = sizeof targets / sizeof targets[0], PER = 1 + NT };

// n_base bases, each followed by its NT variants: doc b * PER + 1 + v is variant v of base
// b * PER, and J[doc] its exact shingle Jaccard with the base.
typedef struct bench {
    size_t n;
    char **text;
    size_t *len;
    double *J;
    uint64_t *sigs;  // (n, K)
} bench_t;

static void bench_build(bench_t *B, const mh_t *m, mh_shingling_t how, int n_base, uint64_t seed) {
    make_vocab();
    rng_t r;
    rng_seed(&r, seed);
    B->n = (size_t)n_base * PER;
    B->text = calloc(B->n, sizeof *B->text);
    B->len = calloc(B->n, sizeof *B->len);
    B->J = calloc(B->n, sizeof *B->J);
    B->sigs = malloc(B->n * (size_t)mh_k(m) * sizeof *B->sigs);
    for (int b = 0; b < n_base; b++) {
        size_t n = how == MH_WORDS ? 150 + rng_below(&r, 101) : 300 + rng_below(&r, 201), d = (size_t)b * PER;
        uint32_t *t = malloc(n * sizeof *t);
        for (size_t i = 0; i < n; i++) t[i] = rand_token(&r, how);
        B->text[d] = render(t, n, how, &r, &B->len[d]);
        B->J[d] = 1;
        ref_set_t base = ref_shingles(B->text[d], how);
        for (int v = 0; v < NT; v++) {
            size_t nv;
            uint32_t *tv = edit_tokens(t, n, edits_for(n, targets[v]), how, &r, &nv);
            B->text[d + 1 + v] = render(tv, nv, how, &r, &B->len[d + 1 + v]);
            ref_set_t var = ref_shingles(B->text[d + 1 + v], how);
            B->J[d + 1 + v] = ref_jaccard(&base, &var);
            ref_free(&var);
            free(tv);
        }
        ref_free(&base);
        free(t);
    }
    for (size_t i = 0; i < B->n; i++)
        CHECK(mh_signature(m, B->text[i], B->len[i], how, B->sigs + i * (size_t)mh_k(m), NULL) == 0);
}

static void bench_free(bench_t *B) {
    for (size_t i = 0; i < B->n; i++) free(B->text[i]);
    free(B->text), free(B->len), free(B->J), free(B->sigs);
}

// Runs dedup on the benchmark and scores "variant clustered with its base".
static void bench_score(const bench_t *B, const mh_t *m, double verify, const char *label, int check) {
    uint32_t *rep = malloc(B->n * sizeof *rep);
    err_t e = {0};
    CHECK_MSG(mh_dedup(m, B->sigs, B->n, verify, rep, &e) == 0, "%s", e.msg);
    size_t hi = 0, hi_found = 0, hi85 = 0, hi85_found = 0, lo = 0, lo_found = 0, lo5 = 0, lo5_found = 0;
    size_t merged_bases = 0, per_t[NT] = {0};
    double sumJ[NT] = {0}, err_sum = 0;
    for (size_t b = 0; b < B->n; b += PER) {
        merged_bases += rep[b] != b;
        for (int v = 0; v < NT; v++) {
            size_t d = b + 1 + (size_t)v;
            double J = B->J[d];
            int found = rep[d] == rep[b];
            err_sum += mh_jaccard_estimate(B->sigs + d * (size_t)mh_k(m), B->sigs + b * (size_t)mh_k(m), mh_k(m)) - J;
            sumJ[v] += J;
            per_t[v] += (size_t)found;
            if (J >= 0.8) hi++, hi_found += (size_t)found;
            if (J >= 0.85) hi85++, hi85_found += (size_t)found;
            if (J < 0.6) lo++, lo_found += (size_t)found;
            if (J <= 0.5) lo5++, lo5_found += (size_t)found;
        }
    }
    size_t n_base = B->n / PER;
    printf("    %s: %zu docs; clustered with base by target J:", label, B->n);
    for (int v = 0; v < NT; v++) printf(" %.2f (mean %.3f) %.3f;", targets[v], sumJ[v] / n_base, (double)per_t[v] / n_base);
    printf("\n    %s: recall J>=0.8 %.4f (%zu/%zu), J>=0.85 %.4f (%zu/%zu); false pos J<0.6 %.4f (%zu/%zu), "
           "J<=0.5 %.4f (%zu/%zu); precision %.4f; bases merged %zu; mean(est - J) %+.4f\n",
           label, (double)hi_found / hi, hi_found, hi, (double)hi85_found / hi85, hi85_found, hi85,
           (double)lo_found / lo, lo_found, lo, (double)lo5_found / lo5, lo5_found, lo5,
           (double)hi_found / (hi_found + lo_found), merged_bases, err_sum / (double)(n_base * NT));
    if (check) {
        CHECK(hi85 >= n_base && lo5 >= n_base);  // the generator reaches both ranges
        CHECK_MSG((double)hi85_found / hi85 >= 0.95, "%s: recall at J >= 0.85 is %zu/%zu", label, hi85_found, hi85);
        CHECK_MSG((double)lo5_found / lo5 <= 0.02, "%s: false positives at J <= 0.5: %zu/%zu", label, lo5_found, lo5);
        CHECK_MSG(merged_bases == 0, "%s: %zu unrelated base documents merged", label, merged_bases);
        // An unbiased estimator: the mean error over 6 * n_base pairs has sd <= 0.047 / sqrt(1800).
        CHECK_NEAR(err_sum / (double)(n_base * NT), 0.0, 0.006);
    }
    for (size_t i = 0; i < B->n; i++) CHECK(rep[i] <= i && rep[rep[i]] == rep[i]);
    free(rep);
}

TEST(minhash_benchmark_words) {
    mh_t m;
    CHECK(mh_init(&m, MH_BANDS, MH_ROWS, 1, NULL) == 0);
    bench_t B;
    bench_build(&B, &m, MH_WORDS, 300, 11);
    bench_score(&B, &m, MH_VERIFY_DEFAULT, "words 14x8 verified", 1);
    bench_score(&B, &m, 0, "words 14x8 unverified", 0);
    bench_free(&B);
    mh_free(&m);
}

TEST(minhash_benchmark_chars) {
    mh_t m;
    CHECK(mh_init(&m, MH_BANDS, MH_ROWS, 2, NULL) == 0);
    bench_t B;
    bench_build(&B, &m, MH_CHARS, 300, 12);
    bench_score(&B, &m, MH_VERIFY_DEFAULT, "chars 14x8 verified", 1);
    bench_score(&B, &m, 0, "chars 14x8 unverified", 0);
    bench_free(&B);
    mh_free(&m);
}

// Estimates within 3 standard deviations, sqrt(J(1-J)/K), plus one step 1/K for J near 0 or 1.
TEST(minhash_estimate_matches_exact_jaccard) {
    static const int shapes[][2] = {{14, 8}, {64, 16}};
    for (int s = 0; s < 2; s++) {
        mh_t m;
        CHECK(mh_init(&m, shapes[s][0], shapes[s][1], 5, NULL) == 0);
        int K = mh_k(&m);
        for (int how = MH_WORDS; how <= MH_CHARS; how++) {
            bench_t B;
            bench_build(&B, &m, (mh_shingling_t)how, 2, 21 + (uint64_t)how);
            for (size_t b = 0; b < B.n; b += PER)
                for (int v = 0; v < NT; v++) {
                    size_t d = b + 1 + (size_t)v;
                    double J = B.J[d], est = mh_jaccard_estimate(B.sigs + d * K, B.sigs + b * K, K);
                    double tol = 3 * sqrt(J * (1 - J) / K) + 1.0 / K;
                    CHECK_MSG(fabs(est - J) <= tol, "K=%d %s pair %zu: estimate %.4f, exact %.4f, tolerance %.4f", K,
                              how == MH_WORDS ? "words" : "chars", d, est, J, tol);
                }
            bench_free(&B);
        }
        mh_free(&m);
    }
}

static void sig_of(const mh_t *m, const char *s, mh_shingling_t how, uint64_t *sig) {
    err_t e = {0};
    CHECK_MSG(mh_signature(m, s, strlen(s), how, sig, &e) == 0, "%s", e.msg);
}

TEST(minhash_identical_documents_cluster) {
    mh_t m;
    CHECK(mh_init(&m, MH_BANDS, MH_ROWS, 3, NULL) == 0);
    int K = mh_k(&m);
    const char *docs[] = {
        "the cat sat on the mat and looked out of the window at the rain falling on the garden",
        "an entirely different text about compilers, parsers and the joy of writing tests first",
        "the cat sat on the mat and looked out of the window at the rain falling on the garden",
        "The  Cat sat on THE mat\nand looked out of the window at the rain falling on the garden\n",
        "",
        "   \n\t ",
        "short one",
        "SHORT   one",
        "short two",
    };
    size_t n = sizeof docs / sizeof docs[0];
    uint64_t *sigs = malloc(n * K * sizeof *sigs);
    for (size_t i = 0; i < n; i++) sig_of(&m, docs[i], MH_WORDS, sigs + i * K);
    CHECK(mh_jaccard_estimate(sigs + 6 * K, sigs + 8 * K, K) < 0.05);  // one shingle each, different
    for (int verify = 0; verify < 2; verify++) {
        uint32_t rep[9];
        CHECK(mh_dedup(&m, sigs, n, verify ? MH_VERIFY_DEFAULT : 0, rep, NULL) == 0);
        static const uint32_t want[9] = {0, 1, 0, 0, 4, 4, 6, 6, 8};
        for (size_t i = 0; i < n; i++) CHECK_MSG(rep[i] == want[i], "verify %d: rep[%zu] = %u, want %u", verify, i, rep[i], want[i]);
    }
    free(sigs);

    // 300 copies interleaved with distinct documents: the bucket is larger than 64, so the
    // leader path clusters them.
    size_t N = 600;
    sigs = malloc(N * K * sizeof *sigs);
    uint32_t *rep = malloc(N * sizeof *rep);
    char buf[256];
    for (size_t i = 0; i < N; i++) {
        if (i % 2) snprintf(buf, sizeof buf, "unique document number %zu with words %zu and %zu here", i, i * 7, i * 13);
        else snprintf(buf, sizeof buf, "%s", docs[0]);
        sig_of(&m, buf, MH_WORDS, sigs + i * K);
    }
    CHECK(mh_dedup(&m, sigs, N, MH_VERIFY_DEFAULT, rep, NULL) == 0);
    for (size_t i = 0; i < N; i++) CHECK(rep[i] == (i % 2 ? i : 0));
    free(sigs), free(rep);
    mh_free(&m);
}

TEST(minhash_chars_utf8_and_whitespace) {
    mh_t m;
    CHECK(mh_init(&m, MH_BANDS, MH_ROWS, 4, NULL) == 0);
    int K = mh_k(&m);
    uint64_t a[112], b[112];
    // Whitespace runs are one space; leading and trailing whitespace is dropped.
    sig_of(&m, "日本の 文章は\n\n空白が少ない", MH_CHARS, a);
    sig_of(&m, "  日本の\t文章は 空白が少ない \n", MH_CHARS, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    // Invalid bytes are one character each: {abcd\xff} vs {abcd\xff, bcd\xff\xfe} has J = 1/2.
    sig_of(&m, "abcd\xff", MH_CHARS, a);
    sig_of(&m, "abcd\xff\xfe", MH_CHARS, b);
    double est = mh_jaccard_estimate(a, b, K);
    CHECK_MSG(fabs(est - 0.5) <= 3 * sqrt(0.25 / K) + 1.0 / K, "estimate %.3f, exact 0.5", est);
    // Truncated and overlong sequences and surrogates decode without reading past the end.
    const char *bad[] = {"\xe3\x81", "\xf0\x9f\x98", "\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80", "\xe3"};
    for (int i = 0; i < 4; i++) {
        char *p = malloc(strlen(bad[i]));  // exactly the bytes, no NUL, for the sanitizer
        memcpy(p, bad[i], strlen(bad[i]));
        CHECK(mh_signature(&m, p, strlen(bad[i]), MH_CHARS, a, NULL) == 0);
        free(p);
    }
    mh_free(&m);
}

// The representative is the lowest index of the cluster in the order given, and shuffling the
// documents does not change which documents are clustered together.
TEST(minhash_representative_is_lowest_index_after_shuffle) {
    mh_t m;
    CHECK(mh_init(&m, MH_BANDS, MH_ROWS, 6, NULL) == 0);
    size_t K = (size_t)mh_k(&m);
    bench_t B;
    bench_build(&B, &m, MH_WORDS, 60, 31);
    size_t n = B.n;
    uint32_t *rep = malloc(n * sizeof *rep), *rs = malloc(n * sizeof *rs), *perm = malloc(n * sizeof *perm);
    uint32_t *map1 = malloc(n * sizeof *map1), *map2 = malloc(n * sizeof *map2);
    uint64_t *sh = malloc(n * K * sizeof *sh);
    CHECK(mh_dedup(&m, B.sigs, n, MH_VERIFY_DEFAULT, rep, NULL) == 0);
    rng_t r;
    rng_seed(&r, 7);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = rng_below(&r, i + 1);
            uint32_t t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        for (size_t j = 0; j < n; j++) memcpy(sh + j * K, B.sigs + perm[j] * K, K * sizeof *sh);
        CHECK(mh_dedup(&m, sh, n, MH_VERIFY_DEFAULT, rs, NULL) == 0);
        for (size_t j = 0; j < n; j++) map1[j] = map2[j] = UINT32_MAX;
        int same_partition = 1;
        for (size_t j = 0; j < n; j++) {
            CHECK(rs[j] <= j && rs[rs[j]] == rs[j]);
            uint32_t a = rep[perm[j]], b = rs[j];  // cluster ids: original rep, shuffled rep
            if (map1[a] == UINT32_MAX) map1[a] = b;
            if (map2[b] == UINT32_MAX) map2[b] = a;
            same_partition &= map1[a] == b && map2[b] == a;
        }
        CHECK(same_partition);
        int found_nontrivial = 0;
        for (size_t j = 0; j < n; j++) found_nontrivial |= rs[j] != j;
        CHECK(found_nontrivial);
    }
    free(rep), free(rs), free(perm), free(map1), free(map2), free(sh);
    bench_free(&B);
    mh_free(&m);
}

TEST(minhash_determinism) {
    const char *text = "the quick brown fox jumps over the lazy dog while the cat watches from the fence";
    mh_t m1, m2, m3;
    CHECK(mh_init(&m1, MH_BANDS, MH_ROWS, 42, NULL) == 0);
    CHECK(mh_init(&m2, MH_BANDS, MH_ROWS, 42, NULL) == 0);
    CHECK(mh_init(&m3, MH_BANDS, MH_ROWS, 43, NULL) == 0);
    uint64_t a[112], b[112], c[112];
    sig_of(&m1, text, MH_WORDS, a);
    sig_of(&m2, text, MH_WORDS, b);
    sig_of(&m3, text, MH_WORDS, c);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(mh_jaccard_estimate(a, c, 112) < 0.1);  // another seed, other permutations
    // Stored signatures must stay comparable across versions: a change to the hashing shows here.
    CHECK_MSG(a[0] == 0x02af88059833488aULL, "signature[0] = 0x%016llx", (unsigned long long)a[0]);
    // Dedup is deterministic too.
    bench_t B;
    bench_build(&B, &m1, MH_WORDS, 20, 41);
    uint32_t *r1 = malloc(B.n * sizeof *r1), *r2 = malloc(B.n * sizeof *r2);
    CHECK(mh_dedup(&m1, B.sigs, B.n, MH_VERIFY_DEFAULT, r1, NULL) == 0);
    CHECK(mh_dedup(&m2, B.sigs, B.n, MH_VERIFY_DEFAULT, r2, NULL) == 0);
    CHECK(memcmp(r1, r2, B.n * sizeof *r1) == 0);
    free(r1), free(r2);
    bench_free(&B);
    mh_free(&m1), mh_free(&m2), mh_free(&m3);
}

TEST(minhash_validation) {
    static const int bad[][2] = {{0, 8}, {14, 0}, {-1, 8}, {14, -3}, {4097, 1}, {65, 64}};
    for (int i = 0; i < 6; i++) {
        mh_t m;
        err_t e = {0};
        CHECK(mh_init(&m, bad[i][0], bad[i][1], 1, &e) == -1);
        CHECK_MSG(strstr(e.msg, "bands") && strstr(e.msg, "rows"), "message: %s", e.msg);
        CHECK(m.a == NULL && m.k == 0);
        mh_free(&m);
    }
    mh_free(NULL);
    mh_t m;
    err_t e = {0};
    CHECK(mh_init(&m, 64, 64, 1, &e) == 0 && mh_k(&m) == 4096);
    mh_free(&m);
    CHECK(mh_init(&m, 2, 3, 1, &e) == 0 && mh_k(&m) == 6);
    uint64_t sig[6];
    CHECK(mh_signature(&m, "x", 1, (mh_shingling_t)7, sig, &e) == -1 && strstr(e.msg, "MH_WORDS"));
    CHECK(mh_signature(&m, NULL, 3, MH_WORDS, sig, &e) == -1);
    CHECK(mh_signature(&m, NULL, 0, MH_WORDS, sig, &e) == 0 && sig[0] == UINT64_MAX);
    uint32_t rep[1];
    CHECK(mh_dedup(&m, sig, 1, 1.5, rep, &e) == -1 && strstr(e.msg, "verify_threshold"));
    CHECK(mh_dedup(&m, sig, 1, NAN, rep, &e) == -1);
    CHECK(mh_dedup(&m, sig, 0, MH_VERIFY_DEFAULT, rep, &e) == 0);
    CHECK(mh_dedup(&m, sig, 1, MH_VERIFY_DEFAULT, rep, &e) == 0 && rep[0] == 0);
    mh_free(&m);
}
