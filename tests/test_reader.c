// Tests for data/reader: text with delimiters and whole-file documents, JSONL skips with their
// counts and locations, strict mode, gzip and zstd round trips, truncated streams returning
// the documents before the cut then an error naming the file, binary files, long lines.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#include "data/reader.h"
#include "test.h"

static const char *write_file(const char *name, const void *p, size_t n) {
    const char *path = test_path(name);
    CHECK(test_write_file(path, p, n) == 0);
    return path;
}

// Reads every document of path, joined by "|" into out (sources, when present, as "[src]").
// Returns rd_next's final result (0 or -1; -2 when rd_open failed); st gets the stats.
static int read_all(const char *path, const rd_config_t *c, char *out, size_t cap, size_t *ndocs,
                    rd_stats_t *st, err_t *e) {
    rd_t *r;
    out[0] = '\0';
    *ndocs = 0;
    if (rd_open(&r, path, c, e) != 0) return -2;
    rd_doc_t d;
    int k;
    size_t o = 0;
    while ((k = rd_next(r, &d, e)) == 1) {
        CHECK(d.text[d.len] == '\0');
        o += (size_t)snprintf(out + o, cap - o, "%s%.*s", *ndocs ? "|" : "", (int)d.len, d.text);
        if (d.source) o += (size_t)snprintf(out + o, cap - o, "[%s]", d.source);
        if (o >= cap) o = cap - 1;
        (*ndocs)++;
    }
    const rd_stats_t *rs = rd_stats(r);
    for (size_t i = 0; i < rs->n_locs; i++) CHECK(strcmp(rs->locs[i].file, path) == 0);
    if (st) *st = *rs;
    if (k < 0) {  // the error repeats
        rd_doc_t d2;
        err_t e2 = {{0}};
        CHECK(rd_next(r, &d2, &e2) == -1 && strcmp(e2.msg, e->msg) == 0);
    }
    rd_close(r);
    return k;
}

TEST(reader_text_delimited) {
    const char txt[] = "first doc\nline two\n<|endoftext|>\nsecond\r\n<|endoftext|>\r\n"
                       "<|endoftext|>\nthird <|endoftext|> inline\n<|endoftext|>\n";
    const char *p = write_file("plain.txt", txt, sizeof txt - 1);
    rd_config_t c;
    rd_config_default(&c);
    char out[4096];
    size_t n;
    rd_stats_t st;
    err_t e = {{0}};
    int k = read_all(p, &c, out, sizeof out, &n, &st, &e);
    CHECK_MSG(k == 0, "%s", e.msg);
    CHECK(n == 3);
    CHECK_MSG(strcmp(out, "first doc\nline two|second\r|third <|endoftext|> inline") == 0, "got %s", out);
    CHECK(st.documents == 3 && st.empty == 1 && st.malformed == 0 && st.truncated == 0);
    CHECK(st.bytes_in == sizeof txt - 1);
    CHECK(st.text_bytes == strlen("first doc\nline two") + strlen("second\r") +
                               strlen("third <|endoftext|> inline"));

    c.delimiter = "";  // whole file
    k = read_all(p, &c, out, sizeof out, &n, &st, &e);
    CHECK(k == 0 && n == 1);
    CHECK(strlen(out) == sizeof txt - 2);  // without the final "\n"

    // No trailing newline; no delimiter at all; an empty file.
    p = write_file("nonl.txt", "a\n<|endoftext|>\nb", 17);
    k = read_all(p, NULL, out, sizeof out, &n, &st, &e);
    CHECK(k == 0 && n == 2 && strcmp(out, "a|b") == 0);
    p = write_file("empty.txt", "", 0);
    k = read_all(p, NULL, out, sizeof out, &n, &st, &e);
    CHECK(k == 0 && n == 0 && st.binary == 0);

    // A missing file fails at open, naming it.
    rd_t *r = (rd_t *)1;
    CHECK(rd_open(&r, test_path("nope.txt"), NULL, &e) == -1 && r == NULL);
    CHECK(strstr(e.msg, "nope.txt") != NULL);
    rd_close(NULL);
}

static const char jsonl[] =
    "{\"text\": \"hello\", \"id\": \"a1\"}\n"  // 1
    "{\"text\": \"caf\\u00e9\", \"id\": 7}\n"  // 2
    "{\"text\": broken\n"                      // 3 malformed
    "\n"                                       // 4 blank: ignored
    "{\"body\": \"no text\"}\n"                // 5 missing field
    "{\"text\": 42}\n"                         // 6 not a string
    "[\"text\"]\n"                             // 7 not an object
    "{\"text\": \"x\"} trailing\n"             // 8 trailing garbage
    "{\"text\": \"last\"}";                    // 9 no final newline

TEST(reader_jsonl_skips) {
    const char *p = write_file("data.jsonl", jsonl, sizeof jsonl - 1);
    rd_config_t c;
    rd_config_default(&c);
    c.source_field = "id";
    char out[4096];
    size_t n;
    rd_stats_t st;
    err_t e = {{0}};
    int k = read_all(p, &c, out, sizeof out, &n, &st, &e);
    CHECK_MSG(k == 0, "%s", e.msg);
    CHECK_MSG(strcmp(out, "hello[a1]|caf\xC3\xA9[7]|last") == 0, "got %s", out);
    CHECK(st.documents == 3 && st.lines == 9);
    CHECK(st.malformed == 5 && st.bad_json == 3 && st.no_field == 1 && st.not_string == 1);
    CHECK(st.n_locs == 5);
    const size_t want_line[] = {3, 5, 6, 7, 8};
    const rd_skip_t want_why[] = {RD_SKIP_BAD_JSON, RD_SKIP_NO_FIELD, RD_SKIP_NOT_STRING,
                                  RD_SKIP_BAD_JSON, RD_SKIP_BAD_JSON};
    for (size_t i = 0; i < 5 && i < st.n_locs; i++) {
        CHECK_MSG(st.locs[i].line == want_line[i] && st.locs[i].reason == want_why[i],
                  "loc %zu: line %zu reason %d", i, st.locs[i].line, (int)st.locs[i].reason);
    }

    // Another field name; detected as JSONL by content under a neutral name.
    p = write_file("data.dat", jsonl, sizeof jsonl - 1);
    c.text_field = "body";
    c.source_field = NULL;
    k = read_all(p, &c, out, sizeof out, &n, &st, &e);
    CHECK(k == 0 && strcmp(out, "no text") == 0 && st.no_field == 4);
}

TEST(reader_jsonl_strict) {
    const char *p = write_file("strict.jsonl", jsonl, sizeof jsonl - 1);
    rd_config_t c;
    rd_config_default(&c);
    c.strict = 1;
    char out[4096], want[1200];
    size_t n;
    err_t e = {{0}};
    int k = read_all(p, &c, out, sizeof out, &n, NULL, &e);
    CHECK(k == -1 && n == 2);
    snprintf(want, sizeof want, "%s:3: malformed JSON", p);
    CHECK_MSG(strstr(e.msg, want) != NULL, "message: %s", e.msg);
}

// Compresses data to path with gzip, in two members to exercise concatenation.
static void write_gz(const char *path, const char *data, size_t n) {
    size_t half = n / 2;
    gzFile g = gzopen(path, "wb");
    CHECK(g != NULL);
    CHECK(gzwrite(g, data, (unsigned)half) == (int)half);
    gzclose(g);
    g = gzopen(path, "ab");
    CHECK(gzwrite(g, data + half, (unsigned)(n - half)) == (int)(n - half));
    gzclose(g);
}

static void write_zst(const char *path, const char *data, size_t n) {
    size_t cap = ZSTD_compressBound(n);
    char *z = malloc(cap);
    size_t m = ZSTD_compress(z, cap, data, n, 3);
    CHECK(!ZSTD_isError(m));
    write_file(strrchr(path, '/') + 1, z, m);
    free(z);
}

// A big JSONL corpus (several buffers long) and the expected joined documents.
static char *make_corpus(size_t docs, size_t *len) {
    char *s = malloc(docs * 64);
    size_t o = 0;
    for (size_t i = 0; i < docs; i++)
        o += (size_t)sprintf(s + o, "{\"text\": \"document number %zu\"}\n", i);
    *len = o;
    return s;
}

static void truncate_file(const char *path, double frac) {
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n);
    CHECK(fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(b, 1, (size_t)(n * frac), f);
    fclose(f);
    free(b);
}

static void check_compressed(const char *name, int zst) {
    size_t len, docs = 20000;
    char *corpus = make_corpus(docs, &len);
    char fname[64];
    snprintf(fname, sizeof fname, "%s", name);
    const char *p = test_path(fname);
    if (zst) write_zst(p, corpus, len);
    else write_gz(p, corpus, len);
    rd_t *r;
    err_t e = {{0}};
    CHECK_MSG(rd_open(&r, p, NULL, &e) == 0, "%s", e.msg);
    if (!r) return;
    rd_doc_t d;
    size_t n = 0;
    int k, ok = 1;
    while ((k = rd_next(r, &d, &e)) == 1) {
        char want[64];
        snprintf(want, sizeof want, "document number %zu", n);
        if (strcmp(d.text, want) != 0) ok = 0;
        n++;
    }
    CHECK_MSG(k == 0, "%s: %s", name, e.msg);
    CHECK(ok && n == docs);
    CHECK(rd_stats(r)->bytes_in == len);
    rd_close(r);

    // Cut the file in the middle: the documents before come back in order, then an error.
    truncate_file(p, 0.5);
    CHECK(rd_open(&r, p, NULL, &e) == 0);
    if (!r) return;
    n = 0;
    ok = 1;
    while ((k = rd_next(r, &d, &e)) == 1) {
        char want[64];
        snprintf(want, sizeof want, "document number %zu", n);
        if (strcmp(d.text, want) != 0) ok = 0;
        n++;
    }
    CHECK_MSG(k == -1, "%s: truncated file read to the end without error", name);
    CHECK_MSG(ok && n > docs / 10 && n < docs, "%s: %zu documents before the cut", name, n);
    CHECK_MSG(strstr(e.msg, p) && strstr(e.msg, "truncated"), "message: %s", e.msg);
    rd_close(r);

    // A cut inside the first document: open succeeds, rd_next fails naming the file.
    const char one[] = "{\"text\": \"only one document here, long enough\"}\n";
    if (zst) write_zst(p, one, sizeof one - 1);
    else write_gz(p, one, sizeof one - 1);
    truncate_file(p, 0.7);
    char out[256];
    k = read_all(p, NULL, out, sizeof out, &n, NULL, &e);
    CHECK_MSG(k == -1 && n == 0 && strstr(e.msg, p), "%s: k %d: %s", name, k, e.msg);
    free(corpus);
}

TEST(reader_gzip) { check_compressed("corpus.jsonl.gz", 0); }
TEST(reader_zstd) { check_compressed("corpus.jsonl.zst", 1); }

TEST(reader_binary_skipped) {
    char b[10000];
    for (size_t i = 0; i < sizeof b; i++) b[i] = (char)('a' + i % 26);
    b[5000] = '\0';
    const char *p = write_file("blob.txt", b, sizeof b);
    char out[64];
    size_t n;
    rd_stats_t st;
    err_t e = {{0}};
    CHECK(read_all(p, NULL, out, sizeof out, &n, &st, &e) == 0 && n == 0 && st.binary == 1);
    // A NUL after the first 8 KiB is not checked.
    b[5000] = 'x';
    b[9000] = '\0';
    p = write_file("late.txt", b, sizeof b);
    CHECK(read_all(p, NULL, out, sizeof out, &n, &st, &e) == 0 && n == 1 && st.binary == 0);
    // Binary behind gzip is found after decompression.
    b[9000] = 'x';
    b[100] = '\0';
    p = test_path("blob.gz");
    write_gz(p, b, sizeof b);
    CHECK(read_all(p, NULL, out, sizeof out, &n, &st, &e) == 0 && n == 0 && st.binary == 1);
}

TEST(reader_long_lines) {
    rd_config_t c;
    rd_config_default(&c);
    c.max_line = 10;
    // JSONL: a line over max_line is skipped and counted.
    const char j[] = "{\"text\":\"ok\"}\n{\"text\":\"far too long\"}\n{\"text\":\"b\"}\n";
    const char *p = write_file("long.jsonl", j, sizeof j - 1);
    c.max_line = 14;
    char out[256];
    size_t n;
    rd_stats_t st;
    err_t e = {{0}};
    int k = read_all(p, &c, out, sizeof out, &n, &st, &e);
    CHECK_MSG(k == 0 && strcmp(out, "ok|b") == 0, "got %s (%s)", out, e.msg);
    CHECK(st.too_long == 1 && st.malformed == 1 && st.n_locs == 1 && st.locs[0].line == 2 &&
          st.locs[0].reason == RD_SKIP_TOO_LONG);
    c.strict = 1;
    k = read_all(p, &c, out, sizeof out, &n, &st, &e);
    CHECK_MSG(k == -1 && strstr(e.msg, ":2: line too long"), "%s", e.msg);
    c.strict = 0;

    // Text: documents and lines over max_line are truncated (on a UTF-8 boundary) and counted.
    c.max_line = 10;
    const char t[] = "0123456789abcdef\n<|endoftext|>\nab\ncd\nef\ngh\nij\n<|endoftext|>\n"
                     "123456789\xC3\xA9xyz\n<|endoftext|>\nshort";
    p = write_file("long.txt", t, sizeof t - 1);
    k = read_all(p, &c, out, sizeof out, &n, &st, &e);
    CHECK_MSG(k == 0 && strcmp(out, "0123456789|ab\ncd\nef\ng|123456789|short") == 0, "got %s", out);
    CHECK(st.truncated == 3 && st.documents == 4);
}
