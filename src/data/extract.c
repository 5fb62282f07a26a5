// extract: see extract.h.  HTML: the page is decoded to UTF-8 here (iconv), libxml2 parses
// it, an iterative tree walk feeds a small line builder (pending space / line break / cell
// tab, flushed before the next visible character).
// Man pages: a mandoc child fed through a socket (send with MSG_NOSIGNAL: a mandoc that dies
// early cannot SIGPIPE the caller) and read through two pipes, all in one poll loop, so no
// helper thread and no temporary file; then header, footer, overstrikes and CJK spaces go.
#include "data/extract.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libxml/HTMLparser.h>
#include <libxml/encoding.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>

extern char **environ;

// ---- a growing byte buffer -------------------------------------------------------------------

typedef struct {
    char *p;
    size_t n, cap;
    int oom;  // an append failed; the buffer is unusable
} buf_t;

static void put(buf_t *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + n + 1) c *= 2;
        char *q = realloc(b->p, c);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void putc1(buf_t *b, char c) { put(b, &c, 1); }

// Hands b's bytes to the caller as a NUL-terminated string (an empty one when b is empty).
static int buf_give(buf_t *b, char **out, size_t *out_len, err_t *e, const char *what) {
    if (!b->oom && !b->p) put(b, "", 0);
    if (b->oom) {
        free(b->p);
        return err_set(e, "%s: out of memory", what);
    }
    *out = b->p;
    *out_len = b->n;
    return 0;
}

// Rewrites b in place: trailing spaces and tabs of every line removed (and, with lead, leading
// ones), at most one blank line in a row, no blank lines or whitespace at either end.
static void tidy(buf_t *b, int lead) {
    size_t o = 0, nl = 0;  // nl: newlines held back (emitted before the next line's text)
    size_t i = 0;
    while (i < b->n) {
        size_t j = i;
        while (j < b->n && b->p[j] != '\n') j++;
        size_t s = i, t = j;
        if (lead)
            while (s < t && (b->p[s] == ' ' || b->p[s] == '\t')) s++;
        while (t > s && (b->p[t - 1] == ' ' || b->p[t - 1] == '\t' || b->p[t - 1] == '\r')) t--;
        int blank = 1;
        for (size_t k = s; k < t; k++)
            if (b->p[k] != ' ' && b->p[k] != '\t') blank = 0;
        if (!blank) {
            if (o > 0)
                for (size_t k = 0; k < (nl > 2 ? 2 : nl); k++) b->p[o++] = '\n';
            memmove(b->p + o, b->p + s, t - s);
            o += t - s;
            nl = 0;
        }
        if (j < b->n) nl++;
        i = j + 1;
    }
    b->n = o;
    if (b->p) b->p[o] = '\0';
}

// ---- libxml2 ---------------------------------------------------------------------------------

static void xml_quiet(void *ctx, const char *msg, ...) { (void)ctx, (void)msg; }
static void xml_quiet_s(void *ctx, xmlErrorPtr err) { (void)ctx, (void)err; }

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void sort_tags(void);

static void xml_init(void) {
    xmlInitParser();
    sort_tags();
    // Defaults for threads that touch libxml2 later; each thread's own copy is set in ex_text.
    xmlThrDefSetGenericErrorFunc(NULL, xml_quiet);
    xmlThrDefSetStructuredErrorFunc(NULL, xml_quiet_s);
}

void ex_global_init(void) { pthread_once(&xml_once, xml_init); }

// ---- HTML ------------------------------------------------------------------------------------

static size_t utf8_dec(const unsigned char *s, size_t n, long *cp);

enum { K_INLINE, K_DROP, K_LINE, K_PARA, K_BR, K_CELL, K_PRE, K_BANNER };

static const struct {
    const char *name;
    int kind;
} tags[] = {
    {"head", K_DROP},      {"script", K_DROP},     {"style", K_DROP},     {"noscript", K_DROP},
    {"template", K_DROP},  {"iframe", K_DROP},     {"object", K_DROP},    {"embed", K_DROP},
    {"svg", K_DROP},       {"math", K_DROP},       {"canvas", K_DROP},    {"video", K_DROP},
    {"audio", K_DROP},     {"map", K_DROP},        {"button", K_DROP},    {"select", K_DROP},
    {"input", K_DROP},     {"textarea", K_DROP},   {"nav", K_DROP},       {"aside", K_DROP},
    {"dialog", K_DROP},    {"menu", K_DROP},       {"header", K_BANNER},  {"footer", K_BANNER},
    {"p", K_PARA},         {"h1", K_PARA},         {"h2", K_PARA},        {"h3", K_PARA},
    {"h4", K_PARA},        {"h5", K_PARA},         {"h6", K_PARA},        {"blockquote", K_PARA},
    {"table", K_PARA},     {"hr", K_PARA},         {"figure", K_PARA},    {"ul", K_PARA},
    {"ol", K_PARA},        {"dl", K_PARA},         {"address", K_PARA},   {"details", K_PARA},
    {"pre", K_PRE},        {"listing", K_PRE},     {"xmp", K_PRE},        {"plaintext", K_PRE},
    {"br", K_BR},          {"td", K_CELL},         {"th", K_CELL},        {"div", K_LINE},
    {"li", K_LINE},        {"dt", K_LINE},         {"dd", K_LINE},        {"tr", K_LINE},
    {"section", K_LINE},   {"article", K_LINE},    {"main", K_LINE},      {"body", K_LINE},
    {"html", K_LINE},      {"figcaption", K_LINE}, {"caption", K_LINE},   {"thead", K_LINE},
    {"tbody", K_LINE},     {"tfoot", K_LINE},      {"center", K_LINE},    {"fieldset", K_LINE},
    {"legend", K_LINE},    {"summary", K_LINE},    {"hgroup", K_LINE},    {"form", K_LINE},
    {"dir", K_LINE},       {"frameset", K_LINE},   {"noframes", K_LINE},  {"option", K_DROP},
};

// tags[] sorted by name once (ex_global_init), so tag_kind is a binary search: it runs for
// every element of every page.
enum { N_TAGS = sizeof tags / sizeof tags[0] };
static int tag_order[N_TAGS];

static int cmp_tag(const void *a, const void *b) { return strcmp(tags[*(const int *)a].name, tags[*(const int *)b].name); }

static void sort_tags(void) {
    for (int i = 0; i < N_TAGS; i++) tag_order[i] = i;
    qsort(tag_order, N_TAGS, sizeof *tag_order, cmp_tag);
}

static int tag_kind(const char *name) {
    size_t lo = 0, hi = N_TAGS;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(tags[tag_order[mid]].name, name);
        if (c == 0) return tags[tag_order[mid]].kind;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return K_INLINE;
}

typedef struct {
    buf_t b;
    int brk;    // pending break: 0 none, 1 new line, 2 blank line
    int space;  // pending space
    int tab;    // pending cell separator
    int pre;    // depth of <pre>-like elements
} hb_t;

// Emits what is pending before a visible character (nothing at the very start).
static void hb_flush(hb_t *h) {
    if (h->b.n > 0) {
        if (h->brk) put(&h->b, "\n\n", (size_t)h->brk);
        else if (h->tab) putc1(&h->b, '\t');
        else if (h->space) putc1(&h->b, ' ');
    }
    h->brk = h->space = h->tab = 0;
}

static void hb_text(hb_t *h, const char *s) {
    if (h->pre) {
        size_t n = strlen(s);
        if (n == 0) return;
        if (h->brk || h->tab || h->space) hb_flush(h);
        put(&h->b, s, n);
        return;
    }
    while (*s) {
        const char *t = s;
        while (*t && !strchr(" \t\n\r\f", *t)) t++;
        if (t > s) {
            hb_flush(h);
            put(&h->b, s, (size_t)(t - s));
        }
        if (!*t) break;
        h->space = 1;
        s = t + 1;
    }
}

static void hb_break(hb_t *h, int level) {
    if (level > h->brk) h->brk = level;
}

static const char *attr_value(const xmlAttr *a) {
    if (a->children && a->children->content) return (const char *)a->children->content;
    return "";
}

// Whether the space-separated list s contains one of the words in ws (NULL-terminated).
static int has_word(const char *s, const char *const *ws) {
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == '\n') s++;
        const char *t = s;
        while (*t && *t != ' ' && *t != '\t' && *t != '\n') t++;
        for (size_t i = 0; ws[i]; i++)
            if ((size_t)(t - s) == strlen(ws[i]) && strncasecmp(s, ws[i], (size_t)(t - s)) == 0)
                return 1;
        s = t;
    }
    return 0;
}

// Whether an inline style hides the element (display:none, visibility:hidden).
static int style_hides(const char *s) {
    char c[256];
    size_t n = 0;
    for (; *s && n + 1 < sizeof c; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n') c[n++] = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
    c[n] = '\0';
    return strstr(c, "display:none") || strstr(c, "visibility:hidden");
}

static int hidden(const xmlNode *n) {
    static const char *const roles[] = {"navigation", "banner", "contentinfo", "search",
                                        "menu", "menubar", NULL};
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        const char *k = (const char *)a->name;
        if (strcasecmp(k, "hidden") == 0) return 1;
        if (strcasecmp(k, "aria-hidden") == 0 && strcasecmp(attr_value(a), "true") == 0) return 1;
        if (strcasecmp(k, "role") == 0 && has_word(attr_value(a), roles)) return 1;
        if (strcasecmp(k, "style") == 0 && style_hides(attr_value(a))) return 1;
    }
    return 0;
}

// header/footer are the site's banner and footer unless inside article, main or section.
static int in_content(const xmlNode *n) {
    for (n = n->parent; n && n->type == XML_ELEMENT_NODE; n = n->parent) {
        const char *p = (const char *)n->name;
        if (!strcmp(p, "article") || !strcmp(p, "main") || !strcmp(p, "section")) return 1;
    }
    return 0;
}

// Opens element n.  Returns 1 to descend into it, 0 to drop it with its content.
static int el_enter(hb_t *h, const xmlNode *n) {
    int k = tag_kind((const char *)n->name);
    if (k == K_DROP || (k == K_BANNER && !in_content(n)) || hidden(n)) return 0;
    switch (k) {
    case K_LINE: case K_BANNER: hb_break(h, 1); break;
    case K_PARA: hb_break(h, 2); break;
    case K_PRE: hb_break(h, 2); h->pre++; break;
    case K_BR: hb_break(h, h->brk ? 2 : 1); break;
    default: break;
    }
    return 1;
}

static void el_leave(hb_t *h, const xmlNode *n) {
    switch (tag_kind((const char *)n->name)) {
    case K_LINE: case K_BANNER: hb_break(h, 1); break;
    case K_PARA: hb_break(h, 2); break;
    case K_PRE: hb_break(h, 2); h->pre--; break;
    case K_CELL: h->tab = 1; break;
    default: break;
    }
}

static void html_walk(hb_t *h, xmlDoc *doc) {
    xmlNode *n = doc->children;
    while (n) {
        int in = 0;
        if (n->type == XML_ELEMENT_NODE) in = el_enter(h, n);
        else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content)
            hb_text(h, (const char *)n->content);
        if (in && n->children) {
            n = n->children;
            continue;
        }
        if (in) el_leave(h, n);
        for (;;) {  // to the next sibling, closing the ancestors left behind
            if (n->next) {
                n = n->next;
                break;
            }
            n = n->parent;
            if (!n || n->type != XML_ELEMENT_NODE) {
                n = NULL;
                break;
            }
            el_leave(h, n);
        }
    }
}

// The WHATWG Encoding standard's decoders for some labels, as glibc iconv names them: the web
// means windows-1252 by "iso-8859-1" and "us-ascii", windows-31j by "shift_jis", and so on.
static const char *iconv_name(const char *cs) {
    static const struct {
        const char *label, *name;
    } alias[] = {
        {"iso-8859-1", "WINDOWS-1252"}, {"iso8859-1", "WINDOWS-1252"}, {"iso_8859-1", "WINDOWS-1252"},
        {"latin1", "WINDOWS-1252"},     {"l1", "WINDOWS-1252"},        {"us-ascii", "WINDOWS-1252"},
        {"ascii", "WINDOWS-1252"},      {"cp819", "WINDOWS-1252"},     {"ibm819", "WINDOWS-1252"},
        {"cp1252", "WINDOWS-1252"},     {"x-cp1252", "WINDOWS-1252"},  {"shift_jis", "CP932"},
        {"shift-jis", "CP932"},         {"sjis", "CP932"},             {"x-sjis", "CP932"},
        {"ms_kanji", "CP932"},          {"csshiftjis", "CP932"},       {"windows-31j", "CP932"},
        {"ms932", "CP932"},             {"gb2312", "GB18030"},         {"gbk", "GB18030"},
        {"x-gbk", "GB18030"},           {"big5", "BIG5-HKSCS"},        {"euc-kr", "CP949"},
        {"ks_c_5601-1987", "CP949"},    {"tis-620", "WINDOWS-874"},    {"iso-8859-11", "WINDOWS-874"},
        {"utf8", "UTF-8"},              {"unicode-1-1-utf-8", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcasecmp(cs, alias[i].label) == 0) return alias[i].name;
    return cs;
}

// windows-1252 0x80..0x9F (WHATWG: the five holes map to the C1 controls, as browsers do; glibc
// iconv rejects them instead).
static const unsigned short cp1252_hi[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

static void put_cp(buf_t *b, long c) {
    char u[4];
    size_t n;
    if (c < 0x80) u[0] = (char)c, n = 1;
    else if (c < 0x800) u[0] = (char)(0xC0 | c >> 6), u[1] = (char)(0x80 | (c & 0x3F)), n = 2;
    else if (c < 0x10000)
        u[0] = (char)(0xE0 | c >> 12), u[1] = (char)(0x80 | (c >> 6 & 0x3F)),
        u[2] = (char)(0x80 | (c & 0x3F)), n = 3;
    else
        u[0] = (char)(0xF0 | c >> 18), u[1] = (char)(0x80 | (c >> 12 & 0x3F)),
        u[2] = (char)(0x80 | (c >> 6 & 0x3F)), u[3] = (char)(0x80 | (c & 0x3F)), n = 4;
    put(b, u, n);
}

// Counts of valid multi-byte UTF-8 sequences and of invalid ones in raw.
static void utf8_count(const char *raw, size_t len, size_t *good, size_t *bad) {
    const unsigned char *u = (const unsigned char *)raw;
    *good = *bad = 0;
    for (size_t i = 0; i < len;) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        long c;
        i += utf8_dec(u + i, len - i, &c);
        if (c < 0) ++*bad;
        else ++*good;
    }
}

// Decodes raw from the iconv encoding name into UTF-8 in b, an invalid byte becoming U+FFFD
// (libxml2 would stop at it, losing the rest of the page).  Returns 0, or -1 when iconv does
// not know the name (b untouched).
static int to_utf8(const char *name, const char *raw, size_t len, buf_t *b) {
    const unsigned char *u = (const unsigned char *)raw;
    if (strcasecmp(name, "UTF-8") == 0) {
        for (size_t i = 0; i < len;) {
            long c;
            size_t l = utf8_dec(u + i, len - i, &c);
            if (c < 0) put(b, "\xEF\xBF\xBD", 3);
            else put(b, raw + i, l);
            i += l;
        }
        return 0;
    }
    if (strcasecmp(name, "WINDOWS-1252") == 0) {
        for (size_t i = 0; i < len; i++) put_cp(b, u[i] >= 0x80 && u[i] < 0xA0 ? cp1252_hi[u[i] - 0x80] : u[i]);
        return 0;
    }
    iconv_t cd = iconv_open("UTF-8", name);
    if (cd == (iconv_t)-1) return -1;
    char tmp[16384];
    char *in = (char *)raw;
    size_t left = len;
    while (left > 0 && !b->oom) {
        char *o = tmp;
        size_t room = sizeof tmp;
        size_t r = iconv(cd, &in, &left, &o, &room);
        put(b, tmp, (size_t)(o - tmp));
        if (r == (size_t)-1 && errno == E2BIG) continue;
        if (r == (size_t)-1) {  // EILSEQ, or EINVAL: a sequence cut at the end
            put(b, "\xEF\xBF\xBD", 3);
            in++;
            left--;
            iconv(cd, NULL, NULL, NULL, NULL);
        }
    }
    char *o = tmp;
    size_t room = sizeof tmp;
    iconv(cd, NULL, NULL, &o, &room);  // a stateful encoding's closing sequence
    put(b, tmp, (size_t)(o - tmp));
    iconv_close(cd);
    return 0;
}

// The charset= of a <meta> in the first 4 KiB (browsers look at 1 KiB), into buf, or NULL.
static const char *meta_charset(const char *raw, size_t len, char *buf, size_t cap) {
    size_t n = len < 4096 ? len : 4096;
    for (size_t i = 0; i + 8 < n; i++) {
        if (strncasecmp(raw + i, "charset", 7) != 0) continue;
        size_t j = i + 7;
        while (j < n && (raw[j] == ' ' || raw[j] == '\t')) j++;
        if (j >= n || raw[j] != '=') continue;
        j++;
        while (j < n && strchr(" \t\"'", raw[j]) && raw[j]) j++;
        size_t k = 0;
        while (j + k < n && k + 1 < cap && (isalnum((unsigned char)raw[j + k]) || strchr("-_.:", raw[j + k])) &&
               raw[j + k])
            k++;
        size_t lt = i;  // inside a <meta ...> tag?
        while (lt > 0 && raw[lt] != '<' && raw[lt] != '>') lt--;
        if (k == 0 || raw[lt] != '<' || lt + 5 > n || strncasecmp(raw + lt, "<meta", 5) != 0) continue;
        memcpy(buf, raw + j, k);
        buf[k] = '\0';
        return buf;
    }
    return NULL;
}

// raw decoded to UTF-8 into b, choosing the encoding as browsers do: a BOM, the HTTP charset,
// <meta>, then (where browsers guess from the locale and libxml2 would assume ISO-8859-1)
// UTF-8 when valid multi-byte sequences outnumber invalid bytes, else windows-1252.  Returns
// 0, or 1 when raw starts with a UTF-16 BOM (left to libxml2; b untouched).
static int html_decode(const char *cs, const char *raw, size_t len, buf_t *b) {
    const unsigned char *u = (const unsigned char *)raw;
    if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) return 1;
    if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) return to_utf8("UTF-8", raw + 3, len - 3, b);
    if (cs && *cs && to_utf8(iconv_name(cs), raw, len, b) == 0) return 0;
    char label[64];
    const char *m = meta_charset(raw, len, label, sizeof label);
    if (m && to_utf8(iconv_name(m), raw, len, b) == 0) return 0;
    size_t good, bad;
    utf8_count(raw, len, &good, &bad);
    return to_utf8(bad <= good ? "UTF-8" : "WINDOWS-1252", raw, len, b);
}

static int html_text(const char *raw, size_t len, const char *charset, char **out, size_t *out_len,
                     err_t *e) {
    hb_t h = {0};
    if (len > 0) {
        buf_t u = {0};
        int bom16 = html_decode(charset, raw, len, &u);
        const char *src = bom16 ? raw : u.p ? u.p : "";
        size_t n = bom16 ? len : u.n;
        if (u.oom || n > INT_MAX) {
            free(u.p);
            return u.oom ? err_set(e, "HTML page of %zu bytes: out of memory", len)
                         : err_set(e, "HTML page of %zu bytes: libxml2 takes at most 2 GiB", len);
        }
        // libxml2 sees UTF-8 only (told to ignore <meta>), or a UTF-16 page with its BOM.
        int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                   HTML_PARSE_NONET | HTML_PARSE_COMPACT | XML_PARSE_HUGE;
        htmlParserCtxtPtr ctxt = htmlNewParserCtxt();
        if (!ctxt) {
            free(u.p);
            return err_set(e, "HTML: out of memory for a libxml2 parser");
        }
        htmlDocPtr doc = n == 0 ? NULL
                                : htmlCtxtReadMemory(ctxt, src, (int)n, NULL, bom16 ? NULL : "UTF-8",
                                                     opts | (bom16 ? 0 : HTML_PARSE_IGNORE_ENC));
        if (doc) {  // NULL: libxml2 found no document (blank input): an empty text
            html_walk(&h, doc);
            xmlFreeDoc(doc);
        }
        htmlFreeParserCtxt(ctxt);
        free(u.p);
    }
    tidy(&h.b, 0);
    return buf_give(&h.b, out, out_len, e, "HTML");
}

// ---- man pages -------------------------------------------------------------------------------

// Whether the roff source holds only .so lines, comments and blank lines.
static int man_is_stub(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != '\n') j++;
        size_t k = i;
        while (k < j && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r')) k++;
        if (k < j) {
            const char *l = s + i;
            size_t m = j - i;
            if (!(m >= 4 && !memcmp(l, ".so ", 4)) && !(m >= 3 && !memcmp(l, ".\\\"", 3)) &&
                !(m >= 3 && !memcmp(l, "'\\\"", 3)) && !(m >= 3 && !memcmp(l, ".\\#", 3)))
                return 0;
        }
        i = j + 1;
    }
    return 1;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

// The environment for mandoc: ours with LC_ALL=C.UTF-8.  Returns a malloc'd array (the strings
// are environ's) or NULL when out of memory.
static char **child_env(void) {
    size_t n = 0;
    while (environ && environ[n]) n++;
    char **v = malloc((n + 2) * sizeof *v);
    if (!v) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LC_ALL=", 7) != 0) v[o++] = environ[i];
    v[o++] = (char *)"LC_ALL=C.UTF-8";
    v[o] = NULL;
    return v;
}

static void close_fd(int *fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

// Runs mandoc on in[0..n) with the output into out.  Returns 0 or -1 with e filled.
static int run_mandoc(const char *in, size_t n, buf_t *out, err_t *e) {
    static char *const argv[] = {"mandoc", "-K", "utf-8", "-T", "utf8", "-O", "width=1000", NULL};
    int sv[2] = {-1, -1}, po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || pipe2(po, O_CLOEXEC) != 0 ||
        pipe2(pe, O_CLOEXEC) != 0) {
        int er = errno;
        for (int i = 0; i < 2; i++) close_fd(&sv[i]), close_fd(&po[i]), close_fd(&pe[i]);
        return err_set(e, "mandoc: cannot create pipes: %s", strerror(er));
    }
    char **envp = child_env();
    posix_spawn_file_actions_t fa;
    int rc = envp ? posix_spawn_file_actions_init(&fa) : ENOMEM;
    pid_t pid = -1;
    if (rc == 0) {
        posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
        posix_spawn_file_actions_adddup2(&fa, po[1], 1);
        posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
        rc = posix_spawnp(&pid, "mandoc", &fa, NULL, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
    }
    free(envp);
    close_fd(&sv[1]);
    close_fd(&po[1]);
    close_fd(&pe[1]);
    if (rc != 0) {
        close_fd(&sv[0]);
        close_fd(&po[0]);
        close_fd(&pe[0]);
        if (rc == ENOENT)
            return err_set(e, "mandoc not found on PATH: install the Debian package mandoc "
                              "(scripts/install_deps.sh) to read man pages");
        return err_set(e, "cannot run mandoc: %s", strerror(rc));
    }
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(po[0], F_SETFL, O_NONBLOCK);
    fcntl(pe[0], F_SETFL, O_NONBLOCK);
    char err[512];
    size_t err_n = 0, off = 0;
    const char *why = NULL;  // set when we give up on the child
    double deadline = now_s() + EX_MAN_TIMEOUT_S;
    if (n == 0) close_fd(&sv[0]);
    while (po[0] >= 0 || pe[0] >= 0) {
        struct pollfd p[3] = {{sv[0], POLLOUT, 0}, {po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
        double left = deadline - now_s();
        if (left <= 0) {
            why = "timeout";
            break;
        }
        int k = poll(p, 3, (int)(left * 1000) + 1);
        if (k < 0 && errno != EINTR) {
            why = "poll failed";
            break;
        }
        if (k <= 0) continue;
        if (sv[0] >= 0 && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
            size_t m = n - off < 65536 ? n - off : 65536;
            ssize_t w = send(sv[0], in + off, m, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0) off += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || off == n)
                close_fd(&sv[0]);  // all written (EOF for mandoc), or mandoc stopped reading
        }
        if (po[0] >= 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP))) {
            char tmp[65536];
            ssize_t r = read(po[0], tmp, sizeof tmp);
            if (r > 0) put(out, tmp, (size_t)r);
            else if (r == 0 || (errno != EAGAIN && errno != EINTR)) close_fd(&po[0]);
            if (out->oom) why = "out of memory for its output";
            else if (out->n > EX_MAN_MAX_OUT) why = "wrote more than EX_MAN_MAX_OUT (256 MiB)";
            if (why) break;
        }
        if (pe[0] >= 0 && (p[2].revents & (POLLIN | POLLERR | POLLHUP))) {
            char tmp[4096];
            ssize_t r = read(pe[0], tmp, sizeof tmp);
            if (r > 0) {
                size_t m = (size_t)r < sizeof err - 1 - err_n ? (size_t)r : sizeof err - 1 - err_n;
                memcpy(err + err_n, tmp, m);
                err_n += m;
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                close_fd(&pe[0]);
            }
        }
    }
    close_fd(&sv[0]);
    close_fd(&po[0]);
    close_fd(&pe[0]);
    if (why) kill(pid, SIGKILL);
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (why && !strcmp(why, "timeout"))
        return err_set(e, "mandoc did not finish within %d seconds (a runaway macro?)", EX_MAN_TIMEOUT_S);
    if (why) return err_set(e, "mandoc %s", why);
    // mandoc's exit status 2-4 reports warnings, errors it recovered from and unsupported
    // requests, with the page rendered all the same; 5 and above mean no output.
    if (w == pid && !(WIFEXITED(status) && WEXITSTATUS(status) <= 4)) {
        err[err_n] = '\0';
        char *nl = strchr(err, '\n');
        if (nl) *nl = '\0';
        if (WIFEXITED(status))
            return err_set(e, "mandoc failed (exit status %d)%s%s", WEXITSTATUS(status),
                           err_n ? ": " : "", err);
        return err_set(e, "mandoc killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    return 0;
}

// Decodes the UTF-8 character at s[0..n) into *cp; returns its length (1 for an invalid byte,
// with *cp = -1: a bad lead or continuation byte, a cut sequence, an overlong form, a
// surrogate, above U+10FFFF).
static size_t utf8_dec(const unsigned char *s, size_t n, long *cp) {
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || len > n) return *cp = -1, 1;
    long v = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return *cp = -1, 1;
        v = v << 6 | (s[i] & 0x3F);
    }
    static const long min[5] = {0, 0, 0x80, 0x800, 0x10000};  // shorter forms are overlong
    if (v < min[len] || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) return *cp = -1, 1;
    *cp = v;
    return len;
}

// Han, hiragana, katakana, CJK symbols and punctuation, full-width forms: the characters
// between which the formatter's joined source lines leave a space that Japanese does not have.
static int is_cjk(long c) {
    return (c >= 0x2E80 && c <= 0x2FDF) || (c >= 0x3000 && c <= 0x30FF) ||
           (c >= 0x31F0 && c <= 0x31FF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
           (c >= 0xFF01 && c <= 0xFF60) || (c >= 0xFF66 && c <= 0xFF9F) ||
           (c >= 0x1B000 && c <= 0x1B16F) || (c >= 0x20000 && c <= 0x3134F);
}

// mandoc's output -> the text: overstrikes undone, header and footer lines dropped, spaces
// between CJK characters removed, then tidied.
static void man_post(buf_t *g, buf_t *t) {
    // Overstrikes ("_\bx", "x\bx"): a backspace deletes the character before it.
    size_t o = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (g->p[i] == '\b') {
            if (o > 0 && g->p[o - 1] != '\n') {
                o--;
                while (o > 0 && ((unsigned char)g->p[o] & 0xC0) == 0x80) o--;
            }
            continue;
        }
        g->p[o++] = g->p[i];
    }
    g->n = o;
    // The first and the last non-blank lines: the page header and footer.
    size_t first_s = g->n, first_e = g->n, last_s = g->n, last_e = g->n;
    for (size_t i = 0; i < g->n;) {
        size_t j = i;
        int blank = 1;
        while (j < g->n && g->p[j] != '\n') blank &= g->p[j] == ' ' || g->p[j] == '\t', j++;
        if (!blank) {
            if (first_s == g->n) first_s = i, first_e = j;
            last_s = i, last_e = j;
        }
        i = j + 1;
    }
    long prev = -1;
    for (size_t i = 0; i < g->n;) {
        if (i == first_s) i = first_e;
        if (i == last_s && last_s != first_s) i = last_e;
        if (i >= g->n) break;
        long c, nx = -1;
        const unsigned char *u = (const unsigned char *)g->p;
        size_t len = utf8_dec(u + i, g->n - i, &c);
        if (c == ' ' && is_cjk(prev) && i + 1 < g->n) {
            utf8_dec(u + i + 1, g->n - i - 1, &nx);
            if (is_cjk(nx)) {
                i++;
                continue;
            }
        }
        put(t, g->p + i, len);
        prev = c;
        i += len;
    }
    tidy(t, 1);
}

static int man_text(const char *raw, size_t len, char **out, size_t *out_len, err_t *e) {
    buf_t t = {0};
    if (man_is_stub(raw, len)) return buf_give(&t, out, out_len, e, "man page");
    buf_t g = {0};
    int rc = run_mandoc(raw, len, &g, e);
    if (rc != 0) {
        free(g.p);
        return -1;
    }
    man_post(&g, &t);
    free(g.p);
    return buf_give(&t, out, out_len, e, "man page");
}

// ---- entry point -----------------------------------------------------------------------------

int ex_text(rd_markup_t m, const char *raw, size_t len, const char *charset, char **out,
            size_t *out_len, err_t *e) {
    *out = NULL;
    *out_len = 0;
    if (m == RD_PLAIN) {
        char *p = malloc(len + 1);
        if (!p) return err_set(e, "text of %zu bytes: out of memory", len);
        if (len) memcpy(p, raw, len);
        p[len] = '\0';
        *out = p;
        *out_len = len;
        return 0;
    }
    if (m == RD_HTML) {
        ex_global_init();
        // Per-thread handlers (libxml2 keeps them in thread-local state): nothing on stderr.
        xmlSetGenericErrorFunc(NULL, xml_quiet);
        xmlSetStructuredErrorFunc(NULL, xml_quiet_s);
        return html_text(raw, len, charset, out, out_len, e);
    }
    if (m == RD_MAN) return man_text(raw, len, out, out_len, e);
    return err_set(e, "ex_text: unknown markup %d (expected RD_PLAIN, RD_HTML or RD_MAN)", (int)m);
}
