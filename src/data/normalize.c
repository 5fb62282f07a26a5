// normalize: see normalize.h for the rules.  UTF-8 is validated by hand (Unicode Table 3-7);
// normal forms come from utf8proc; the whitespace pass and the PII scanner are plain loops.
#include "data/normalize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

void tn_config_default(tn_config_t *c) {
    c->form = TN_NFC;
    c->max_invalid_frac = 0.01;
}

// Length of the well-formed UTF-8 sequence at s[0..n), or 0 when ill-formed; in that case *bad
// is the length of the maximal ill-formed subpart (at least 1), the bytes one U+FFFD replaces.
static size_t utf8_valid_len(const unsigned char *s, size_t n, size_t *bad) {
    unsigned char b = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) need = 1;
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        if (b == 0xE0) lo = 0xA0;       // overlong
        if (b == 0xED) hi = 0x9F;       // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        if (b == 0xF0) lo = 0x90;       // overlong
        if (b == 0xF4) hi = 0x8F;       // above U+10FFFF
    } else {
        *bad = 1;                       // stray continuation, C0/C1 overlong lead, F5..FF
        return 0;
    }
    for (size_t k = 1; k <= need; k++) {
        unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (k >= n || s[k] < l || s[k] > h) {
            *bad = k;
            return 0;
        }
    }
    return need + 1;
}

// Decodes the well-formed sequence at s (validated already) into *cp; returns its length.
static size_t utf8_decode(const unsigned char *s, int32_t *cp) {
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    if (s[0] < 0xE0) { *cp = (s[0] & 0x1F) << 6 | (s[1] & 0x3F); return 2; }
    if (s[0] < 0xF0) { *cp = (s[0] & 0x0F) << 12 | (s[1] & 0x3F) << 6 | (s[2] & 0x3F); return 3; }
    *cp = (s[0] & 0x07) << 18 | (s[1] & 0x3F) << 12 | (s[2] & 0x3F) << 6 | (s[3] & 0x3F);
    return 4;
}

static int is_hspace(int32_t c) {
    return c == '\t' || c == ' ' || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x202F || c == 0x205F;
}

// Line separators other than "\n" and "\r" (handled apart for CRLF).
static int is_linesep(int32_t c) {
    return c == 0x0B || c == 0x0C || c == 0x85 || c == 0x2028 || c == 0x2029;
}

static int is_control(int32_t c) { return c < 0x20 || (c >= 0x7F && c <= 0x9F); }

// Step 3 over the valid UTF-8 s[0..n) into out (room for n + 1); returns the output length.
static size_t tidy_space(const unsigned char *s, size_t n, char *out, tn_stats_t *st) {
    size_t o = 0;
    size_t nl = 0;                    // pending newlines
    size_t ws = 0, ws_at = 0, ws_len = 0;  // pending horizontal whitespace: count, first one
    for (size_t i = 0; i < n;) {
        int32_t c;
        size_t k = utf8_decode(s + i, &c);
        if (c == '\r' || c == '\n' || is_linesep(c)) {
            if (c == '\r' && i + 1 < n && s[i + 1] == '\n') k = 2;
            else if (c != '\n') st->newlines_mapped++;
            nl++;
            ws = 0;                   // trailing whitespace of the line
        } else if (is_hspace(c)) {
            if (ws++ == 0) { ws_at = i; ws_len = k; }
        } else if (is_control(c)) {
            st->controls_removed++;
        } else {
            if (o > 0) {              // leading blank lines and whitespace are dropped
                for (size_t j = 0; j < nl && j < 2; j++) out[o++] = '\n';
                if (ws == 1) { memcpy(out + o, s + ws_at, ws_len); o += ws_len; }
                else if (ws > 1) out[o++] = ' ';
            }
            nl = ws = 0;
            memcpy(out + o, s + i, k);
            o += k;
        }
        i += k;
    }
    out[o] = '\0';                    // trailing whitespace and newlines are never written
    return o;
}

// 1 when every code point of the (valid UTF-8) text is one NFC maps to itself whatever
// surrounds it: no canonical decomposition, not a combining mark, not a Hangul jamo.  The
// ranges are a conservative subset: ASCII; Latin-1 U+00A0-00FF (precomposed letters are
// stable when no combining mark follows, and none can: marks are not in the set); general
// punctuation U+2010-205E (U+2000-2001 decompose); CJK symbols U+3000-3029 and U+3030-303F
// (U+302A-302F are combining); hiragana U+3041-3096 and U+309B-309F (U+3099-309A are the
// combining voicing marks); katakana U+30A0-30FF (the voiced ones decompose to base + U+3099
// and recompose to themselves); CJK unified ideographs U+4E00-9FFF (not the compatibility
// ideographs U+F900-FAFF, which NFC replaces); full-width forms U+FF01-FF60 and half-width
// katakana U+FF61-FF9F (compatibility decompositions only, which NFC does not apply).
static int nfc_inert(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char b = s[i];
        if (b < 0x80) {
            i++;
            continue;
        }
        int32_t cp;
        i += utf8_decode(s + i, &cp);
        if ((cp >= 0xA0 && cp <= 0xFF) || (cp >= 0x2010 && cp <= 0x205E) || (cp >= 0x3000 && cp <= 0x3029) ||
            (cp >= 0x3030 && cp <= 0x303F) || (cp >= 0x3041 && cp <= 0x3096) || (cp >= 0x309B && cp <= 0x30FF) ||
            (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xFF01 && cp <= 0xFF9F))
            continue;
        return 0;
    }
    return 1;
}

int tn_normalize(const tn_config_t *c, const char *in, size_t len, char **out, size_t *out_len,
                 tn_stats_t *st, err_t *e) {
    tn_stats_t dummy;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    *out = NULL;
    *out_len = 0;
    const unsigned char *s = (const unsigned char *)in;

    // 1. Count, then repair, ill-formed UTF-8 (U+FFFD is 3 bytes, so at most 3 * len).
    for (size_t i = 0; i < len;) {
        size_t bad = 0, k = utf8_valid_len(s + i, len - i, &bad);
        if (k == 0) { st->invalid_seqs++; st->invalid_bytes += bad; k = bad; }
        i += k;
    }
    if (st->invalid_bytes > 0 && (double)st->invalid_bytes > c->max_invalid_frac * (double)len)
        return TN_DROP_INVALID_UTF8;
    unsigned char *fixed = NULL;
    size_t flen = len;
    if (st->invalid_seqs > 0) {
        fixed = malloc(len + 2 * st->invalid_bytes + 1);
        if (!fixed) return err_set(e, "normalize: out of memory repairing %zu bytes of UTF-8", len);
        flen = 0;
        for (size_t i = 0; i < len;) {
            size_t bad = 0, k = utf8_valid_len(s + i, len - i, &bad);
            if (k) { memcpy(fixed + flen, s + i, k); flen += k; i += k; continue; }
            memcpy(fixed + flen, "\xEF\xBF\xBD", 3);
            flen += 3;
            i += bad;
        }
        s = fixed;
    }

    // 2. NFC or NFKC.  utf8proc_map wants a non-NULL pointer even for empty input.
    //    Text made only of code points that NFC leaves alone and that nothing composes with
    //    (see nfc_inert: ASCII, Latin-1, kana, CJK ideographs and punctuation, full-width
    //    forms; no combining mark anywhere) is already NFC, so it skips utf8proc: most English
    //    and Japanese.  NFKC folds some of those, so it always runs utf8proc.
    utf8proc_uint8_t *nf = NULL;
    utf8proc_ssize_t nlen;
    if (c->form == TN_NFC && nfc_inert(s, flen)) {
        nlen = (utf8proc_ssize_t)flen;
        if ((nf = malloc(flen + 1))) {
            if (flen) memcpy(nf, s, flen);
            nf[flen] = 0;
        } else {
            nlen = UTF8PROC_ERROR_NOMEM;
        }
    } else {
        int opts = UTF8PROC_STABLE | UTF8PROC_COMPOSE | (c->form == TN_NFKC ? UTF8PROC_COMPAT : 0);
        nlen = utf8proc_map(s, (utf8proc_ssize_t)flen, &nf, (utf8proc_option_t)opts);
    }
    free(fixed);
    if (nlen < 0)
        return err_set(e, "normalize: utf8proc_map failed on a %zu-byte document: %s", len,
                       utf8proc_errmsg(nlen));

    // 3. Whitespace and controls; never longer than its input.
    char *res = malloc((size_t)nlen + 1);
    if (!res) {
        free(nf);
        return err_set(e, "normalize: out of memory for a %zd-byte result", (ssize_t)nlen);
    }
    *out_len = tidy_space(nf, (size_t)nlen, res, st);
    free(nf);
    *out = res;
    return TN_OK;
}

// ---- PII -----------------------------------------------------------------------------------

static int is_alpha(unsigned char ch) { return (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'; }
static int is_digit(unsigned char ch) { return ch >= '0' && ch <= '9'; }
static int is_alnum(unsigned char ch) { return is_alpha(ch) || is_digit(ch); }
static int is_hex(unsigned char ch) { return is_digit(ch) || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f'); }
static int is_local(unsigned char ch) { return is_alnum(ch) || (ch && strchr("._%+-", ch)); }

// Length of the e-mail address whose '@' is at s[at], starting no earlier than s[lo], as
// [*start, *start + return); 0 if there is none.
static size_t match_email(const unsigned char *s, size_t n, size_t lo, size_t at, size_t *start) {
    size_t b = at;
    while (b > lo && is_local(s[b - 1])) b--;
    while (b < at && s[b] == '.') b++;
    if (b == at) return 0;
    size_t i = at + 1, end = 0;
    for (int label = 0;; label++) {
        size_t l0 = i;
        int alpha = 1;
        while (i < n && (is_alnum(s[i]) || s[i] == '-')) alpha &= is_alpha(s[i++]);
        if (i == l0 || s[l0] == '-' || s[i - 1] == '-') break;
        if (label >= 1 && alpha && i - l0 >= 2) end = i;
        if (i + 1 < n && s[i] == '.' && is_alnum(s[i + 1])) i++;
        else break;
    }
    if (!end) return 0;
    *start = b;
    return end - b;
}

// Length of four dotted octets 0..255 at s[0..n), or 0; boundaries are the caller's.
static size_t ipv4_body(const unsigned char *s, size_t n) {
    size_t i = 0;
    for (int oct = 0; oct < 4; oct++) {
        if (oct) {
            if (i >= n || s[i] != '.') return 0;
            i++;
        }
        size_t d0 = i;
        int v = 0;
        while (i < n && is_digit(s[i]) && i - d0 < 3) v = v * 10 + (s[i++] - '0');
        if (i == d0 || v > 255 || (i < n && is_digit(s[i]))) return 0;
    }
    return i;
}

static size_t match_ipv4(const unsigned char *s, size_t n) {
    size_t k = ipv4_body(s, n);
    if (!k || (k < n && (is_alnum(s[k]) || s[k] == '_' || s[k] == '@'))) return 0;
    if (k + 1 < n && s[k] == '.' && is_digit(s[k + 1])) return 0;
    return k;
}

static size_t match_ipv6(const unsigned char *s, size_t n) {
    size_t i = 0;
    int groups = 0, dcolon = 0, digit = 0;
    if (n >= 2 && s[0] == ':' && s[1] == ':') { dcolon = 1; i = 2; }
    else if (n && s[0] == ':') return 0;
    while (i < n) {
        size_t j = i;
        while (j < n && is_hex(s[j]) && j - i < 5) digit |= is_digit(s[j++]);
        if (j == i) break;                         // "::" at the end
        if (j - i > 4) return 0;
        if (j < n && s[j] == '.') {                // IPv4 tail: two groups, and the end
            size_t k = groups <= 6 ? ipv4_body(s + i, n - i) : 0;
            if (!k) return 0;
            groups += 2;
            i += k;
            break;
        }
        groups++;
        i = j;
        if (i + 1 < n && s[i] == ':' && s[i + 1] == ':') {
            if (dcolon) return 0;
            dcolon = 1;
            i += 2;
        } else if (i + 1 < n && s[i] == ':' && is_hex(s[i + 1])) {
            i++;
        } else {
            break;
        }
    }
    if (dcolon ? (groups > 7 || !digit) : groups != 8) return 0;
    if (i < n && (is_alnum(s[i]) || s[i] == '_' || s[i] == '@')) return 0;
    return i;
}

size_t tn_scrub_pii(const char *in, size_t len, char *out, tn_pii_stats_t *st) {
    tn_pii_stats_t dummy;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0, copied = 0;                      // in[copied..i) is not yet written
    for (size_t i = 0; i < len;) {
        size_t start = i, k = 0;
        const char *tok = NULL;
        unsigned char prev = i ? s[i - 1] : ' ';
        if (s[i] == '@') {
            if ((k = match_email(s, len, copied, i, &start))) { tok = "<EMAIL>"; st->emails++; }
        } else if ((is_hex(s[i]) || s[i] == ':') && !is_alnum(prev) && prev != '_' &&
                   prev != ':' && prev != '.') {
            if ((k = match_ipv6(s + i, len - i))) { tok = "<IP>"; st->ipv6++; }
            else if (is_digit(s[i]) && (k = match_ipv4(s + i, len - i))) { tok = "<IP>"; st->ipv4++; }
        }
        if (!tok) { i++; continue; }
        memcpy(out + o, s + copied, start - copied);
        o += start - copied;
        memcpy(out + o, tok, strlen(tok));
        o += strlen(tok);
        i = copied = start + k;
    }
    memcpy(out + o, s + copied, len - copied);
    o += len - copied;
    out[o] = '\0';
    return o;
}
