// extract: the plain text of an HTML page or a man page, for the data pipeline.  The reader
// (data/reader.h) frames documents and says what they are (rd_doc_t.markup); this module turns
// each into UTF-8 text, which then goes to tn_normalize like any other document.
//
//     ex_global_init();                          // once, in the main thread, before threads
//     #pragma omp parallel for                   // ex_text is thread-safe
//     for (...) {
//         char *txt; size_t n; err_t e = {0};
//         if (ex_text(d.markup, d.text, d.len, d.charset, &txt, &n, &e) != 0) {
//             fprintf(stderr, "manabi: %s: %s\n", d.source, e.msg); continue;
//         }
//         if (n > 0) use(txt, n);                // n == 0: nothing but boilerplate
//         free(txt);
//     }
//
// HTML (libxml2's HTML parser: entities and broken markup handled as browsers handle them):
//  - Encoding, decided as browsers do: a BOM; else the charset argument (the HTTP
//    Content-Type's label; it beats <meta>); else a <meta charset> or <meta http-equiv> in the
//    first 4 KiB; else UTF-8 when the valid multi-byte UTF-8 sequences outnumber the invalid
//    bytes, windows-1252 when not (libxml2 alone would assume ISO-8859-1).  Labels map to the
//    WHATWG decoders ("iso-8859-1", "us-ascii" -> windows-1252, "shift_jis" -> windows-31j,
//    "gb2312", "gbk" -> GB18030, "euc-kr" -> CP949, "big5" -> Big5-HKSCS); a label iconv does not
//    know is ignored.  The page is converted to UTF-8 (glibc iconv) before libxml2 parses it,
//    each undecodable byte becoming U+FFFD, so one bad byte does not end the page.
//  - Dropped with everything inside: head (the <title> too: it repeats the page's heading or
//    names the site), script, style, noscript, template, iframe, object, embed, svg, math,
//    canvas, video, audio, map, button, select, input, textarea; nav, aside, dialog, menu;
//    header and footer unless inside article, main or section
//    (there they hold the article's title and byline, not the site's banner: the ARIA rule);
//    any element with role navigation, banner, contentinfo, search, menu or menubar, with a
//    hidden attribute, aria-hidden="true", or an inline style with display:none or
//    visibility:hidden.  A <form> itself stays: ASP.NET pages wrap the whole body in one.
//  - Block elements end the line; p, h1-h6, pre, blockquote, table, hr, figure, ul, ol, dl,
//    address and details end the paragraph (a blank line); <br> breaks the line, two in a row
//    make a blank line.  Table cells in a row are separated by a tab.  List items get no bullet.
//  - Outside <pre>, runs of ASCII whitespace collapse to one space, as browsers render them;
//    U+00A0 (&nbsp;) is kept as it is.  <pre> keeps its spaces, tabs and newlines.
//  - Lines carry no trailing whitespace, and no leading whitespace outside <pre>; there is at
//    most one blank line in a row, none at the start or end.
//
// Man pages (roff source, as stored in /usr/share/man after decompression): rendered by running
//     mandoc -K utf-8 -T utf8 -O width=1000
// with LC_ALL=C.UTF-8.  mandoc (Debian package mandoc) is the man page formatter of OpenBSD,
// FreeBSD and macOS: one small C process that parses man(7), mdoc(7), tbl and eqn, about 3 ms
// a page where groff takes 15-20 ms (five processes: groff, preconv, tbl, troff, grotty), which
// made man pages 85% of the pipeline's time on the default corpus.  1000 columns is mandoc's
// widest: a paragraph of more than 1000 columns (rare in man pages; Japanese, which has no
// spaces to break at, is never broken) wraps onto a second line.  Then the first and the
// last non-blank lines (the header and footer: "LS(1) ... LS(1)") are removed, backspace
// overstrikes undone, the space the formatter puts between two CJK characters where the
// source broke a Japanese line (Han, hiragana, katakana, CJK punctuation U+3000-303F,
// full-width forms U+FF01-FF60) removed, leading and trailing whitespace of each line removed
// (the 7-column indent is noise in a corpus), and blank lines collapsed as for HTML.  A ".so"
// stub (nothing but .so lines, comments and blank lines) gives an empty text without running
// mandoc.  mandoc has no request that runs a command or reads another file.  Its exit status
// 2-4 (warnings, recovered errors, unsupported requests) still comes with the page; 5 and
// above are errors.  A page mandoc has not finished within EX_MAN_TIMEOUT_S seconds, or whose
// output exceeds EX_MAN_MAX_OUT bytes, is an error (the child is killed).
#ifndef MANABI_DATA_EXTRACT_H
#define MANABI_DATA_EXTRACT_H

#include <stddef.h>

#include "core/err.h"
#include "data/reader.h"

#define EX_MAN_TIMEOUT_S 60
#define EX_MAN_MAX_OUT ((size_t)256 << 20)

// Initialises libxml2 (xmlInitParser) and silences its error output.  Call once from the main
// thread before starting threads that call ex_text; cheap and idempotent (ex_text calls it too,
// under pthread_once, so forgetting it is safe but makes the first call pay for it).
void ex_global_init(void);

// The text of raw[0..len) of kind m (RD_PLAIN: a copy; RD_HTML; RD_MAN).  charset: NULL, or
// an encoding label for HTML (ignored for the others).  Returns 0 with *out a malloc'd
// NUL-terminated UTF-8 string of *out_len bytes that the caller frees (possibly empty: a page
// of navigation only, a .so stub), or -1 with *out NULL and e filled (out of memory; mandoc
// missing, failing, or too slow; an unknown markup value).  Thread-safe: no shared state
// beyond libxml2's, which is initialised once.
int ex_text(rd_markup_t m, const char *raw, size_t len, const char *charset, char **out,
            size_t *out_len, err_t *e);

#endif
