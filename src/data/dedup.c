#include "data/dedup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/io.h"

void dd_text_hash(const char *text, size_t len, uint64_t h[2]) {
    XXH128_hash_t x = XXH3_128bits(text, len);
    h[0] = x.low64;
    h[1] = x.high64;
}

uint64_t dd_line_hash(const char *line, size_t len) { return XXH3_64bits(line, len); }

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

size_t dd_each_line(const char *text, size_t len, dd_line_fn fn, void *ctx) {
    size_t lines = 0, i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len, a = i, b = end;
        while (a < b && is_space((unsigned char)text[a])) a++;
        while (b > a && is_space((unsigned char)text[b - 1])) b--;
        fn(text + a, b - a, ctx);
        lines++;
        i = end + 1;
    }
    return lines;
}

typedef struct collect {
    int min_chars, failed;
    uint64_t **hs;
    size_t *n, *cap;
} collect_t;

static void collect_line(const char *s, size_t n, void *ctx) {
    collect_t *c = ctx;
    size_t chars = 0;  // code points: bytes that are not UTF-8 continuation bytes
    for (size_t i = 0; i < n && chars < (size_t)c->min_chars; i++) chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    if (chars < (size_t)c->min_chars || c->failed) return;
    if (*c->n == *c->cap) {
        size_t nc = *c->cap ? 2 * *c->cap : 64;
        uint64_t *p = realloc(*c->hs, nc * sizeof *p);
        if (!p) {
            c->failed = 1;
            return;
        }
        *c->hs = p;
        *c->cap = nc;
    }
    (*c->hs)[(*c->n)++] = dd_line_hash(s, n);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int dd_line_hashes(const char *text, size_t len, int min_chars, uint64_t **hs, size_t *n, size_t *cap) {
    *n = 0;
    collect_t c = {.min_chars = min_chars > 0 ? min_chars : 1, .hs = hs, .n = n, .cap = cap};
    dd_each_line(text, len, collect_line, &c);
    if (c.failed) return -1;
    if (*n > 1) qsort(*hs, *n, sizeof **hs, cmp_u64);  // *hs may still be NULL when n == 0
    size_t m = 0;
    for (size_t i = 0; i < *n; i++)
        if (m == 0 || (*hs)[i] != (*hs)[m - 1]) (*hs)[m++] = (*hs)[i];
    *n = m;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// Line table

void dd_lines_init(dd_lines_t *t) { memset(t, 0, sizeof *t); }

void dd_lines_free(dd_lines_t *t) {
    if (!t) return;
    free(t->e);
    memset(t, 0, sizeof *t);
}

// The slot for hash: its entry, or the empty slot where it belongs.
static dd_line_t *slot(dd_line_t *e, size_t cap, uint64_t hash) {
    size_t i = (size_t)(hash * 0x9E3779B97F4A7C15ULL >> 7) & (cap - 1);
    while (e[i].docs && e[i].hash != hash) i = (i + 1) & (cap - 1);
    return &e[i];
}

static int grow(dd_lines_t *t) {
    if (4 * (t->n + 1) <= 3 * t->cap) return 0;  // load factor <= 3/4
    size_t nc = t->cap ? 2 * t->cap : 1024;
    dd_line_t *e = calloc(nc, sizeof *e);
    if (!e) return -1;
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].docs) *slot(e, nc, t->e[i].hash) = t->e[i];
    free(t->e);
    t->e = e;
    t->cap = nc;
    return 0;
}

int dd_lines_add_entry(dd_lines_t *t, const dd_line_t *x) {
    if (grow(t) != 0) return -1;
    dd_line_t *s = slot(t->e, t->cap, x->hash);
    if (!s->docs) {
        *s = *x;
        t->n++;
    } else {
        s->docs += x->docs;
        if (x->first < s->first) s->first = x->first;
    }
    return 0;
}

int dd_lines_add(dd_lines_t *t, const uint64_t *hs, size_t n, uint64_t order) {
    for (size_t i = 0; i < n; i++) {
        dd_line_t x = {.hash = hs[i], .first = order, .docs = 1};
        if (dd_lines_add_entry(t, &x) != 0) return -1;
    }
    return 0;
}

static int cmp_line(const void *a, const void *b) { return cmp_u64(&((const dd_line_t *)a)->hash, &((const dd_line_t *)b)->hash); }

size_t dd_lines_sorted(dd_lines_t *t) {
    size_t m = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].docs) t->e[m++] = t->e[i];
    if (m > 1) qsort(t->e, m, sizeof *t->e, cmp_line);  // t->e is NULL in a table never added to
    t->n = t->cap = m;
    return m;
}

const dd_line_t *dd_lines_find(const dd_lines_t *t, uint64_t hash) {
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->e[mid].hash < hash) lo = mid + 1;
        else hi = mid;
    }
    return lo < t->n && t->e[lo].hash == hash ? &t->e[lo] : NULL;
}

static const char LINES_MAGIC[8] = {'M', 'N', 'B', 'L', 'I', 'N', 'E', '1'};

int dd_lines_save(const dd_lines_t *t, const char *path, err_t *e) {
    io_atomic_t a = {0};
    uint64_t n = t->n;
    int rc = -1;
    if (io_atomic_open(&a, path, e) == 0 && io_atomic_write(&a, LINES_MAGIC, 8, e) == 0 &&
        io_atomic_write(&a, &n, 8, e) == 0 && io_atomic_write(&a, t->e, t->n * sizeof *t->e, e) == 0 &&
        io_atomic_commit(&a, e) == 0)
        rc = 0;
    io_atomic_abort(&a);
    return rc;
}

int dd_lines_load(dd_lines_t *t, const char *path, err_t *e) {
    dd_lines_init(t);
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, "%s: cannot open it (%m); rerun the stage that writes it", path);
    char magic[8];
    uint64_t n;
    int rc = -1;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, LINES_MAGIC, 8) != 0 || fread(&n, 8, 1, f) != 1 ||
        n > SIZE_MAX / sizeof(dd_line_t)) {
        err_set(e, "%s: not a manabi line table; rerun the stage that writes it", path);
    } else if (n && !(t->e = malloc(n * sizeof *t->e))) {
        err_set(e, "%s: out of memory for %llu lines", path, (unsigned long long)n);
    } else if (fread(t->e, sizeof *t->e, n, f) != n) {
        err_set(e, "%s: truncated (%llu lines promised); rerun the stage that writes it", path, (unsigned long long)n);
    } else {
        t->n = t->cap = n;
        rc = 0;
    }
    fclose(f);
    if (rc != 0) dd_lines_free(t);
    return rc;
}
