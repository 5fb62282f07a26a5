// reader: see reader.h.  Three layers: a source (file -> decompressed bytes, by chunks), a
// line splitter over a chunk buffer, and the document builders: text and JSONL over lines,
// HTML/man over the whole stream, WARC over header lines and byte-counted blocks.
#include "data/reader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>

#include <json-c/json.h>
#include <zlib.h>
#include <zstd.h>

#define RD_BUF (64 * 1024)  // compressed input and decompressed chunk buffers
#define RD_SNIFF 8192       // decompressed bytes checked for a NUL

enum { SRC_RAW, SRC_GZ, SRC_ZSTD };

struct rd {
    rd_config_t c;
    char *path, *delim, *text_field, *source_field;  // owned copies
    FILE *f;
    int kind;         // SRC_*
    int fmt;          // RD_FMT_* (never AUTO after rd_open)
    unsigned char *in;  // compressed input: in[in_pos..in_len)
    size_t in_pos, in_len;
    int in_eof;
    z_stream zs;
    int zs_init, zs_done;  // zs_done: the current gzip member ended
    ZSTD_DCtx *zd;
    size_t zd_last;        // last ZSTD_decompressStream result: 0 = at a frame boundary
    char *chunk;           // decompressed bytes: chunk[ch_pos..ch_len)
    size_t ch_pos, ch_len;
    int src_eof;           // the source has no more bytes
    int src_failed;        // ... because of an error, in src_err
    char src_err[768];
    char *line;            // current line, up to max_line bytes, NUL-terminated
    size_t line_len, line_cap;
    size_t line_max;       // max_line, or the delimiter's length if longer (text)
    int line_long;         // the current line was longer than max_line
    size_t lineno;
    char *doc;             // current document (text and JSONL text), NUL-terminated
    size_t doc_len, doc_cap;
    char *src;             // doc->source
    size_t src_cap;
    char cs[64];           // doc->charset of a WARC response
    size_t rec;            // WARC records started
    json_tokener *tok;
    int done;              // 0: more; 1: end returned; -1: error returned (msg in err)
    char err[1024];
    rd_stats_t st;
};

const char *rd_skip_name(rd_skip_t k) {
    switch (k) {
    case RD_SKIP_BAD_JSON: return "malformed JSON";
    case RD_SKIP_NO_FIELD: return "missing text field";
    case RD_SKIP_NOT_STRING: return "text field not a string";
    case RD_SKIP_TOO_LONG: return "line too long";
    }
    return "?";
}

void rd_config_default(rd_config_t *c) {
    memset(c, 0, sizeof *c);
    c->format = RD_FMT_AUTO;
    c->delimiter = "<|endoftext|>";
    c->text_field = "text";
    c->source_field = NULL;
    c->max_line = (size_t)16 << 20;
    c->strict = 0;
}

// Grows *buf to hold at least need bytes (doubling).  Returns 0, or -1 when out of memory.
static int grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need) n *= 2;
    char *p = realloc(*buf, n);
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

// ---- source: decompressed bytes ------------------------------------------------------------

// Refills the compressed input buffer when it is empty.  Returns 0, or -1 on a read error.
static int in_refill(rd_t *r) {
    if (r->in_pos < r->in_len || r->in_eof) return 0;
    size_t n = fread(r->in, 1, RD_BUF, r->f);
    r->in_pos = 0;
    r->in_len = n;
    if (n == 0) {
        if (ferror(r->f)) {
            snprintf(r->src_err, sizeof r->src_err, "reading %s: %s", r->path, strerror(errno));
            return -1;
        }
        r->in_eof = 1;
    }
    return 0;
}

static int truncated(rd_t *r, const char *what) {
    snprintf(r->src_err, sizeof r->src_err,
             "%s: %s stream ends early (file truncated?); documents before the cut were read",
             r->path, what);
    return -1;
}

// Reads up to cap decompressed bytes into buf.  Returns the count (> 0), 0 at the clean end,
// or -1 with the cause in r->src_err.
static long src_read(rd_t *r, char *buf, size_t cap) {
    if (r->kind == SRC_RAW) {
        if (in_refill(r) != 0) return -1;
        size_t n = r->in_len - r->in_pos;
        if (n > cap) n = cap;
        memcpy(buf, r->in + r->in_pos, n);
        r->in_pos += n;
        return (long)n;
    }
    if (r->kind == SRC_GZ) {
        for (;;) {
            if (in_refill(r) != 0) return -1;
            if (r->zs_done) {  // a member ended: stop, or start the next concatenated one
                if (r->in_pos == r->in_len && r->in_eof) return 0;
                if (inflateReset(&r->zs) != Z_OK) return truncated(r, "gzip");
                r->zs_done = 0;
            }
            r->zs.next_in = r->in + r->in_pos;
            r->zs.avail_in = (uInt)(r->in_len - r->in_pos);
            r->zs.next_out = (Bytef *)buf;
            r->zs.avail_out = (uInt)cap;
            int ret = inflate(&r->zs, Z_NO_FLUSH);
            r->in_pos = r->in_len - r->zs.avail_in;
            size_t got = cap - r->zs.avail_out;
            if (ret == Z_STREAM_END) {
                r->zs_done = 1;
            } else if (ret != Z_OK && ret != Z_BUF_ERROR) {
                snprintf(r->src_err, sizeof r->src_err, "%s: corrupt gzip data (%s)", r->path,
                         r->zs.msg ? r->zs.msg : "inflate failed");
                return -1;
            }
            if (got > 0) return (long)got;
            if (!r->zs_done && r->in_pos == r->in_len && r->in_eof) return truncated(r, "gzip");
        }
    }
    for (;;) {  // SRC_ZSTD
        if (in_refill(r) != 0) return -1;
        ZSTD_inBuffer zin = {r->in, r->in_len, r->in_pos};
        ZSTD_outBuffer zout = {buf, cap, 0};
        size_t before = r->in_pos;
        size_t ret = ZSTD_decompressStream(r->zd, &zout, &zin);
        r->in_pos = zin.pos;
        if (ZSTD_isError(ret)) {
            snprintf(r->src_err, sizeof r->src_err, "%s: corrupt zstd data (%s)", r->path,
                     ZSTD_getErrorName(ret));
            return -1;
        }
        if (zout.pos > 0 || zin.pos != before) r->zd_last = ret;
        if (zout.pos > 0) return (long)zout.pos;
        // With no input left, ret is the next frame's header size even at a clean boundary, so
        // the test uses zd_last, the result of the last call that made progress.
        if (r->in_pos == r->in_len && r->in_eof) return r->zd_last == 0 ? 0 : truncated(r, "zstd");
    }
}

// Reads more decompressed bytes into the chunk buffer (discarding consumed ones).  Returns 1
// when bytes were added, 0 when the source is exhausted (cleanly or not: see src_failed).
static int chunk_fill(rd_t *r) {
    if (r->src_eof) return 0;
    if (r->ch_pos > 0) {
        memmove(r->chunk, r->chunk + r->ch_pos, r->ch_len - r->ch_pos);
        r->ch_len -= r->ch_pos;
        r->ch_pos = 0;
    }
    if (r->ch_len == RD_BUF) return 1;
    long n = src_read(r, r->chunk + r->ch_len, RD_BUF - r->ch_len);
    if (n <= 0) {
        r->src_eof = 1;
        r->src_failed = n < 0;
        return 0;
    }
    r->ch_len += (size_t)n;
    r->st.bytes_in += (size_t)n;
    return 1;
}

// ---- lines ---------------------------------------------------------------------------------

// Reads the next line (without "\n") into r->line, keeping at most max_line bytes and setting
// line_long when more were dropped.  Returns 1 with a line, 0 at the end, -1 when the source
// failed (the incomplete line is dropped).
static int line_next(rd_t *r) {
    r->line_len = 0;
    r->line_long = 0;
    int any = 0;
    for (;;) {
        if (r->ch_pos == r->ch_len && !chunk_fill(r)) {
            if (r->src_failed) return -1;
            if (!any) return 0;
            break;  // a last line without "\n"
        }
        any = 1;
        char *p = r->chunk + r->ch_pos;
        size_t avail = r->ch_len - r->ch_pos;
        char *nl = memchr(p, '\n', avail);
        size_t n = nl ? (size_t)(nl - p) : avail;
        size_t keep = n;
        if (r->line_len + keep > r->line_max) {
            keep = r->line_max - r->line_len;
            r->line_long = 1;
        }
        if (keep > 0) {
            if (grow(&r->line, &r->line_cap, r->line_len + keep + 1) != 0) {
                snprintf(r->src_err, sizeof r->src_err, "%s: out of memory for a line", r->path);
                r->src_failed = 1;
                return -1;
            }
            memcpy(r->line + r->line_len, p, keep);
            r->line_len += keep;
        }
        r->ch_pos += n + (nl ? 1 : 0);
        if (nl) break;
    }
    if (!r->line) {  // an empty first line: make r->line a valid string
        if (grow(&r->line, &r->line_cap, 1) != 0) {
            snprintf(r->src_err, sizeof r->src_err, "%s: out of memory", r->path);
            r->src_failed = 1;
            return -1;
        }
    }
    r->line[r->line_len] = '\0';
    r->lineno++;
    r->st.lines++;
    return 1;
}

// Length of s[0..n) cut back so that it does not end inside a UTF-8 sequence.
static size_t utf8_cut(const char *s, size_t n) {
    size_t i = n, back = 0;  // back: continuation bytes at the end
    while (i > 0 && back < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) i--, back++;
    if (i == 0) return n;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    if (lead >= 0xC0 && back + 1 < want) return i - 1;  // drop the incomplete character
    return n;
}

// ---- documents -----------------------------------------------------------------------------

static int fail(rd_t *r, err_t *e, const char *msg) {
    snprintf(r->err, sizeof r->err, "%s", msg);
    r->done = -1;
    return err_set(e, "%s", r->err);
}

static int oom(rd_t *r, err_t *e) {
    char m[600];
    snprintf(m, sizeof m, "%s:%zu: out of memory", r->path, r->lineno);
    return fail(r, e, m);
}

static int text_next(rd_t *r, rd_doc_t *doc, err_t *e) {
    const char *d = r->delim;
    size_t dl = strlen(d);
    for (;;) {
        r->doc_len = 0;
        int cut = 0, lines = 0, k;
        size_t start = 0;
        while ((k = line_next(r)) == 1) {
            size_t n = r->line_len;
            if (dl > 0) {
                size_t m = n > 0 && r->line[n - 1] == '\r' ? n - 1 : n;
                if (m == dl && memcmp(r->line, d, dl) == 0 && !r->line_long) break;
            }
            if (lines == 0) start = r->lineno;
            if (r->line_long) cut = 1;
            size_t add = n + (lines > 0);
            if (r->doc_len + add > r->c.max_line) {
                add = r->c.max_line - r->doc_len;
                cut = 1;
            }
            lines++;
            if (add == 0 || r->doc_len == r->c.max_line) continue;
            if (grow(&r->doc, &r->doc_cap, r->doc_len + add + 1) != 0) return oom(r, e);
            if (lines > 1) r->doc[r->doc_len++] = '\n', add--;
            memcpy(r->doc + r->doc_len, r->line, add);
            r->doc_len += add;
        }
        if (k < 0) return fail(r, e, r->src_err);
        if (lines == 0 && k == 0) {
            r->done = 1;
            return 0;
        }
        if (cut) {
            r->doc_len = utf8_cut(r->doc, r->doc_len);
            r->st.truncated++;
        }
        if (r->doc_len == 0) {
            r->st.empty++;
            if (k == 0) {
                r->done = 1;
                return 0;
            }
            continue;
        }
        r->doc[r->doc_len] = '\0';
        doc->text = r->doc;
        doc->len = r->doc_len;
        doc->source = NULL;
        doc->line = start;
        doc->markup = RD_PLAIN;
        doc->charset = NULL;
        r->st.documents++;
        r->st.text_bytes += r->doc_len;
        return 1;
    }
}

// Counts a skipped JSONL line; in strict mode fails naming file:line.  Returns 0 or -1.
static int skip(rd_t *r, rd_skip_t why, const char *detail, err_t *e) {
    r->st.malformed++;
    switch (why) {
    case RD_SKIP_BAD_JSON: r->st.bad_json++; break;
    case RD_SKIP_NO_FIELD: r->st.no_field++; break;
    case RD_SKIP_NOT_STRING: r->st.not_string++; break;
    case RD_SKIP_TOO_LONG: r->st.too_long++; break;
    }
    if (r->st.n_locs < RD_MAX_LOCS) {
        rd_loc_t *l = &r->st.locs[r->st.n_locs++];
        l->file = r->path;
        l->line = r->lineno;
        l->reason = why;
    }
    if (!r->c.strict) return 0;
    char m[1000];
    snprintf(m, sizeof m, "%s:%zu: %s%s%s (strict mode; fix the line or run without strict to skip it)",
             r->path, r->lineno, rd_skip_name(why), detail ? ": " : "", detail ? detail : "");
    fail(r, e, m);
    return -1;
}

static int all_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return 0;
    return 1;
}

static int jsonl_next(rd_t *r, rd_doc_t *doc, err_t *e) {
    int k;
    while ((k = line_next(r)) == 1) {
        if (r->line_long || r->line_len > INT_MAX) {
            if (skip(r, RD_SKIP_TOO_LONG, NULL, e) != 0) return -1;
            continue;
        }
        if (all_blank(r->line, r->line_len)) continue;
        json_tokener_reset(r->tok);
        json_object *o = json_tokener_parse_ex(r->tok, r->line, (int)r->line_len);
        enum json_tokener_error je = json_tokener_get_error(r->tok);
        if (o && je == json_tokener_success) {
            size_t end = json_tokener_get_parse_end(r->tok);
            if (!all_blank(r->line + end, r->line_len - end)) {
                json_object_put(o);
                o = NULL;
                if (skip(r, RD_SKIP_BAD_JSON, "text after the JSON value", e) != 0) return -1;
                continue;
            }
        }
        if (!o || je != json_tokener_success) {
            if (o) json_object_put(o);
            const char *why = je == json_tokener_continue ? "incomplete JSON value"
                                                           : json_tokener_error_desc(je);
            if (skip(r, RD_SKIP_BAD_JSON, why, e) != 0) return -1;
            continue;
        }
        json_object *v;
        int bad = -1;
        if (!json_object_is_type(o, json_type_object)) bad = RD_SKIP_BAD_JSON;
        else if (!json_object_object_get_ex(o, r->text_field, &v)) bad = RD_SKIP_NO_FIELD;
        else if (!json_object_is_type(v, json_type_string)) bad = RD_SKIP_NOT_STRING;
        if (bad >= 0) {
            json_object_put(o);
            if (skip(r, (rd_skip_t)bad, bad == RD_SKIP_BAD_JSON ? "not a JSON object" : r->text_field,
                     e) != 0)
                return -1;
            continue;
        }
        size_t n = (size_t)json_object_get_string_len(v);
        if (grow(&r->doc, &r->doc_cap, n + 1) != 0) {
            json_object_put(o);
            return oom(r, e);
        }
        memcpy(r->doc, json_object_get_string(v), n);
        r->doc[n] = '\0';
        doc->text = r->doc;
        doc->len = n;
        doc->source = NULL;
        doc->line = r->lineno;
        doc->markup = RD_PLAIN;
        doc->charset = NULL;
        json_object *s;
        if (r->source_field && json_object_object_get_ex(o, r->source_field, &s) &&
            (json_object_is_type(s, json_type_string) || json_object_is_type(s, json_type_int) ||
             json_object_is_type(s, json_type_double))) {
            const char *t = json_object_get_string(s);
            size_t sl = strlen(t);
            if (grow(&r->src, &r->src_cap, sl + 1) != 0) {
                json_object_put(o);
                return oom(r, e);
            }
            memcpy(r->src, t, sl + 1);
            doc->source = r->src;
        }
        json_object_put(o);
        r->st.documents++;
        r->st.text_bytes += n;
        return 1;
    }
    if (k < 0) return fail(r, e, r->src_err);
    r->done = 1;
    return 0;
}

// Counts a skipped HTML/man file or WARC record over max_line (loc: 1, or the record number);
// in strict mode fails.  Returns 0 or -1.
static int skip_big(rd_t *r, size_t loc, size_t size, err_t *e) {
    r->st.malformed++;
    r->st.too_long++;
    if (r->st.n_locs < RD_MAX_LOCS) r->st.locs[r->st.n_locs++] = (rd_loc_t){r->path, loc, RD_SKIP_TOO_LONG};
    if (!r->c.strict) return 0;
    char m[1000];
    if (r->fmt == RD_FMT_WARC)
        snprintf(m, sizeof m, "%s: WARC record %zu: %zu bytes, over max_line (%zu) (strict mode; "
                 "raise max_line or run without strict to skip it)", r->path, loc, size, r->c.max_line);
    else
        snprintf(m, sizeof m, "%s: over max_line (%zu bytes) (strict mode; raise max_line or run "
                 "without strict to skip it)", r->path, r->c.max_line);
    return fail(r, e, m);
}

// HTML and MAN: the whole stream is one document.
static int whole_next(rd_t *r, rd_doc_t *doc, err_t *e) {
    r->doc_len = 0;
    int over = 0;
    for (;;) {
        if (r->ch_pos == r->ch_len && !chunk_fill(r)) break;
        size_t m = r->ch_len - r->ch_pos;
        if (r->doc_len + m > r->c.max_line) {
            over = 1;  // not read to the end: the size is only known to be over max_line
            break;
        }
        if (grow(&r->doc, &r->doc_cap, r->doc_len + m + 1) != 0) return oom(r, e);
        memcpy(r->doc + r->doc_len, r->chunk + r->ch_pos, m);
        r->doc_len += m;
        r->ch_pos += m;
    }
    if (!over && r->src_failed) return fail(r, e, r->src_err);
    r->done = 1;
    if (over) return skip_big(r, 1, r->doc_len, e) != 0 ? -1 : 0;
    if (r->doc_len == 0) {
        r->st.empty++;
        return 0;
    }
    r->doc[r->doc_len] = '\0';
    doc->text = r->doc;
    doc->len = r->doc_len;
    doc->source = r->path;
    doc->line = 1;
    doc->markup = r->fmt == RD_FMT_MAN ? RD_MAN : RD_HTML;
    doc->charset = NULL;
    r->st.documents++;
    r->st.text_bytes += r->doc_len;
    return 1;
}

// ---- WARC ----------------------------------------------------------------------------------

// Bytes of the decompressed stream consumed so far.
static size_t stream_pos(const rd_t *r) { return r->st.bytes_in - (r->ch_len - r->ch_pos); }

// Consumes n bytes of the stream, copying them to r->doc + r->doc_len when keep (the caller
// has grown r->doc).  Returns 1, 0 when the stream ends first, -1 when the source failed.
static int take(rd_t *r, size_t n, int keep) {
    while (n > 0) {
        if (r->ch_pos == r->ch_len && !chunk_fill(r)) return r->src_failed ? -1 : 0;
        size_t m = r->ch_len - r->ch_pos;
        if (m > n) m = n;
        if (keep) {
            memcpy(r->doc + r->doc_len, r->chunk + r->ch_pos, m);
            r->doc_len += m;
        }
        r->ch_pos += m;
        n -= m;
    }
    return 1;
}

static int warc_bad(rd_t *r, err_t *e, size_t off, const char *what) {
    char m[1000];
    snprintf(m, sizeof m, "%s: WARC record %zu at %sbyte %zu: %s", r->path, r->rec,
             r->kind == SRC_RAW ? "" : "decompressed ", off, what);
    return fail(r, e, m);
}

static int warc_cut(rd_t *r, err_t *e, size_t off, int k) {
    if (k < 0) return fail(r, e, r->src_err);
    return warc_bad(r, e, off, "the file ends inside this record (truncated?); the records "
                               "before it were read");
}

// Length of the line at p[0..n) without its "\n" and "\r"; *next: where the next one starts.
static size_t http_line(const char *p, size_t n, size_t *next) {
    const char *nl = memchr(p, '\n', n);
    size_t l = nl ? (size_t)(nl - p) : n;
    *next = nl ? l + 1 : n;
    return l > 0 && p[l - 1] == '\r' ? l - 1 : l;
}

// Undoes "Transfer-Encoding: chunked" in place.  Returns the new length, or (size_t)-1 when
// the chunk framing is broken.
static size_t dechunk(char *p, size_t n) {
    size_t i = 0, o = 0;
    for (;;) {
        size_t next, l = http_line(p + i, n - i, &next), size = 0, d = 0;
        for (; d < l && p[i + d] && strchr("0123456789abcdefABCDEF", p[i + d]); d++) {
            if (size > ((size_t)-1 >> 5)) return (size_t)-1;
            char c = p[i + d];
            size = size * 16 + (size_t)(c <= '9' ? c - '0' : (c | 32) - 'a' + 10);
        }
        if (d == 0 || (i += next) > n) return (size_t)-1;
        if (size == 0) return o;
        if (size > n - i) return (size_t)-1;
        memmove(p + o, p + i, size);
        o += size;
        i += size;
        if (i < n && p[i] == '\r') i++;
        if (i < n && p[i] == '\n') i++;
    }
}

// The value of a header field line "Name: value" when its name is name, trimmed; NULL if not.
static const char *field(const char *line, size_t len, const char *name, size_t *vlen) {
    size_t k = strlen(name);
    if (len <= k || line[k] != ':' || strncasecmp(line, name, k) != 0) return NULL;
    const char *v = line + k + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
    *vlen = (size_t)(end - v);
    return v;
}

// A response block in r->doc[0..doc_len): finds the HTML body of a 2xx text/html response and
// the charset.  Returns 1 with *body and *blen set (r->cs filled or empty), 0 when the record
// is not an HTML page to read.
static int http_html(rd_t *r, const char **body, size_t *blen) {
    char *p = r->doc;
    size_t n = r->doc_len, next;
    size_t l = http_line(p, n, &next);
    if (l < 12 || strncmp(p, "HTTP/", 5) != 0) return 0;
    const char *sp = memchr(p, ' ', l);
    if (!sp || sp + 4 > p + l || sp[1] != '2') return 0;  // 2xx only: no error or redirect pages
    int html = 0, chunked = 0;
    r->cs[0] = '\0';
    size_t i = next;
    for (;;) {
        if (i >= n) return 0;  // no blank line: headers only
        l = http_line(p + i, n - i, &next);
        const char *line = p + i, *v;
        size_t vl;
        i += next;
        if (l == 0) break;
        if ((v = field(line, l, "Content-Type", &vl))) {
            size_t t = 0;
            while (t < vl && v[t] != ';' && v[t] != ' ') t++;
            html = (t == 9 && !strncasecmp(v, "text/html", 9)) ||
                   (t == 21 && !strncasecmp(v, "application/xhtml+xml", 21));
            for (size_t j = t; j + 8 <= vl; j++) {
                if (strncasecmp(v + j, "charset=", 8) != 0) continue;
                const char *c = v + j + 8, *end = v + vl;
                if (c < end && (*c == '"' || *c == '\'')) c++;
                size_t cl = 0;
                while (c + cl < end && !strchr(";\"' \t", c[cl])) cl++;
                if (cl < sizeof r->cs) {
                    memcpy(r->cs, c, cl);
                    r->cs[cl] = '\0';
                }
                break;
            }
        } else if ((v = field(line, l, "Content-Encoding", &vl))) {
            if (!(vl == 8 && !strncasecmp(v, "identity", 8))) return 0;  // gzip, br...: not decoded
        } else if ((v = field(line, l, "Transfer-Encoding", &vl))) {
            chunked = vl >= 7 && !strncasecmp(v + vl - 7, "chunked", 7);
        }
    }
    if (!html) return 0;
    size_t bl = n - i;
    if (chunked && (bl = dechunk(p + i, bl)) == (size_t)-1) return 0;
    p[i + bl] = '\0';
    *body = p + i;
    *blen = bl;
    return 1;
}

static int warc_next(rd_t *r, rd_doc_t *doc, err_t *e) {
    for (;;) {
        // Blank lines (the record separator "\r\n\r\n") up to the next version line.
        size_t off;
        int k;
        do {
            off = stream_pos(r);
            k = line_next(r);
        } while (k == 1 && !r->line_long && all_blank(r->line, r->line_len));
        if (k < 0) return fail(r, e, r->src_err);
        if (k == 0) {
            r->done = 1;
            return 0;
        }
        r->rec++;
        if (r->line_long || r->line_len < 6 || memcmp(r->line, "WARC/", 5) != 0)
            return warc_bad(r, e, off, "does not start with a \"WARC/\" version line (not a WARC "
                                       "file, or a corrupt one; reading stops here)");
        char type[32] = "";
        int have_len = 0, have_uri = 0;
        size_t clen = 0;
        for (;;) {
            if ((k = line_next(r)) != 1) return warc_cut(r, e, off, k);
            if (r->line_long) return warc_bad(r, e, off, "a header line longer than max_line");
            size_t l = r->line_len;
            if (l > 0 && r->line[l - 1] == '\r') r->line[--l] = '\0';
            if (l == 0) break;
            if (r->line[0] == ' ' || r->line[0] == '\t') continue;  // a folded continuation
            if (!memchr(r->line, ':', l))
                return warc_bad(r, e, off, "a header line without ':' (corrupt record)");
            const char *v;
            size_t vl;
            if ((v = field(r->line, l, "WARC-Type", &vl))) {
                if (vl >= sizeof type) vl = sizeof type - 1;
                memcpy(type, v, vl);
                type[vl] = '\0';
            } else if ((v = field(r->line, l, "Content-Length", &vl))) {
                clen = 0;
                have_len = vl > 0;
                for (size_t i = 0; i < vl; i++) {
                    if (v[i] < '0' || v[i] > '9' || clen > ((size_t)-1 - 9) / 10) have_len = 0;
                    else clen = clen * 10 + (size_t)(v[i] - '0');
                }
                if (!have_len) return warc_bad(r, e, off, "Content-Length is not a number");
            } else if ((v = field(r->line, l, "WARC-Target-URI", &vl))) {
                if (vl >= 2 && v[0] == '<' && v[vl - 1] == '>') v++, vl -= 2;
                if (grow(&r->src, &r->src_cap, vl + 1) != 0) return oom(r, e);
                memcpy(r->src, v, vl);
                r->src[vl] = '\0';
                have_uri = 1;
            }
        }
        if (!have_len) return warc_bad(r, e, off, "no Content-Length field");
        int conv = strcasecmp(type, "conversion") == 0, resp = strcasecmp(type, "response") == 0;
        if ((!conv && !resp) || clen > r->c.max_line) {
            if ((k = take(r, clen, 0)) != 1) return warc_cut(r, e, off, k);
            r->st.warc_records++;
            if (conv || resp) {
                if (skip_big(r, r->rec, clen, e) != 0) return -1;
            } else {
                r->st.warc_skipped++;
            }
            continue;
        }
        if (grow(&r->doc, &r->doc_cap, clen + 1) != 0) return oom(r, e);
        r->doc_len = 0;
        if ((k = take(r, clen, 1)) != 1) return warc_cut(r, e, off, k);
        r->doc[clen] = '\0';
        r->st.warc_records++;
        const char *text = r->doc;
        size_t len = clen;
        if (resp && !http_html(r, &text, &len)) {
            r->st.warc_skipped++;
            continue;
        }
        size_t sp = 0;
        while (sp < len && text[sp] && strchr(" \t\r\n", text[sp])) sp++;
        if (sp == len) {  // nothing but whitespace
            r->st.empty++;
            continue;
        }
        doc->text = text;
        doc->len = len;
        doc->source = have_uri ? r->src : NULL;
        doc->line = r->rec;
        doc->markup = conv ? RD_PLAIN : RD_HTML;
        doc->charset = resp && r->cs[0] ? r->cs : NULL;
        r->st.documents++;
        r->st.text_bytes += len;
        return 1;
    }
}

int rd_next(rd_t *r, rd_doc_t *doc, err_t *e) {
    if (r->done == 1) return 0;
    if (r->done == -1) return err_set(e, "%s", r->err);
    switch (r->fmt) {
    case RD_FMT_JSONL: return jsonl_next(r, doc, e);
    case RD_FMT_HTML: case RD_FMT_MAN: return whole_next(r, doc, e);
    case RD_FMT_WARC: return warc_next(r, doc, e);
    default: return text_next(r, doc, e);
    }
}

// ---- open / close --------------------------------------------------------------------------

static int ends_with(const char *s, size_t n, const char *suf) {
    size_t m = strlen(suf);
    return n >= m && strcasecmp(s + n - m, suf) == 0;
}

// Whether path[0..n) (compression suffix removed) names a man page: a section extension
// ([0-9n][a-z]*) in a directory named "man" or "man<section>".
static int man_name(const char *path, size_t n) {
    size_t b = n;
    while (b > 0 && path[b - 1] != '/') b--;
    size_t d = n;
    while (d > b && path[d - 1] != '.') d--;
    if (d == b || d == n || !((path[d] >= '0' && path[d] <= '9') || path[d] == 'n')) return 0;
    for (size_t i = d + 1; i < n; i++)
        if (path[i] < 'a' || path[i] > 'z') return 0;
    for (size_t i = 0; i < b;) {  // directory components
        size_t j = i;
        while (j < b && path[j] != '/') j++;
        if (j - i >= 3 && !memcmp(path + i, "man", 3)) {
            size_t k = i + 3;
            int ok = k == j || (path[k] >= '0' && path[k] <= '9') || path[k] == 'n';
            for (k = k < j ? k + 1 : k; ok && k < j; k++) ok = path[k] >= 'a' && path[k] <= 'z';
            if (ok) return 1;
        }
        i = j + 1;
    }
    return 0;
}

static int starts_ci(const char *s, size_t n, const char *pre) {
    size_t m = strlen(pre);
    return n >= m && strncasecmp(s, pre, m) == 0;
}

// RD_FMT_AUTO: by name, then by the first decompressed bytes s[0..n) (see reader.h).
static int detect(const char *path, const char *s, size_t n) {
    size_t pn = strlen(path);
    if (ends_with(path, pn, ".gz")) pn -= 3;
    else if (ends_with(path, pn, ".zst")) pn -= 4;
    if (ends_with(path, pn, ".jsonl") || ends_with(path, pn, ".ndjson") || ends_with(path, pn, ".json"))
        return RD_FMT_JSONL;
    if (ends_with(path, pn, ".txt")) return RD_FMT_TEXT;
    if (ends_with(path, pn, ".html") || ends_with(path, pn, ".htm") || ends_with(path, pn, ".xhtml"))
        return RD_FMT_HTML;
    if (ends_with(path, pn, ".warc") || ends_with(path, pn, ".wet")) return RD_FMT_WARC;
    if (man_name(path, pn)) return RD_FMT_MAN;
    size_t i = n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3) ? 3 : 0;
    while (i < n && strchr(" \t\r\n", s[i])) i++;
    s += i;
    n -= i;
    if (starts_ci(s, n, "WARC/")) return RD_FMT_WARC;
    if (starts_ci(s, n, "<!DOCTYPE html") || starts_ci(s, n, "<html")) return RD_FMT_HTML;
    if (starts_ci(s, n, ".TH") || starts_ci(s, n, ".\\\"") || starts_ci(s, n, "'\\\"") ||
        starts_ci(s, n, ".so ") || starts_ci(s, n, ".Dd"))
        return RD_FMT_MAN;
    return n > 0 && s[0] == '{' ? RD_FMT_JSONL : RD_FMT_TEXT;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

int rd_open(rd_t **out, const char *path, const rd_config_t *c, err_t *e) {
    *out = NULL;
    rd_config_t def;
    if (!c) {
        rd_config_default(&def);
        c = &def;
    }
    if (c->max_line == 0) return err_set(e, "reader for %s: max_line must be > 0", path);
    rd_t *r = calloc(1, sizeof *r);
    if (!r) return err_set(e, "opening %s: out of memory", path);
    r->c = *c;
    r->path = dup_str(path);
    r->delim = dup_str(c->delimiter ? c->delimiter : "");
    r->text_field = dup_str(c->text_field ? c->text_field : "text");
    r->source_field = c->source_field ? dup_str(c->source_field) : NULL;
    r->in = malloc(RD_BUF);
    r->chunk = malloc(RD_BUF);
    r->tok = json_tokener_new();
    if (!r->path || !r->delim || !r->text_field || (c->source_field && !r->source_field) ||
        !r->in || !r->chunk || !r->tok) {
        rd_close(r);
        return err_set(e, "opening %s: out of memory", path);
    }
    r->f = fopen(path, "rb");
    if (!r->f) {
        err_set(e, "cannot open %s: %s", path, strerror(errno));
        rd_close(r);
        return -1;
    }
    if (in_refill(r) != 0) {
        err_set(e, "%s", r->src_err);
        rd_close(r);
        return -1;
    }
    const unsigned char *m = r->in;
    if (r->in_len >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
        r->kind = SRC_GZ;
        if (inflateInit2(&r->zs, 15 + 16) != Z_OK) {  // 16: gzip wrapper only
            rd_close(r);
            return err_set(e, "opening %s: cannot start zlib", path);
        }
        r->zs_init = 1;
    } else if (r->in_len >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
        r->kind = SRC_ZSTD;
        r->zd = ZSTD_createDCtx();
        if (!r->zd) {
            rd_close(r);
            return err_set(e, "opening %s: cannot start zstd", path);
        }
    } else {
        r->kind = SRC_RAW;
    }
    // Decompress at least RD_SNIFF bytes (or all there is) for the binary and format checks.
    // A source error here is kept for rd_next, after the lines before it.
    while (r->ch_len < RD_SNIFF && chunk_fill(r)) {
    }
    r->line_max = c->max_line;
    r->fmt = c->format == RD_FMT_AUTO ? detect(path, r->chunk, r->ch_len) : (int)c->format;
    if (r->fmt < RD_FMT_TEXT || r->fmt > RD_FMT_WARC) {
        err_set(e, "reader for %s: unknown format %d", path, r->fmt);
        rd_close(r);
        return -1;
    }
    size_t sniff = r->ch_len < RD_SNIFF ? r->ch_len : RD_SNIFF;
    if (r->fmt != RD_FMT_WARC && memchr(r->chunk, '\0', sniff)) {
        r->st.binary = 1;
        r->done = 1;
    }
    if (r->fmt == RD_FMT_TEXT && strlen(r->delim) > r->line_max) r->line_max = strlen(r->delim);
    *out = r;
    return 0;
}

const rd_stats_t *rd_stats(const rd_t *r) { return &r->st; }

void rd_close(rd_t *r) {
    if (!r) return;
    if (r->f) fclose(r->f);
    if (r->zs_init) inflateEnd(&r->zs);
    ZSTD_freeDCtx(r->zd);
    if (r->tok) json_tokener_free(r->tok);
    free(r->path);
    free(r->delim);
    free(r->text_field);
    free(r->source_field);
    free(r->in);
    free(r->chunk);
    free(r->line);
    free(r->doc);
    free(r->src);
    free(r);
}
