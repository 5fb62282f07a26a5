// Tests for data/reader: text with delimiters and whole-file documents, JSONL skips with their
// counts and locations, strict mode, gzip and zstd round trips, truncated streams returning
// the documents before the cut then an error naming the file, binary files, long lines;
// HTML and man files, format detection, WARC records (plain and gzip per record, skips,
// truncation, malformed headers, records over max_line).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

// ---- HTML, man pages and WARC ---------------------------------------------------------------

#define MAXD 16

// Every document of a file, copied.
typedef struct {
    size_t n;
    char *text[MAXD], *src[MAXD], *cs[MAXD];
    size_t len[MAXD], line[MAXD];
    rd_markup_t markup[MAXD];
} docs_t;

static char *dup_or_null(const char *s, size_t n) {
    if (!s) return NULL;
    char *p = malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void docs_free(docs_t *d) {
    for (size_t i = 0; i < d->n; i++) free(d->text[i]), free(d->src[i]), free(d->cs[i]);
    d->n = 0;
}

// Reads path into d (emptied first).  Returns rd_next's final result, or -2 when rd_open failed.
static int read_docs(const char *path, const rd_config_t *c, docs_t *d, rd_stats_t *st, err_t *e) {
    docs_free(d);
    rd_t *r;
    if (rd_open(&r, path, c, e) != 0) return -2;
    rd_doc_t x;
    int k;
    while ((k = rd_next(r, &x, e)) == 1) {
        CHECK(x.text[x.len] == '\0');
        if (d->n == MAXD) continue;
        size_t i = d->n++;
        d->text[i] = dup_or_null(x.text, x.len);
        d->len[i] = x.len;
        d->src[i] = x.source ? dup_or_null(x.source, strlen(x.source)) : NULL;
        d->cs[i] = x.charset ? dup_or_null(x.charset, strlen(x.charset)) : NULL;
        d->line[i] = x.line;
        d->markup[i] = x.markup;
    }
    if (st) *st = *rd_stats(r);
    if (k < 0) {
        err_t e2 = {{0}};
        CHECK(rd_next(r, &x, &e2) == -1 && strcmp(e2.msg, e->msg) == 0);
    }
    rd_close(r);
    return k;
}

static int streq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

TEST(reader_html_and_man_files) {
    const char page[] = "<!DOCTYPE html>\n<html><body><p>Hello</p></body></html>\n";
    const char *p = write_file("page.html", page, sizeof page - 1);
    docs_t d = {0};
    rd_stats_t st;
    err_t e = {{0}};
    int k = read_docs(p, NULL, &d, &st, &e);
    CHECK_MSG(k == 0 && d.n == 1, "k %d n %zu: %s", k, d.n, e.msg);
    if (d.n == 1) {
        CHECK(d.len[0] == sizeof page - 1 && memcmp(d.text[0], page, d.len[0]) == 0);  // as is
        CHECK(d.markup[0] == RD_HTML && d.cs[0] == NULL && d.line[0] == 1 && streq(d.src[0], p));
    }
    CHECK(st.documents == 1 && st.text_bytes == sizeof page - 1);

    // Over max_line: skipped whole and counted, never cut; strict fails naming the file.
    rd_config_t c;
    rd_config_default(&c);
    c.max_line = 20;
    k = read_docs(p, &c, &d, &st, &e);
    CHECK(k == 0 && d.n == 0 && st.too_long == 1 && st.malformed == 1 && st.n_locs == 1 &&
          st.locs[0].line == 1 && st.locs[0].reason == RD_SKIP_TOO_LONG);
    c.strict = 1;
    k = read_docs(p, &c, &d, &st, &e);
    CHECK_MSG(k == -1 && strstr(e.msg, p) && strstr(e.msg, "max_line"), "%s", e.msg);
    // Exactly max_line bytes is not too long.
    c.strict = 0;
    c.max_line = sizeof page - 1;
    CHECK(read_docs(p, &c, &d, &st, &e) == 0 && d.n == 1 && st.too_long == 0);

    // An empty page is counted, not returned.
    p = write_file("empty.htm", "", 0);
    CHECK(read_docs(p, NULL, &d, &st, &e) == 0 && d.n == 0 && st.empty == 1);

    // A man page under man/man1, gzip-compressed: one RD_MAN document of roff source.
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/man", test_tmpdir());
    mkdir(dir, 0777);
    snprintf(dir, sizeof dir, "%s/man/man1", test_tmpdir());
    mkdir(dir, 0777);
    const char roff[] = "Plain words that do not look like roff.\n";
    p = test_path("man/man1/tool.1.gz");
    write_gz(p, roff, sizeof roff - 1);
    k = read_docs(p, NULL, &d, &st, &e);
    CHECK_MSG(k == 0 && d.n == 1, "%s", e.msg);
    if (d.n == 1) CHECK(d.markup[0] == RD_MAN && streq(d.src[0], p) && d.len[0] == sizeof roff - 1);
    docs_free(&d);
}

TEST(reader_detect_format) {
    struct {
        const char *name, *content;
        rd_markup_t markup;  // of the single document
        int docs;            // -1: not one document (a different format)
    } cases[] = {
        {"a.xhtml", "just text", RD_HTML, 1},
        {"b.HTM", "just text", RD_HTML, 1},
        {"c.dat", "  \n<!doctype HTML><p>x", RD_HTML, 1},
        {"d.dat", "\xEF\xBB\xBF<HTML><body>x", RD_HTML, 1},
        {"e.dat", ".\\\" comment\n.TH X 1\n", RD_MAN, 1},
        {"f.dat", "'\\\" t\n.TH X 1\n", RD_MAN, 1},
        {"g.dat", ".so man1/other.1\n", RD_MAN, 1},
        {"h.dat", ".Dd March 1, 2024\n.Dt X 1\n", RD_MAN, 1},
        {"chapter.1", "Chapter one.\nNot roff.", RD_PLAIN, 1},  // a section number, no man dir
        {"i.txt", ".TH looks like roff", RD_PLAIN, 1},           // the name wins
        {"j.txt", "<html>", RD_PLAIN, 1},
        {"k.dat", "{\"text\": \"json\"}", RD_PLAIN, 1},
        {"l.dat", "<p>a fragment is text</p>", RD_PLAIN, 1},
    };
    docs_t d = {0};
    rd_stats_t st;
    err_t e = {{0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = write_file(cases[i].name, cases[i].content, strlen(cases[i].content));
        int k = read_docs(p, NULL, &d, &st, &e);
        CHECK_MSG(k == 0 && d.n == 1 && d.markup[0] == cases[i].markup && d.cs[0] == NULL,
                  "%s: k %d, %zu docs, markup %d", cases[i].name, k, d.n, d.n ? (int)d.markup[0] : -1);
        if (d.n == 1 && cases[i].markup == RD_PLAIN) CHECK(d.src[0] == NULL);
    }
    // JSONL by content gives the field, not the line.
    CHECK(d.n == 1 && streq(d.text[0], "<p>a fragment is text</p>"));
    const char *p = write_file("k2.dat", "{\"text\": \"json\"}", 16);
    CHECK(read_docs(p, NULL, &d, &st, &e) == 0 && d.n == 1 && streq(d.text[0], "json"));

    // Man page names need a man directory: man/, man1/, man3pm/; not manabi/.
    char dir[1100];
    const char *dirs[] = {"man", "man/ja", "man/ja/man1", "man3pm", "manabi", "mann"};
    for (size_t i = 0; i < 6; i++) {
        snprintf(dir, sizeof dir, "%s/%s", test_tmpdir(), dirs[i]);
        mkdir(dir, 0777);
    }
    struct {
        const char *name;
        rd_markup_t markup;
    } names[] = {
        {"man/ja/man1/ls.1", RD_MAN}, {"man3pm/Foo::Bar.3pm", RD_MAN}, {"mann/after.n", RD_MAN},
        {"man/x.8", RD_MAN},           {"manabi/data.1", RD_PLAIN},    {"man/ja/man1/ls.1x1", RD_PLAIN},
        {"man/ja/man1/README", RD_PLAIN},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        p = write_file(names[i].name, "words", 5);
        int k = read_docs(p, NULL, &d, &st, &e);
        CHECK_MSG(k == 0 && d.n == 1 && d.markup[0] == names[i].markup, "%s: k %d markup %d",
                  names[i].name, k, d.n ? (int)d.markup[0] : -1);
    }
    // The configured format beats detection.
    rd_config_t c;
    rd_config_default(&c);
    c.format = RD_FMT_HTML;
    p = write_file("forced.txt", "x", 1);
    CHECK(read_docs(p, &c, &d, &st, &e) == 0 && d.n == 1 && d.markup[0] == RD_HTML);
    docs_free(&d);
}

// Appends one WARC record to o (at *n) and returns its offset.
static size_t warc_rec(char *o, size_t *n, const char *type, const char *uri, const char *ctype,
                       const char *block, size_t blen) {
    size_t at = *n;
    *n += (size_t)sprintf(o + *n, "WARC/1.0\r\nWARC-Type: %s\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
                                  "WARC-Record-ID: <urn:uuid:%zu>\r\n", type, at);
    if (uri) *n += (size_t)sprintf(o + *n, "WARC-Target-URI: %s\r\n", uri);
    *n += (size_t)sprintf(o + *n, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", ctype, blen);
    memcpy(o + *n, block, blen);
    *n += blen;
    memcpy(o + *n, "\r\n\r\n", 4);
    *n += 4;
    return at;
}

#define HTTP_OK "HTTP/1.1 200 OK\r\nServer: test\r\n"

// A WARC with every kind of record; rec[i] is the offset of record i+1, nrec the count.
static size_t make_warc(char *o, size_t *rec, size_t *nrec) {
    static const char png[] = HTTP_OK "Content-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    static const char html_a[] = HTTP_OK "Content-Type: text/html; charset=\"ISO-8859-1\"\r\n"
                                         "Content-Length: 26\r\n\r\n<html><p>caf\xe9</p></html>\n";
    static const char chunked[] = HTTP_OK "content-type: TEXT/HTML\r\nTransfer-Encoding: chunked\r\n"
                                          "\r\n5\r\n<p>hi\r\n6;ext=1\r\n there\r\n0\r\n\r\n";
    static const char notfound[] = "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n<p>404</p>";
    static const char gz[] = HTTP_OK "Content-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n\x1f\x8b";
    static const char xhtml[] = HTTP_OK "Content-Type: application/xhtml+xml;charset=utf-8\r\n\r\n"
                                        "<html><p>x</p></html>";
    size_t n = 0, k = 0;
#define REC(type, uri, ct, s) rec[k++] = warc_rec(o, &n, type, uri, ct, s, strlen(s))
    REC("warcinfo", NULL, "application/warc-fields", ("software: manabi-test\r\nformat: WARC\r\n"));
    REC("request", "http://example.com/a", "application/http; msgtype=request",
        "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n");
    REC("response", "http://example.com/a", "application/http; msgtype=response", (html_a));
    REC("metadata", "http://example.com/a", "application/warc-fields", ("fetchTimeMs: 12\r\n"));
    REC("conversion", "http://example.com/b", "text/plain", ("Plain text of page B\nsecond line"));
    rec[k++] = warc_rec(o, &n, "response", "http://example.com/img.png",
                        "application/http; msgtype=response", png, sizeof png - 1);
    REC("response", "http://example.com/missing", "application/http; msgtype=response", (notfound));
    REC("response", "http://example.com/chunked", "application/http; msgtype=response", (chunked));
    REC("response", "http://example.com/gz", "application/http; msgtype=response", (gz));
    REC("conversion", "<http://example.com/c>", "text/plain", ("third"));
    REC("conversion", "http://example.com/blank", "text/plain", (" \r\n "));
    REC("response", "http://example.com/x", "application/http; msgtype=response", (xhtml));
#undef REC
    *nrec = k;
    return n;
}

// Checks the documents of make_warc's file.
static void check_warc_docs(const char *what, int k, const docs_t *d, const rd_stats_t *st, const err_t *e) {
    CHECK_MSG(k == 0 && d->n == 5, "%s: k %d, %zu docs: %s", what, k, d->n, e->msg);
    if (d->n != 5) return;
    CHECK(streq(d->text[0], "<html><p>caf\xe9</p></html>\n") && d->markup[0] == RD_HTML &&
          streq(d->cs[0], "ISO-8859-1") && streq(d->src[0], "http://example.com/a") && d->line[0] == 3);
    CHECK(streq(d->text[1], "Plain text of page B\nsecond line") && d->markup[1] == RD_PLAIN &&
          d->cs[1] == NULL && streq(d->src[1], "http://example.com/b") && d->line[1] == 5);
    CHECK_MSG(streq(d->text[2], "<p>hi there") && d->markup[2] == RD_HTML && d->cs[2] == NULL &&
              streq(d->src[2], "http://example.com/chunked") && d->line[2] == 8, "%s", d->text[2]);
    CHECK(streq(d->text[3], "third") && streq(d->src[3], "http://example.com/c") && d->line[3] == 10);
    CHECK(streq(d->text[4], "<html><p>x</p></html>") && streq(d->cs[4], "utf-8") && d->line[4] == 12);
    CHECK_MSG(st->warc_records == 12 && st->warc_skipped == 6 && st->empty == 1 && st->documents == 5 &&
              st->malformed == 0 && st->binary == 0,
              "%s: records %zu skipped %zu empty %zu", what, st->warc_records, st->warc_skipped, st->empty);
}

TEST(reader_warc) {
    static char w[8192];
    size_t rec[16], nrec;
    size_t n = make_warc(w, rec, &nrec);
    docs_t d = {0};
    rd_stats_t st;
    err_t e = {{0}};
    const char *p = write_file("crawl.warc", w, n);
    int k = read_docs(p, NULL, &d, &st, &e);
    check_warc_docs("plain", k, &d, &st, &e);
    CHECK(st.bytes_in == n);

    // Detected by content under another name (a .wat, say).
    p = write_file("crawl.wat", w, n);
    check_warc_docs("by content", read_docs(p, NULL, &d, &st, &e), &d, &st, &e);

    // gzip per record: one member each, as Common Crawl writes them.
    p = test_path("crawl.warc.gz");
    for (size_t i = 0; i < nrec; i++) {
        size_t end = i + 1 < nrec ? rec[i + 1] : n;
        gzFile g = gzopen(p, i == 0 ? "wb" : "ab");
        CHECK(g && gzwrite(g, w + rec[i], (unsigned)(end - rec[i])) == (int)(end - rec[i]));
        gzclose(g);
    }
    check_warc_docs("gzip members", read_docs(p, NULL, &d, &st, &e), &d, &st, &e);

    // Cut inside the last record's block: the records before, then an error naming the file.
    p = write_file("cut.warc", w, n - 10);
    k = read_docs(p, NULL, &d, &st, &e);
    CHECK_MSG(k == -1 && d.n == 4 && strstr(e.msg, p) && strstr(e.msg, "record 12") &&
              strstr(e.msg, "truncated"), "k %d n %zu: %s", k, d.n, e.msg);
    char want[64];
    snprintf(want, sizeof want, "at byte %zu:", rec[11]);
    CHECK_MSG(strstr(e.msg, want), "%s (want %s)", e.msg, want);
    // Cut inside a header.
    p = write_file("cut2.warc", w, rec[11] + 20);
    k = read_docs(p, NULL, &d, &st, &e);
    CHECK_MSG(k == -1 && d.n == 4 && strstr(e.msg, "record 12"), "%s", e.msg);
    // Cut after the block but before the closing blank lines: the record is complete.
    p = write_file("cut3.warc", w, n - 4);
    CHECK(read_docs(p, NULL, &d, &st, &e) == 0 && d.n == 5);
    docs_free(&d);
}

TEST(reader_warc_errors) {
    static char w[8192];
    size_t rec[16], nrec;
    make_warc(w, rec, &nrec);
    docs_t d = {0};
    rd_stats_t st;
    err_t e = {{0}};
    char want[200];

    // Garbage where record 4 should start.
    static char bad[8192];
    memcpy(bad, w, rec[3]);
    size_t m = rec[3] + (size_t)sprintf(bad + rec[3], "HTTP/1.1 200 OK\r\n\r\n");  // no WARC/
    const char *p = write_file("bad.warc", bad, m);
    int k = read_docs(p, NULL, &d, &st, &e);
    snprintf(want, sizeof want, "%s: WARC record 4 at byte %zu: does not start", p, rec[3]);
    CHECK_MSG(k == -1 && d.n == 1 && strstr(e.msg, want), "k %d n %zu: %s", k, d.n, e.msg);

    // No Content-Length in record 2 (strict or not).
    m = (size_t)sprintf(bad, "WARC/1.1\r\nWARC-Type: warcinfo\r\nContent-Length: 0\r\n\r\n\r\n\r\n"
                             "WARC/1.1\r\nWARC-Type: conversion\r\n\r\nsome text\r\n\r\n");
    p = write_file("nolen.warc", bad, m);
    rd_config_t c;
    rd_config_default(&c);
    k = read_docs(p, &c, &d, &st, &e);
    CHECK_MSG(k == -1 && strstr(e.msg, p) && strstr(e.msg, "record 2 at byte 56") &&
              strstr(e.msg, "Content-Length"), "%s", e.msg);
    // A Content-Length that is not a number.
    m = (size_t)sprintf(bad, "WARC/1.0\r\nContent-Length: 12x\r\n\r\n");
    p = write_file("badlen.warc", bad, m);
    CHECK(read_docs(p, &c, &d, &st, &e) == -1 && strstr(e.msg, "record 1 at byte 0") &&
          strstr(e.msg, "not a number"));

    // Records over max_line: documents skipped and counted (too_long, their record number),
    // other records just skipped; the reader carries on.  A big block crosses many buffers.
    static char big[400000];
    size_t bn = 0;
    char *blk = malloc(300000);
    memset(blk, 'x', 300000);
    warc_rec(big, &bn, "conversion", "http://big", "text/plain", blk, 300000);
    warc_rec(big, &bn, "resource", "http://big2", "text/plain", blk, 90000);
    warc_rec(big, &bn, "conversion", "http://small", "text/plain", "small", 5);
    free(blk);
    p = write_file("big.warc", big, bn);
    c.max_line = 100000;
    k = read_docs(p, &c, &d, &st, &e);
    CHECK_MSG(k == 0 && d.n == 1 && streq(d.text[0], "small") && d.line[0] == 3, "k %d: %s", k, e.msg);
    CHECK(st.too_long == 1 && st.malformed == 1 && st.warc_skipped == 1 && st.warc_records == 3 &&
          st.n_locs == 1 && st.locs[0].line == 1 && st.locs[0].reason == RD_SKIP_TOO_LONG);
    c.strict = 1;
    k = read_docs(p, &c, &d, &st, &e);
    CHECK_MSG(k == -1 && d.n == 0 && strstr(e.msg, "record 1") && strstr(e.msg, "max_line"), "%s", e.msg);
    docs_free(&d);
}
