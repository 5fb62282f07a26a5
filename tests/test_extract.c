// Tests for data/extract: HTML boilerplate removal, block structure, whitespace, <pre>,
// entities, broken markup, encodings (meta, HTTP hint, fallbacks), threads; man pages through
// mandoc (English, Japanese, tables, .so stubs, a missing mandoc); a WARC read end to end.
// The man page tests need mandoc (Debian mandoc, installed by scripts/install_deps.sh):
// without it they fail with the error that names the package.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "data/extract.h"
#include "data/reader.h"
#include "test.h"

// ex_text on a string; returns the text (to free) or NULL with the error printed as a failure.
static char *ex(rd_markup_t m, const char *s, size_t n, const char *cs, const char *where) {
    char *out = (char *)1;
    size_t len = 99;
    err_t e = {{0}};
    if (ex_text(m, s, n, cs, &out, &len, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s: %s", where, e.msg);
        CHECK(out == NULL);
        return NULL;
    }
    CHECK(out != NULL && out[len] == '\0' && (m == RD_PLAIN || strlen(out) == len));
    return out;
}

// Checks that ex_text(HTML) of html is exactly want.
#define CHECK_HTML(html, cs, want)                                                        \
    do {                                                                                  \
        char *got_ = ex(RD_HTML, html, strlen(html), cs, #want);                          \
        CHECK_MSG(got_ && strcmp(got_, want) == 0, "HTML gave\n[%s]\nwant\n[%s]",          \
                  got_ ? got_ : "(error)", want);                                         \
        free(got_);                                                                       \
    } while (0)

TEST(extract_plain) {
    const char s[] = "a\0b\n";
    char *t = ex(RD_PLAIN, s, sizeof s - 1, "latin1", "plain");
    CHECK(t && memcmp(t, s, sizeof s) == 0);  // a copy, NUL-terminated, bytes untouched
    free(t);
    t = ex(RD_PLAIN, "", 0, NULL, "empty");
    CHECK(t && t[0] == '\0');
    free(t);
    char *out = (char *)1;
    size_t n;
    err_t e = {{0}};
    CHECK(ex_text((rd_markup_t)7, "x", 1, NULL, &out, &n, &e) == -1 && out == NULL &&
          strstr(e.msg, "unknown markup"));
}

static const char page[] =
    "<!DOCTYPE html>\n<html lang=en><head><title>Site name | Page</title>\n"
    "<meta charset=utf-8><style>body { color: red } .STYLE {}</style>\n"
    "<script>var SCRIPT = '<p>not text</p>';</script></head>\n"
    "<body>\n"
    "<header class=site><a href=/>LOGO</a><nav><ul><li><a>HOME</a><li><a>ABOUT</a></ul></nav></header>\n"
    "<div role=navigation>BREADCRUMB</div>\n"
    "<main>\n<article>\n<header><h1>The   title</h1><p class=byline>By someone</p></header>\n"
    "<p>First paragraph,\n   with <b>bold</b> and <a href=#>a link</a>.</p>\n"
    "<noscript>NOSCRIPT</noscript><iframe src=x>IFRAME</iframe>\n"
    "<p>Second <span hidden>HIDDEN</span>paragraph<span aria-hidden=\"true\">ARIA</span>.</p>\n"
    "<div style=\"DISPLAY : none\">INVISIBLE</div>\n"
    "<form action=/s><label>Label text</label><input value=INPUT><button>BUTTON</button>"
    "<select><option>OPTION</select><textarea>TEXTAREA</textarea></form>\n"
    "<svg><text>SVG</text></svg><template><p>TEMPLATE</p></template>\n"
    "<footer>Article footer note</footer>\n"
    "</article>\n<aside>ASIDE related links</aside>\n</main>\n"
    "<div role=\"contentinfo search\">ROLE</div>\n"
    "<footer>SITE FOOTER &copy; 2024</footer>\n"
    "<script>SCRIPT2()</script>\n</body></html>\n";

TEST(extract_html_boilerplate) {
    CHECK_HTML(page, NULL,
               "The title\n\nBy someone\n\nFirst paragraph, with bold and a link.\n\n"
               "Second paragraph.\n\nLabel text\nArticle footer note");
    char *t = ex(RD_HTML, page, sizeof page - 1, NULL, "page");
    const char *gone[] = {"Site name", "STYLE", "SCRIPT", "LOGO", "HOME", "BREADCRUMB", "NOSCRIPT",
                          "IFRAME", "HIDDEN", "ARIA", "INVISIBLE", "INPUT", "BUTTON", "OPTION",
                          "TEXTAREA", "SVG", "TEMPLATE", "ASIDE", "ROLE", "SITE FOOTER"};
    for (size_t i = 0; t && i < sizeof gone / sizeof gone[0]; i++)
        CHECK_MSG(!strstr(t, gone[i]), "%s survived", gone[i]);
    free(t);
    // Nothing but navigation: an empty text, not an error.
    CHECK_HTML("<html><body><nav><a>Home</a></nav><footer>(c)</footer></body></html>", NULL, "");
    CHECK_HTML("", NULL, "");
    CHECK_HTML("  \n ", NULL, "");
}

TEST(extract_html_blocks) {
    CHECK_HTML("<h2>Head</h2><p>one</p><p>two<br>three<br><br>four</p>"
               "<div>a</div><div>b<div>c</div>d</div>"
               "<ul><li>x</li><li>y <b>z</b></li></ul>"
               "<ol><li>first<li>second</ol>"
               "<dl><dt>term<dd>definition</dl>"
               "<blockquote>quote</blockquote>text<hr>after"
               "<table><caption>Cap</caption><tr><th>h1<th>h2</tr><tr><td> a </td><td>b b</td></tr></table>"
               "<figure><img alt=IMG><figcaption>fig</figcaption></figure>end",
               NULL,
               "Head\n\none\n\ntwo\nthree\n\nfour\n\na\nb\nc\nd\n\nx\ny z\n\nfirst\nsecond\n\n"
               "term\ndefinition\n\nquote\n\ntext\n\nafter\n\nCap\nh1\th2\na\tb b\n\nfig\n\nend");
    // Inline whitespace collapses to one space, across elements; none at line ends.
    CHECK_HTML("<p>  a \t\n  b<b> c </b> <i> d</i>\n</p><p>\n\te  </p>", NULL, "a b c d\n\ne");
    CHECK_HTML("<p>no<b>space</b>here</p>", NULL, "nospacehere");
    // <pre> keeps spaces, tabs and newlines; text around it does not.
    CHECK_HTML("<p>code:</p><pre>  int  x;\n\tif (x)\n\n    y();\n</pre><p>after   it</p>", NULL,
               "code:\n\n  int  x;\n\tif (x)\n\n    y();\n\nafter it");
}

TEST(extract_html_entities) {
    CHECK_HTML("<p>&amp; &lt;tag&gt; caf&eacute; &#x3042;&#12354; a&nbsp;b &quot;q&quot; &unknown; AT&T</p>",
               NULL, "& <tag> caf\xC3\xA9 \xE3\x81\x82\xE3\x81\x82 a\xC2\xA0" "b \"q\" &unknown; AT&T");
    // A no-break space is kept as it is, not collapsed.
    CHECK_HTML("<p>x&nbsp;&nbsp;y</p>", NULL, "x\xC2\xA0\xC2\xA0y");
}

TEST(extract_html_broken) {
    CHECK_HTML("<p>one<p>two<div>three", NULL, "one\n\ntwo\n\nthree");
    CHECK_HTML("<b><i>x</b> y</i></div></span><p>z", NULL, "x y\n\nz");
    CHECK_HTML("<html><body><p class=a id='b>c'>text</p><!-- comment <p>no</p> --></body>", NULL,
               "text");
    CHECK_HTML("<p>before<script>never closed <p>inside", NULL, "before");
    CHECK_HTML("<p>unterminated <a href=\"x", NULL, "unterminated");
    CHECK_HTML("plain text, no tags at all", NULL, "plain text, no tags at all");
    CHECK_HTML("<td>cell outside a table<tr><td>x</td>", NULL, "cell outside a table\nx");
    // Deep nesting does not overflow (the walk is iterative; libxml2 caps the depth).
    size_t n = 200000;
    char *deep = malloc(n * 5 + 16);
    for (size_t i = 0; i < n; i++) memcpy(deep + i * 5, "<div>", 5);
    strcpy(deep + n * 5, "deep");
    char *t = ex(RD_HTML, deep, strlen(deep), NULL, "deep");
    CHECK(t != NULL);
    free(t);
    free(deep);
}

TEST(extract_html_charsets) {
    // Shift_JIS by <meta charset>: "あ日本".
    const char sj[] = "<html><head><meta charset=\"Shift_JIS\"></head><body><p>\x82\xA0\x93\xFA\x96\x7B</p>";
    CHECK_HTML(sj, NULL, "\xE3\x81\x82\xE6\x97\xA5\xE6\x9C\xAC");
    // ISO-8859-1 by http-equiv is read as windows-1252, as browsers do: 0x93 0x94 are quotes.
    const char l1[] = "<meta http-equiv=Content-Type content='text/html; charset=ISO-8859-1'>"
                      "<p>caf\xE9 \x93q\x94</p>";
    CHECK_HTML(l1, NULL, "caf\xC3\xA9 \xE2\x80\x9Cq\xE2\x80\x9D");
    // The HTTP charset hint: used without <meta>; it beats a wrong <meta>; unknown ones are ignored.
    const char bare[] = "<p>\x82\xA0</p>";
    CHECK_HTML(bare, "shift_jis", "\xE3\x81\x82");
    CHECK_HTML(bare, "Shift_JIS", "\xE3\x81\x82");
    const char wrong[] = "<meta charset=iso-8859-1><p>\xE3\x81\x82</p>";
    CHECK_HTML(wrong, "utf-8", "\xE3\x81\x82");
    // What the page says, mojibake and all (0x81 is one of windows-1252's holes: U+0081).
    CHECK_HTML(wrong, NULL, "\xC3\xA3\xC2\x81\xE2\x80\x9A");
    // Bytes the encoding cannot decode become U+FFFD; the rest of the page is kept.
    CHECK_HTML("<meta charset=euc-jp><p>a\xFF\xFE" "b</p><p>c</p>", NULL, "a\xEF\xBF\xBD\xEF\xBF\xBD" "b\n\nc");
    CHECK_HTML("<p>\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9 \xE9 \xED\xA0\x80 end</p>", NULL,
               "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9 \xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end");
    CHECK_HTML(sj, "no-such-charset", "\xE3\x81\x82\xE6\x97\xA5\xE6\x9C\xAC");
    // No declaration: UTF-8 when the bytes are UTF-8 (libxml2 alone would assume Latin-1),
    // windows-1252 when they are not.
    CHECK_HTML("<p>caf\xC3\xA9 \xE3\x81\x82</p>", NULL, "caf\xC3\xA9 \xE3\x81\x82");
    CHECK_HTML("<p>caf\xE9</p>", NULL, "caf\xC3\xA9");
    CHECK_HTML("\xEF\xBB\xBF<p>bom \xC3\xA9</p>", "latin1", "bom \xC3\xA9");  // a BOM beats the hint
    // UTF-16 with its BOM (libxml2 reads it).
    const char u16[] = "\xFF\xFE<\0p\0>\0a\0\xE9\0";
    char *t = ex(RD_HTML, u16, sizeof u16 - 1, "latin1", "utf-16");
    CHECK_MSG(t && strcmp(t, "a\xC3\xA9") == 0, "[%s]", t ? t : "(error)");
    free(t);
    // EUC-JP through iconv: "日本".
    CHECK_HTML("<meta charset=euc-jp><p>\xC6\xFC\xCB\xDC</p>", NULL, "\xE6\x97\xA5\xE6\x9C\xAC");
}

TEST(extract_html_threads) {
    ex_global_init();
    ex_global_init();  // idempotent
    char *want = ex(RD_HTML, page, sizeof page - 1, NULL, "page");
    int bad = 0;
#pragma omp parallel for num_threads(8) reduction(+ : bad)
    for (int i = 0; i < 400; i++) {
        char *out;
        size_t n;
        err_t e = {{0}};
        const char *doc = i % 2 ? page : "<meta charset=Shift_JIS><p>\x82\xA0</p>";
        if (ex_text(RD_HTML, doc, strlen(doc), i % 4 == 3 ? "shift_jis" : NULL, &out, &n, &e) != 0) {
            bad++;
            continue;
        }
        if (strcmp(out, i % 2 ? want : "\xE3\x81\x82") != 0) bad++;
        free(out);
    }
    CHECK_MSG(bad == 0, "%d of 400 parallel extractions differ", bad);
    free(want);
}

// ---- man pages -------------------------------------------------------------------------------

static const char man_en[] =
    ".\\\" A test page.\n"
    ".TH MTOOL 1 \"January 2024\" \"mtool 1.0\" \"User Commands\"\n"
    ".SH NAME\n"
    "mtool \\- test the manual renderer\n"
    ".SH SYNOPSIS\n"
    ".B mtool\n"
    "[\\fIOPTION\\fR]... [\\fIFILE\\fR]...\n"
    ".SH DESCRIPTION\n"
    "This first paragraph is long enough that a formatter would wrap it at eighty columns,\n"
    "but with a very long line length it stays on one line in the output, which is what a\n"
    "training corpus wants.\n"
    ".PP\n"
    "Second paragraph with \\fBbold\\fR and \\fIitalic\\fR words.\n"
    ".TP\n"
    ".B \\-v, \\-\\-verbose\n"
    "print more\n"
    ".SH TABLE\n"
    ".TS\n"
    "l l.\n"
    "Name\tValue\n"
    "alpha\t1\n"
    ".TE\n"
    "After the table.\n";

// Whether text has a line equal to line.
static int has_line(const char *text, const char *line) {
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0')) return 1;
    return 0;
}

TEST(extract_man_english) {
    char *t = ex(RD_MAN, man_en, sizeof man_en - 1, NULL, "man_en");
    if (!t) return;
    const char *lines[] = {
        "NAME", "mtool - test the manual renderer", "SYNOPSIS", "mtool [OPTION]... [FILE]...",
        "DESCRIPTION",
        "This first paragraph is long enough that a formatter would wrap it at eighty columns, but with "
        "a very long line length it stays on one line in the output, which is what a training "
        "corpus wants.",
        "Second paragraph with bold and italic words.", "-v, --verbose", "print more", "TABLE",
        "After the table."};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        CHECK_MSG(has_line(t, lines[i]), "no line [%s] in\n%s", lines[i], t);
    // The table is laid out in columns; header and footer are gone; lines are trimmed.
    const char *tab = strstr(t, "Name");
    CHECK_MSG(tab && !strncmp(tab, "Name ", 5) && strstr(tab, "Value\nalpha") && strstr(tab, "alpha "),
              "table:\n%s", t);
    CHECK_MSG(!strstr(t, "MTOOL(1)") && !strstr(t, "January 2024") && !strstr(t, "mtool 1.0"),
              "header or footer left:\n%s", t);
    CHECK(!strstr(t, "\n ") && !strstr(t, " \n") && !strstr(t, "\n\n\n") && t[0] == 'N' &&
          t[strlen(t) - 1] == '.' && !strchr(t, '\b') && !strchr(t, '\033'));
    free(t);
}

TEST(extract_man_japanese) {
    const char ja[] = ".TH JTOOL 1 \"2024\" \"\" \"ユーザーコマンド\"\n"
                      ".SH 名前\n"
                      "jtool \\- ファイルの一覧を表示する\n"
                      ".SH 説明\n"
                      "各ファイルの情報を表示する。\n"
                      "オプションが指定されない場合は\n"
                      "アルファベット順に並べる。\n"
                      ".B \\-l\n"
                      "で長い形式（ＦＵＬＬ）になる。\n";
    char *t = ex(RD_MAN, ja, sizeof ja - 1, NULL, "man_ja");
    if (!t) return;
    CHECK_MSG(has_line(t, "名前") && has_line(t, "jtool - ファイルの一覧を表示する") && has_line(t, "説明"),
              "%s", t);
    // The source lines join without the space the formatter puts between CJK characters; the space
    // next to Latin letters stays.
    CHECK_MSG(has_line(t, "各ファイルの情報を表示する。オプションが指定されない場合はアルファベット順に並べる。"
                          " -l で長い形式（ＦＵＬＬ）になる。"),
              "%s", t);
    CHECK(!strstr(t, "ユーザーコマンド") && !strstr(t, "JTOOL(1)"));
    free(t);
}

TEST(extract_man_stub) {
    const char *stubs[] = {".so man1/other.1\n", ".\\\" comment\n\n.so man3/x.3\n", "", "\n \n"};
    for (size_t i = 0; i < 4; i++) {
        char *t = ex(RD_MAN, stubs[i], strlen(stubs[i]), NULL, stubs[i]);
        CHECK_MSG(t && t[0] == '\0', "stub %zu gave [%s]", i, t ? t : "(error)");
        free(t);
    }
    // A real page that also sources another file is rendered, not taken for a stub.
    const char mixed[] = ".so /nonexistent/macros\n.TH X 1\n.SH NAME\nx \\- real\n";
    char *t = ex(RD_MAN, mixed, sizeof mixed - 1, NULL, "mixed");
    CHECK_MSG(t && has_line(t, "x - real"), "%s", t ? t : "(error)");
    free(t);
}

TEST(extract_man_threads) {
    char *want = ex(RD_MAN, man_en, sizeof man_en - 1, NULL, "man_en");
    int bad = 0;
#pragma omp parallel for num_threads(4) reduction(+ : bad)
    for (int i = 0; i < 12; i++) {
        char *out;
        size_t n;
        err_t e = {{0}};
        if (ex_text(RD_MAN, man_en, sizeof man_en - 1, NULL, &out, &n, &e) != 0) {
            bad++;
            continue;
        }
        if (!want || strcmp(out, want) != 0) bad++;
        free(out);
    }
    CHECK_MSG(bad == 0, "%d of 12 parallel renderings differ", bad);
    free(want);
}

TEST(extract_man_no_mandoc) {
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    setenv("PATH", test_tmpdir(), 1);  // a directory without mandoc
    char *out = (char *)1;
    size_t n;
    err_t e = {{0}};
    int k = ex_text(RD_MAN, man_en, sizeof man_en - 1, NULL, &out, &n, &e);
    // A .so stub does not run mandoc at all.
    char *stub = NULL;
    size_t sn = 1;
    err_t e2 = {{0}};
    int ks = ex_text(RD_MAN, ".so man1/x.1\n", 13, NULL, &stub, &sn, &e2);
    CHECK_MSG(ks == 0 && stub && sn == 0, "stub without mandoc: %s", e2.msg);
    free(stub);
    if (saved) setenv("PATH", saved, 1);
    else unsetenv("PATH");
    free(saved);
    CHECK_MSG(k == -1 && out == NULL && strstr(e.msg, "mandoc") && strstr(e.msg, "Debian package mandoc"), "%s", e.msg);
}

// ---- end to end: a WARC read and extracted ---------------------------------------------------

TEST(extract_warc_end_to_end) {
    const char body[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=windows-1252\r\n\r\n"
                        "<html><head><title>T</title></head><body><nav>menu</nav>"
                        "<p>na\xEFve caf\xE9</p></body></html>";
    const char wet[] = "Already plain text.";
    char w[2048];
    size_t n = (size_t)sprintf(w, "WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://a/\r\n"
                                  "Content-Length: %zu\r\n\r\n%s\r\n\r\n"
                                  "WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: http://b/\r\n"
                                  "Content-Length: %zu\r\n\r\n%s\r\n\r\n",
                               sizeof body - 1, body, sizeof wet - 1, wet);
    const char *p = test_path("e2e.warc.gz");
    gzFile g = gzopen(p, "wb");
    CHECK(g && gzwrite(g, w, (unsigned)n) == (int)n);
    gzclose(g);
    rd_t *r;
    rd_doc_t d;
    err_t e = {{0}};
    CHECK_MSG(rd_open(&r, p, NULL, &e) == 0, "%s", e.msg);
    if (!r) return;
    const char *want[] = {"na\xC3\xAFve caf\xC3\xA9", "Already plain text."};
    const char *src[] = {"http://a/", "http://b/"};
    int k, i = 0;
    while ((k = rd_next(r, &d, &e)) == 1 && i < 2) {
        char *t = ex(d.markup, d.text, d.len, d.charset, "e2e");
        CHECK_MSG(t && strcmp(t, want[i]) == 0 && strcmp(d.source, src[i]) == 0, "doc %d: [%s]", i,
                  t ? t : "(error)");
        free(t);
        i++;
    }
    CHECK_MSG(k == 0 && i == 2, "k %d, %d docs: %s", k, i, e.msg);
    rd_close(r);
}
