// normalize: text normalisation and PII scrubbing for one UTF-8 document, before filtering,
// deduplication and tokenisation.
//
//     tn_config_t c;
//     tn_config_default(&c);                       // NFC, drop above 1% invalid bytes
//     char *out; size_t n; tn_stats_t st; err_t e = {0};
//     int r = tn_normalize(&c, text, len, &out, &n, &st, &e);
//     if (r < 0) { fprintf(stderr, "manabi: %s\n", e.msg); return -1; }   // out of memory
//     if (r == TN_DROP_INVALID_UTF8) continue;    // not an error: skip the document
//     char *clean = malloc(TN_SCRUB_CAP(n));
//     size_t m = tn_scrub_pii(out, n, clean, NULL);
//     free(out);
//
// tn_normalize, in this order:
//  1. Invalid UTF-8 is repaired: each maximal ill-formed subpart (Unicode 15 §3.9, "U+FFFD
//     substitution of maximal subparts", as WHATWG and Python do) becomes one U+FFFD.  Overlong
//     forms, surrogates (ED A0..BF xx) and code points above U+10FFFF are ill-formed.  When the
//     ill-formed bytes exceed max_invalid_frac of the input bytes the document is reported as
//     TN_DROP_INVALID_UTF8 instead: mojibake that heavy is not worth training on.
//  2. Unicode normal form, by utf8proc_map: NFC by default, NFKC as an option.  NFC only
//     canonicalises (e + U+0301 -> é, precomposed Hangul), so the text still reads as written.
//     NFKC also folds compatibility characters: full-width ＡＢＣ１２３ -> ABC123, half-width
//     ｶﾀｶﾅ -> カタカナ, ① -> 1, ㍻ -> 平成, ﬁ -> fi, and U+3000 -> an ASCII space; that changes
//     text people wrote (and Japanese text uses full-width forms on purpose), so it is opt-in.
//  3. Whitespace and controls (over code points, after step 2):
//     - "\r\n" and a lone "\r" become "\n"; so do the other line/paragraph separators (VT, FF,
//       NEL U+0085, U+2028, U+2029: mandatory breaks in UAX #14, so they are not deleted,
//       which would glue the words either side together).
//     - Every other control character (general category Cc) is removed; \n and \t are kept.
//       Format characters (Cf: ZWJ in emoji, ZWNJ in Persian, soft hyphen) are kept.
//     - Horizontal whitespace is \t, space, U+00A0, U+1680, U+2000..U+200A, U+202F, U+205F.
//       A run of two or more collapses to one ASCII space; a lone one is kept as it is (a tab
//       in a table, a no-break space in "100 km").  U+3000 IDEOGRAPHIC SPACE is not in the set
//       and is never touched: in Japanese it is meaningful (paragraph indent, spacing between
//       names) and one U+3000 is not the same as one ASCII space.
//     - Horizontal whitespace at the end of a line is removed; more than 2 consecutive "\n"
//       become 2 (at most one blank line); the document's leading and trailing whitespace
//       (blank lines included) is removed, so the result has no final "\n".
//     Controls are removed after composition, so a control between a base letter and its
//     combining mark leaves the two uncomposed; such text is rare enough not to pay a second
//     normalisation pass for.
//
// tn_scrub_pii replaces, scanning bytes by hand (no regex, ASCII rules; non-ASCII bytes act as
// separators, so Japanese text around an address is fine):
//   e-mail  local part [A-Za-z0-9._%+-]+ (leading dots dropped), "@", two or more domain labels
//           [A-Za-z0-9-]+ joined by ".", the last all letters and 2+ long  -> "<EMAIL>".
//           "a@b", "user@localhost", "x@host.c0m" stay.  The full-width ＠ is not matched (NFKC
//           folds it).
//   IPv4    four dotted decimal octets 0..255 of 1-3 digits, not preceded by a letter, digit or
//           "." and not followed by a letter, digit, "_", "@" or ".digit" -> "<IP>".  So
//           256.1.1.1, 1.2.3.4.5 and version strings like 1.2.3 or v1.2.3.4 stay.
//   IPv6    1-4 hex digit groups joined by ":": eight groups, or fewer with one "::" (which may
//           start or end it), optionally ending in an IPv4 tail worth two groups; not preceded
//           by a letter, digit, "_", ":" or "." nor followed by a letter, digit or "_" -> "<IP>".
//           A compressed form must contain a decimal digit, so C++ "abc::def" stays; "::1",
//           "fe80::1", "2001:db8::8a2e:370:7334", "::ffff:192.0.2.1" are replaced.
#ifndef MANABI_DATA_NORMALIZE_H
#define MANABI_DATA_NORMALIZE_H

#include <stddef.h>

#include "core/err.h"

typedef enum tn_form {
    TN_NFC = 0,   // canonical composition (default)
    TN_NFKC = 1,  // compatibility composition: folds full-width/half-width forms (see above)
} tn_form_t;

typedef struct tn_config {
    tn_form_t form;           // TN_NFC
    double max_invalid_frac;  // 0.01: drop when ill-formed bytes > this fraction of input bytes
} tn_config_t;

// What tn_normalize did; every field is a count over one call.
typedef struct tn_stats {
    size_t invalid_seqs;      // U+FFFD substitutions made (or that would have been, on a drop)
    size_t invalid_bytes;     // input bytes inside those ill-formed subparts
    size_t controls_removed;  // Cc code points deleted (not counting CR of CRLF)
    size_t newlines_mapped;   // CR, CRLF, VT, FF, NEL, U+2028, U+2029 turned into "\n"
} tn_stats_t;

// tn_normalize's verdicts (-1 is an error, in e).
typedef enum tn_result {
    TN_OK = 0,                 // *out holds the normalised text
    TN_DROP_INVALID_UTF8 = 1,  // too much invalid UTF-8: *out is NULL, *out_len 0
} tn_result_t;

typedef struct tn_pii_stats {
    size_t emails, ipv4, ipv6;  // replacements made
} tn_pii_stats_t;

// Fills c with the defaults: TN_NFC, max_invalid_frac 0.01.
void tn_config_default(tn_config_t *c);

// Normalises in[0..len) (in may be NULL when len == 0) as described at the top of this file.
// Returns TN_OK with *out a malloc'd, NUL-terminated string of *out_len bytes that the caller
// frees; TN_DROP_INVALID_UTF8 with *out NULL; or -1 with e filled (out of memory, or utf8proc
// failing) and *out NULL.  st may be NULL.  Thread-safe: it keeps no state.
int tn_normalize(const tn_config_t *c, const char *in, size_t len, char **out, size_t *out_len,
                 tn_stats_t *st, err_t *e);

// Room tn_scrub_pii needs for an input of len bytes.  A replacement is at most 1 byte longer
// than what it replaces: "<EMAIL>" (7) for an address of at least 6 ("a@b.cd"), "<IP>" (4) for
// one of at least 3 ("::1"; IPv4 is at least 7).  So the output is at most len + len/3, plus
// the NUL.
#define TN_SCRUB_CAP(len) ((len) + (len) / 3 + 1)

// Writes in[0..len) with e-mail and IP addresses replaced into out, which must have room for
// TN_SCRUB_CAP(len) bytes and must not overlap in.  Returns the output length; out is also
// NUL-terminated.  st (may be NULL) receives this call's counts.  Allocates nothing.
size_t tn_scrub_pii(const char *in, size_t len, char *out, tn_pii_stats_t *st);

#endif
