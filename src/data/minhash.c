#include "data/minhash.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// splitmix64's finaliser: a bijection on 64 bits with full avalanche.
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// Hash function k of a shingle hash x: splitmix64's finaliser of x ^ a_k.  Each is a
// bijection on 64 bits with full avalanche, so for distinct shingles the K minima behave as K
// independent random orders; the loop over k has no carries across lanes and vectorises (8
// lanes of AVX-512 64-bit multiplies), which a (a x + b) mod p family does not.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define MH_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MH_CLONES
#endif

MH_CLONES static void update_all(const uint64_t *restrict a, int k, uint64_t *restrict sig, uint64_t x) {
    for (int i = 0; i < k; i++) {
        uint64_t z = x ^ a[i];
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        sig[i] = z < sig[i] ? z : sig[i];
    }
}

int mh_init(mh_t *m, int bands, int rows, uint64_t seed, err_t *e) {
    memset(m, 0, sizeof *m);
    if (bands < 1 || rows < 1 || (int64_t)bands * rows > MH_MAX_K)
        return err_set(e, "minhash: bands = %d, rows = %d: both must be >= 1 and bands * rows <= %d "
                          "(the default is %d x %d)", bands, rows, MH_MAX_K, MH_BANDS, MH_ROWS);
    int k = bands * rows;
    m->a = malloc((size_t)k * sizeof *m->a);
    if (!m->a) {
        mh_free(m);
        return err_set(e, "minhash: out of memory for %d hash functions", k);
    }
    uint64_t s = seed;
    for (int i = 0; i < k; i++) {
        m->a[i] = mix64(s += 0x9e3779b97f4a7c15ULL);
    }
    m->bands = bands;
    m->rows = rows;
    m->k = k;
    m->seed = seed;
    return 0;
}

void mh_free(mh_t *m) {
    if (!m) return;
    free(m->a);
    memset(m, 0, sizeof *m);
}

static inline int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static inline unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// Decodes one code point at s[*i] and advances *i.  An invalid or truncated sequence (overlong,
// surrogate, > U+10FFFF) yields 0x110000 + its first byte and advances one byte.
static uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i) {
    size_t p = *i;
    uint32_t c = s[p];
    int need;
    uint32_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c < 0x80) need = 0;
    else if (c >= 0xc2 && c <= 0xdf) need = 1, c &= 0x1f;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
        c &= 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
        c &= 0x07;
    } else {
        *i = p + 1;
        return 0x110000 + c;
    }
    if (need && p + (size_t)need >= len) {  // truncated
        *i = p + 1;
        return 0x110000 + s[p];
    }
    for (int j = 1; j <= need; j++) {
        uint32_t t = s[p + (size_t)j];
        if (t < (j == 1 ? lo : 0x80) || t > (j == 1 ? hi : 0xbf)) {
            *i = p + 1;
            return 0x110000 + s[p];
        }
        c = (c << 6) | (t & 0x3f);
    }
    *i = p + 1 + (size_t)need;
    return c;
}

// A token stream over the document: each call to next_token yields one token's 64-bit hash.
typedef struct scan {
    const unsigned char *s;
    size_t len, i;
    mh_shingling_t how;
} scan_t;

static int next_token(scan_t *sc, uint64_t *tok) {
    const unsigned char *s = sc->s;
    size_t n = sc->len;
    if (sc->how == MH_WORDS) {
        while (sc->i < n && is_space(s[sc->i])) sc->i++;
        if (sc->i == n) return 0;
        uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
        while (sc->i < n && !is_space(s[sc->i])) h = (h ^ lower(s[sc->i++])) * 0x100000001b3ULL;
        *tok = mix64(h);
        return 1;
    }
    if (sc->i == 0)
        while (sc->i < n && is_space(s[sc->i])) sc->i++;  // leading whitespace
    if (sc->i == n) return 0;
    if (is_space(s[sc->i])) {
        while (sc->i < n && is_space(s[sc->i])) sc->i++;
        if (sc->i == n) return 0;  // trailing whitespace
        *tok = mix64(' ' + 0x5851f42d4c957f2dULL);
        return 1;
    }
    uint32_t c = utf8_next(s, n, &sc->i);
    if (c < 128) c = lower((unsigned char)c);
    *tok = mix64(c + 0x5851f42d4c957f2dULL);
    return 1;
}

// Folds the shingle hash x into the K running minima.
static inline void update(const mh_t *m, uint64_t *sig, uint64_t x) { update_all(m->a, m->k, sig, x); }

// Combines the n token hashes ring[first], ring[first+1], ... (mod MH_SHINGLE) in order.
static inline uint64_t shingle_hash(const uint64_t *ring, int first, int n) {
    uint64_t h = 0x243f6a8885a308d3ULL + (uint64_t)n;
    for (int j = 0; j < n; j++) h = mix64(h ^ ring[(first + j) % MH_SHINGLE]);
    return h;
}

int mh_signature(const mh_t *m, const char *text, size_t len, mh_shingling_t how, uint64_t *sig, err_t *e) {
    if (how != MH_WORDS && how != MH_CHARS)
        return err_set(e, "minhash: unknown shingling %d (use MH_WORDS or MH_CHARS)", (int)how);
    if (!text && len > 0) return err_set(e, "minhash: text is NULL but len = %zu", len);
    for (int k = 0; k < m->k; k++) sig[k] = UINT64_MAX;
    scan_t sc = {(const unsigned char *)text, len, 0, how};
    uint64_t ring[MH_SHINGLE];
    size_t n = 0;
    uint64_t t;
    while (next_token(&sc, &t)) {
        ring[n % MH_SHINGLE] = t;
        n++;
        if (n >= MH_SHINGLE) update(m, sig, shingle_hash(ring, (int)(n % MH_SHINGLE), MH_SHINGLE));
    }
    if (n > 0 && n < MH_SHINGLE) update(m, sig, shingle_hash(ring, 0, (int)n));  // the whole document
    return 0;
}

double mh_jaccard_estimate(const uint64_t *a, const uint64_t *b, int k) {
    if (k <= 0) return 0.0;
    int eq = 0;
    for (int i = 0; i < k; i++) eq += a[i] == b[i];
    return (double)eq / k;
}

// ---- union-find: path compression + union by size ----

static uint32_t uf_find(uint32_t *parent, uint32_t x) {
    uint32_t r = x;
    while (parent[r] != r) r = parent[r];
    while (parent[x] != r) {
        uint32_t next = parent[x];
        parent[x] = r;
        x = next;
    }
    return r;
}

static void uf_union(uint32_t *parent, uint32_t *size, uint32_t x, uint32_t y) {
    x = uf_find(parent, x);
    y = uf_find(parent, y);
    if (x == y) return;
    if (size[x] < size[y]) {
        uint32_t t = x;
        x = y;
        y = t;
    }
    parent[y] = x;
    size[x] += size[y];
}

typedef struct bucket_key {
    uint64_t h;
    uint32_t doc;
} bucket_key_t;

static int cmp_key(const void *pa, const void *pb) {
    const bucket_key_t *a = pa, *b = pb;
    if (a->h != b->h) return a->h < b->h ? -1 : 1;
    return (a->doc > b->doc) - (a->doc < b->doc);
}

enum { SMALL_BUCKET = 64 };  // all pairs verified up to this size; leaders beyond it

int mh_dedup(const mh_t *m, const uint64_t *sigs, size_t n_docs, double verify_threshold, uint32_t *rep, err_t *e) {
    if (n_docs >= UINT32_MAX)
        return err_set(e, "minhash: %zu documents; at most %u per call (split the corpus)", n_docs, UINT32_MAX - 1);
    if (isnan(verify_threshold) || verify_threshold > 1.0)
        return err_set(e, "minhash: verify_threshold = %g; use a value in (0, 1], or <= 0 for no verification",
                       verify_threshold);
    if (n_docs == 0) return 0;
    uint32_t n = (uint32_t)n_docs, *parent = malloc(n * sizeof *parent), *size = malloc(n * sizeof *size);
    bucket_key_t *keys = malloc(n * sizeof *keys);
    if (!parent || !size || !keys) {
        free(parent), free(size), free(keys);
        return err_set(e, "minhash: out of memory bucketing %zu documents (%zu bytes)", n_docs, n_docs * 24);
    }
    for (uint32_t i = 0; i < n; i++) parent[i] = i, size[i] = 1;
    const size_t K = (size_t)m->k;
    const int verify = verify_threshold > 0;
#define SIG(d) (sigs + (size_t)(d) * K)
#define SAME(x, y) (mh_jaccard_estimate(SIG(x), SIG(y), m->k) >= verify_threshold)
    for (int band = 0; band < m->bands; band++) {
        for (uint32_t i = 0; i < n; i++) {
            const uint64_t *row = SIG(i) + (size_t)band * (size_t)m->rows;
            uint64_t h = 0x6a09e667f3bcc909ULL;
            for (int r = 0; r < m->rows; r++) h = mix64(h ^ row[r]);
            keys[i] = (bucket_key_t){h, i};
        }
        qsort(keys, n, sizeof *keys, cmp_key);
        for (uint32_t s = 0, t; s < n; s = t) {
            for (t = s + 1; t < n && keys[t].h == keys[s].h; t++) {}
            if (t - s == 1) continue;
            if (!verify) {
                for (uint32_t j = s + 1; j < t; j++) uf_union(parent, size, keys[s].doc, keys[j].doc);
            } else if (t - s <= SMALL_BUCKET) {
                for (uint32_t i = s; i < t; i++)
                    for (uint32_t j = i + 1; j < t; j++) {
                        uint32_t x = keys[i].doc, y = keys[j].doc;
                        if (uf_find(parent, x) != uf_find(parent, y) && SAME(x, y)) uf_union(parent, size, x, y);
                    }
            } else {
                // Mass duplicates: each document against the first member of each cluster seen
                // in this bucket so far (at most SMALL_BUCKET of them).
                uint32_t leaders[SMALL_BUCKET];
                int nl = 0;
                for (uint32_t j = s; j < t; j++) {
                    uint32_t y = keys[j].doc;
                    int joined = 0;
                    for (int l = 0; l < nl; l++) {
                        if (uf_find(parent, leaders[l]) == uf_find(parent, y)) {
                            joined = 1;
                            continue;
                        }
                        if (SAME(leaders[l], y)) uf_union(parent, size, leaders[l], y), joined = 1;
                    }
                    if (!joined && nl < SMALL_BUCKET) leaders[nl++] = y;
                }
            }
        }
    }
#undef SAME
#undef SIG
    // size[] becomes "lowest index of the cluster rooted here".
    for (uint32_t i = 0; i < n; i++) size[i] = UINT32_MAX;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = uf_find(parent, i);
        if (size[r] == UINT32_MAX) size[r] = i;
        rep[i] = size[r];
    }
    free(parent), free(size), free(keys);
    return 0;
}
