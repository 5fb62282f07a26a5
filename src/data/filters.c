// filters: heuristic document quality filters.  See filters.h for the contract.
#include "data/filters.h"

#include <stdint.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "core/utf8.h"

// ---------------------------------------------------------------------------------------------
// Defaults and names

void qf_config_default(qf_config_t *c) {
    memset(c, 0, sizeof *c);
    for (int r = 0; r < QF_NUM_RULES; r++) c->enabled[r] = 1;

    // Gopher quality filter: Rae et al. 2021, "Scaling Language Models: Methods, Analysis &
    // Insights from Training Gopher", Appendix A.1.1 (MassiveText quality filter).
    c->gopher_min_words = 50;
    c->gopher_max_words = 100000;
    c->gopher_min_mean_word_len = 3;
    c->gopher_max_mean_word_len = 10;
    c->gopher_max_symbol_ratio = 0.1;
    c->gopher_max_bullet_lines = 0.9;
    c->gopher_max_ellipsis_lines = 0.3;
    c->gopher_min_alpha_words = 0.8;
    c->gopher_min_stop_words = 2;
    // Gopher repetition removal: same paper, Appendix A.1.1 and Table A1.
    c->gopher_max_dup_lines = 0.30;
    c->gopher_max_dup_line_chars = 0.20;
    c->gopher_max_top_ngram[0] = 0.20;  // 2-grams
    c->gopher_max_top_ngram[1] = 0.18;  // 3-grams
    c->gopher_max_top_ngram[2] = 0.16;  // 4-grams
    static const double dup_ngram[6] = {0.15, 0.14, 0.13, 0.12, 0.11, 0.10};  // 5..10-grams
    memcpy(c->gopher_max_dup_ngram, dup_ngram, sizeof dup_ngram);
    // C4: Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified
    // Text-to-Text Transformer", Section 2.2.  The numbers are those of datatrove's
    // C4QualityFilter (min_words_per_line=3, min_num_sentences=5), the reimplementation used by
    // FineWeb; both are fields, so the TFDS c4_utils variant is one assignment away.
    c->c4_min_words_per_line = 3;
    c->c4_min_sentences = 5;
    // FineWeb: Penedo et al. 2024, "The FineWeb Datasets: Decanting the Web for the Finest Text
    // Data at Scale", Section 3.6 (the three custom filters).
    c->fineweb_min_line_punct = 0.12;
    c->fineweb_max_dup_line_chars = 0.1;
    c->fineweb_max_short_lines = 0.67;
    c->fineweb_short_line_chars = 30;
    // Japanese: the character-based rules of the Swallow corpus (Okazaki et al. 2024,
    // "Building a Large Japanese Web Corpus for Large Language Models", Section 3: >= 400
    // characters, hiragana >= 0.2, katakana <= 0.5, Japanese characters >= 0.5, sentence-length
    // bounds, Gopher-style repetition on characters), which llm-jp-corpus's filters resemble.
    // The sentence-length window 10..250 and the 10-gram limit 0.2 are our choice of sensible
    // defaults in that spirit, not numbers copied from either paper.
    c->ja_min_chars = 400;
    c->ja_min_hiragana = 0.2;
    c->ja_max_katakana = 0.5;
    c->ja_min_japanese = 0.5;
    c->ja_min_sentence_len = 10;
    c->ja_max_sentence_len = 250;
    c->ja_ngram = 10;
    c->ja_max_top_ngram = 0.2;
    c->ja_max_dup_lines = 0.3;  // Gopher's duplicate-line limit
}

// The threshold fields, by name, for qf_config_set.
typedef struct qf_field {
    const char *name;
    size_t off;
    char type;  // 'l' long, 'i' int, 'r' ratio (double in [0, 1]), 'd' double >= 0
} qf_field_t;

#define QF_F_(field, type) {#field, offsetof(qf_config_t, field), type}
#define QF_A_(field, i, n, type) {#field "_" #n, offsetof(qf_config_t, field) + (i) * sizeof(double), type}
static const qf_field_t qf_fields[] = {
    QF_F_(gopher_min_words, 'l'), QF_F_(gopher_max_words, 'l'), QF_F_(gopher_min_mean_word_len, 'd'),
    QF_F_(gopher_max_mean_word_len, 'd'), QF_F_(gopher_max_symbol_ratio, 'd'), QF_F_(gopher_max_bullet_lines, 'r'),
    QF_F_(gopher_max_ellipsis_lines, 'r'), QF_F_(gopher_min_alpha_words, 'r'), QF_F_(gopher_min_stop_words, 'i'),
    QF_F_(gopher_max_dup_lines, 'r'), QF_F_(gopher_max_dup_line_chars, 'r'),
    QF_A_(gopher_max_top_ngram, 0, 2, 'r'), QF_A_(gopher_max_top_ngram, 1, 3, 'r'),
    QF_A_(gopher_max_top_ngram, 2, 4, 'r'), QF_A_(gopher_max_dup_ngram, 0, 5, 'r'),
    QF_A_(gopher_max_dup_ngram, 1, 6, 'r'), QF_A_(gopher_max_dup_ngram, 2, 7, 'r'),
    QF_A_(gopher_max_dup_ngram, 3, 8, 'r'), QF_A_(gopher_max_dup_ngram, 4, 9, 'r'),
    QF_A_(gopher_max_dup_ngram, 5, 10, 'r'), QF_F_(c4_min_words_per_line, 'i'), QF_F_(c4_min_sentences, 'i'),
    QF_F_(fineweb_min_line_punct, 'r'), QF_F_(fineweb_max_dup_line_chars, 'r'), QF_F_(fineweb_max_short_lines, 'r'),
    QF_F_(fineweb_short_line_chars, 'i'), QF_F_(ja_min_chars, 'l'), QF_F_(ja_min_hiragana, 'r'),
    QF_F_(ja_max_katakana, 'r'), QF_F_(ja_min_japanese, 'r'), QF_F_(ja_min_sentence_len, 'd'),
    QF_F_(ja_max_sentence_len, 'd'), QF_F_(ja_ngram, 'i'), QF_F_(ja_max_top_ngram, 'r'), QF_F_(ja_max_dup_lines, 'r'),
};
#undef QF_F_
#undef QF_A_

int qf_config_set(qf_config_t *c, const char *name, double v, err_t *e) {
    for (size_t i = 0; i < sizeof qf_fields / sizeof *qf_fields; i++) {
        const qf_field_t *f = &qf_fields[i];
        if (strcmp(f->name, name) != 0) continue;
        char *p = (char *)c + f->off;
        if (f->type == 'r' && !(v >= 0 && v <= 1)) return err_set(e, "%s is a ratio: give a value in [0, 1], not %g", name, v);
        if (f->type == 'd' && !(v >= 0 && v < 1e15)) return err_set(e, "%s: give a value >= 0, not %g", name, v);
        if ((f->type == 'l' || f->type == 'i') && !(v >= 0 && v <= (f->type == 'i' ? 1e9 : 1e15) && v == (double)(long)v))
            return err_set(e, "%s is a count: give a whole number >= 0, not %g", name, v);
        if (f->type == 'l') *(long *)p = (long)v;
        else if (f->type == 'i') *(int *)p = (int)v;
        else *(double *)p = v;
        return 0;
    }
    return err_set(e, "no filter threshold called '%s' (the names are the fields of qf_config_t in src/data/filters.h, "
                      "e.g. gopher_min_words, ja_min_chars)", name);
}

int qf_config_switch(qf_config_t *c, const char *pattern, int on, err_t *e) {
    size_t n = strlen(pattern);
    int hits = 0;
    for (int r = QF_OUT_OF_MEMORY + 1; r < QF_NUM_RULES; r++) {
        const char *name = qf_rule_name((qf_rule_t)r);
        if (strcmp(pattern, "all") == 0 || strcmp(pattern, name) == 0 ||
            (strncmp(pattern, name, n) == 0 && name[n] == '_')) {
            c->enabled[r] = on;
            hits++;
        }
    }
    return hits ? 0 : err_set(e, "no quality rule matches '%s' (give a rule name such as c4_curly_brace, a family: "
                                 "gopher, c4, fineweb, ja, or all)", pattern);
}

const char *qf_rule_name(qf_rule_t r) {
#define QF_NAME_(e, s) s,
    static const char *const names[] = {QF_RULES(QF_NAME_)};
#undef QF_NAME_
    if ((int)r < 0 || r >= QF_NUM_RULES) return "unknown";
    return names[r];
}

// ---------------------------------------------------------------------------------------------
// UTF-8 and character classes


static int is_space(uint32_t cp) {
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xA0 || cp == 0x3000 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029;
}

static int is_alpha(uint32_t cp) {
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7 || cp == 0xFFFD) return 0;
    if (cp >= 0x2000 && cp <= 0x2BFF) return 0;  // punctuation, symbols, arrows, math, boxes
    if (cp >= 0x3000 && cp <= 0x303F) return 0;  // CJK punctuation
    if (cp >= 0xFF00 && cp <= 0xFF0F) return 0;  // fullwidth punctuation
    return 1;
}

static int is_hiragana(uint32_t cp) { return cp >= 0x3041 && cp <= 0x309F; }
static int is_katakana(uint32_t cp) {
    return (cp >= 0x30A0 && cp <= 0x30FF) || (cp >= 0x31F0 && cp <= 0x31FF) || (cp >= 0xFF66 && cp <= 0xFF9F);
}
static int is_kanji(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0x20000 && cp <= 0x2FA1F) || cp == 0x3005;  // 々
}

static size_t count_chars(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; n++) utf8_next((const unsigned char *)s, len, &i);
    return n;
}

static int ascii_space(char ch) { return ch == ' ' || (ch >= '\t' && ch <= '\r'); }

// The next line of text at *pos: [*b, *e) with ASCII whitespace stripped.  Returns 0 at the end.
static int next_line(const char *t, size_t len, size_t *pos, size_t *b, size_t *e) {
    if (*pos >= len) return 0;
    size_t s = *pos, end = s;
    while (end < len && t[end] != '\n') end++;
    *pos = end + 1;
    while (s < end && ascii_space(t[s])) s++;
    while (end > s && ascii_space(t[end - 1])) end--;
    *b = s, *e = end;
    return 1;
}

static int starts_with(const char *s, size_t n, const char *p) {
    size_t k = strlen(p);
    return n >= k && memcmp(s, p, k) == 0;
}
static int ends_with(const char *s, size_t n, const char *p) {
    size_t k = strlen(p);
    return n >= k && memcmp(s + n - k, p, k) == 0;
}
static int lower(int ch) { return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch; }
// Case-insensitive (ASCII) substring search; needle is lower case with at least one letter.
// Candidates are found with memchr (vectorised in glibc) for the needle's rarest letter in
// either case, so most of a line is skipped at memchr speed.
static int ci_contains(const char *h, size_t n, const char *needle) {
    static const char rare_first[] = "zqxjkvbpygfwmucldrhsnioate";  // English letters, rarest first
    size_t k = strlen(needle), a = 0;
    if (k == 0 || k > n) return 0;
    for (const char *r = rare_first; *r; r++) {
        const char *q = strchr(needle, *r);
        if (q) {
            a = (size_t)(q - needle);
            break;
        }
    }
    int lo = needle[a], up = lo >= 'a' && lo <= 'z' ? lo - 32 : lo;
    const char *first = h + a, *end = h + n - k + 1 + a;  // where the anchor of a match can be
    const char *pl = memchr(first, lo, (size_t)(end - first)), *pu = up != lo ? memchr(first, up, (size_t)(end - first)) : NULL;
    while (pl || pu) {
        const char *p = !pu || (pl && pl < pu) ? pl : pu, *m = p - a;
        size_t j = 0;
        while (j < k && lower((unsigned char)m[j]) == needle[j]) j++;
        if (j == k) return 1;
        if (p == pl) pl = memchr(p + 1, lo, (size_t)(end - p - 1));
        else pu = memchr(p + 1, up, (size_t)(end - p - 1));
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// A counting hash set of 64-bit keys (0 is reserved for "empty").  Keys are hashes, so two
// different n-grams colliding in 64 bits would be counted as one: probability ~n^2 / 2^64.

typedef struct {
    uint64_t key;
    uint32_t count;
} hslot_t;

typedef struct {
    hslot_t *e;  // key and count side by side: one cache miss per probe
    size_t mask;
} htab_t;

static int htab_init(htab_t *h, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    h->e = calloc(cap, sizeof *h->e);
    h->mask = cap - 1;
    return h->e ? 0 : -1;
}
static void htab_free(htab_t *h) { free(h->e); }
static void htab_clear(htab_t *h) { memset(h->e, 0, (h->mask + 1) * sizeof *h->e); }
static uint32_t *htab_slot(htab_t *h, uint64_t k) {
    if (!k) k = 1;
    size_t i = (size_t)(k ^ k >> 29) & h->mask;
    while (h->e[i].key && h->e[i].key != k) i = (i + 1) & h->mask;
    h->e[i].key = k;
    return &h->e[i].count;
}
// Adds one occurrence and returns the count so far.
static uint32_t htab_add(htab_t *h, uint64_t k) { return ++*htab_slot(h, k); }

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30, x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27, x *= 0x94d049bb133111ebULL;
    return x ^ x >> 31;
}
static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return mix64(h);
}

// ---------------------------------------------------------------------------------------------
// Line statistics shared by Gopher, FineWeb and the Japanese duplicate-line rule

typedef struct {
    size_t lines, dup_lines;  // non-empty lines; those equal to an earlier line
    size_t dup_chars;         // characters in the duplicate lines
} line_dups_t;

static int line_dups(const char *t, size_t len, line_dups_t *d) {
    memset(d, 0, sizeof *d);
    size_t pos = 0, b, e, n = 0;
    while (next_line(t, len, &pos, &b, &e)) n += e > b;
    htab_t h;
    if (htab_init(&h, n) != 0) return htab_free(&h), -1;
    for (pos = 0; next_line(t, len, &pos, &b, &e);) {
        if (e == b) continue;
        d->lines++;
        if (htab_add(&h, fnv1a(t + b, e - b)) > 1) d->dup_lines++, d->dup_chars += count_chars(t + b, e - b);
    }
    htab_free(&h);
    return 0;
}

static double ratio(double a, double b) { return b > 0 ? a / b : 0; }
static double fmin1(double x) { return x < 1 ? x : 1; }

#define DROP_ABOVE(rule, v, lim)                                                     \
    do {                                                                             \
        double v_ = (v), l_ = (lim);                                                 \
        if (c->enabled[rule] && v_ > l_) return (qf_result_t){(rule), v_, l_};       \
    } while (0)
#define DROP_BELOW(rule, v, lim)                                                     \
    do {                                                                             \
        double v_ = (v), l_ = (lim);                                                 \
        if (c->enabled[rule] && v_ < l_) return (qf_result_t){(rule), v_, l_};       \
    } while (0)

static const qf_result_t KEEP = {QF_KEEP, 0, 0};
static const qf_result_t OOM = {QF_OUT_OF_MEMORY, 0, 0};

// ---------------------------------------------------------------------------------------------
// English

static const char *const STOP_WORDS[8] = {"the", "be", "to", "of", "and", "that", "have", "with"};

// Bit of the stop word w[0..n) is (punctuation stripped, case-folded), or 0.
static unsigned stop_word_bit(const char *w, size_t n) {
    while (n && ((unsigned char)*w < 0x80) && !is_alpha((unsigned char)*w)) w++, n--;
    while (n && ((unsigned char)w[n - 1] < 0x80) && !is_alpha((unsigned char)w[n - 1])) n--;
    if (n == 0 || n > 4) return 0;
    char low[5];
    for (size_t i = 0; i < n; i++) low[i] = (char)lower((unsigned char)w[i]);
    for (int k = 0; k < 8; k++)
        if (strlen(STOP_WORDS[k]) == n && memcmp(low, STOP_WORDS[k], n) == 0) return 1u << k;
    return 0;
}

// Word boundaries: calls are made once per word with its byte span and character count.
typedef struct {
    size_t b, e, chars;
    int alpha;
} word_t;

static int ascii_space(char ch);

static int next_word(const char *t, size_t len, size_t *pos, word_t *w) {
    const unsigned char *s = (const unsigned char *)t;
    size_t i = *pos;
    for (;;) {  // skip whitespace; ASCII without decoding
        if (i >= len) return *pos = i, 0;
        if (s[i] < 0x80) {
            if (!ascii_space((char)s[i])) break;
            i++;
            continue;
        }
        size_t j = i;
        if (!is_space(utf8_next(s, len, &j))) break;
        i = j;
    }
    w->b = i, w->chars = 0, w->alpha = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            if (ascii_space((char)s[i])) break;
            w->chars++, w->alpha |= (unsigned)((s[i] | 0x20) - 'a') < 26, i++;
            continue;
        }
        size_t j = i;
        uint32_t cp = utf8_next(s, len, &j);
        if (is_space(cp)) break;
        w->chars++, w->alpha |= is_alpha(cp), i = j;
    }
    w->e = i, *pos = i;
    return 1;
}

// Non-overlapping occurrences of p in t[0..len) (memmem finds each; it is vectorised).
static size_t count_sub(const char *t, size_t len, const char *p) {
    size_t k = strlen(p), n = 0;
    for (const char *q = t, *end = t + len; q < end && (q = memmem(q, (size_t)(end - q), p, k)); q += k) n++;
    return n;
}

static int is_bullet_line(const char *s, size_t n) {
    static const char *const bullets[] = {"\xE2\x80\xA2", "-", "*", "\xE2\x80\xA3", "\xE2\x97\xA6", "\xE2\x81\x83",
                                          "\xE2\x97\x8F", "\xC2\xB7"};  // • - * ‣ ◦ ⁃ ● ·
    for (size_t k = 0; k < sizeof bullets / sizeof *bullets; k++)
        if (starts_with(s, n, bullets[k])) return 1;
    return 0;
}
static int is_ellipsis_line(const char *s, size_t n) {
    return ends_with(s, n, "...") || ends_with(s, n, "\xE2\x80\xA6");  // … U+2026
}

// C4: a line ends in a terminal punctuation mark (. ? ! or a closing quote) and not in "...".
static int c4_terminal(const char *s, size_t n) {
    if (n == 0 || ends_with(s, n, "...")) return 0;
    char last = s[n - 1];
    return last == '.' || last == '?' || last == '!' || last == '"' || last == '\'' ||
           ends_with(s, n, "\xE2\x80\x9D");  // ” U+201D
}

static const char *const POLICY[] = {"terms of use", "privacy policy", "cookie policy",
                                     "uses cookies", "use of cookies", "use cookies"};

static int c4_keep_line(const qf_config_t *c, const char *s, size_t n) {
    if (n == 0) return 0;
    if (c->enabled[QF_C4_LINE_PUNCT] && !c4_terminal(s, n)) return 0;
    if (c->enabled[QF_C4_LINE_WORDS]) {
        size_t pos = 0, nw = 0;
        word_t w;
        while (nw < (size_t)c->c4_min_words_per_line && next_word(s, n, &pos, &w)) nw++;
        if (nw < (size_t)c->c4_min_words_per_line) return 0;
    }
    if (c->enabled[QF_C4_LINE_JAVASCRIPT] && ci_contains(s, n, "javascript")) return 0;
    if (c->enabled[QF_C4_LINE_POLICY])
        for (size_t k = 0; k < sizeof POLICY / sizeof *POLICY; k++)
            if (ci_contains(s, n, POLICY[k])) return 0;
    return 1;
}

// Sentences in a line: runs of . ! ? that end the line or are followed by whitespace.  A
// stand-in for the NLTK Punkt tokenizer C4 used ("Dr. Smith" counts two here).
static size_t count_sentences(const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int mark = s[i] == '.' || s[i] == '!' || s[i] == '?';
        if (!mark) continue;
        size_t j = i;
        while (j + 1 < n && (s[j + 1] == '.' || s[j + 1] == '!' || s[j + 1] == '?' || s[j + 1] == '"' || s[j + 1] == '\''))
            j++;
        if (j + 1 == n || ascii_space(s[j + 1])) k++;
        i = j;
    }
    return k;
}

size_t qf_c4_lines(const qf_config_t *c, const char *text, size_t len, char *out) {
    size_t pos = 0, b, e, o = 0;
    while (next_line(text, len, &pos, &b, &e)) {
        if (!c4_keep_line(c, text + b, e - b)) continue;
        if (o) out[o++] = '\n';
        memcpy(out + o, text + b, e - b);
        o += e - b;
    }
    return o;
}

// FineWeb's terminal punctuation (a subset of datatrove's TERMINAL_PUNCTUATION list).
static int fineweb_terminal(const char *s, size_t n) {
    static const char *const marks[] = {".", "!", "?", "\"", "'", ":", ";", ")",
                                        "\xE2\x80\x9D", "\xE2\x80\x99", "\xE2\x80\xA6",  // ” ’ …
                                        "\xE3\x80\x82", "\xEF\xBC\x81", "\xEF\xBC\x9F"}; // 。！？
    for (size_t k = 0; k < sizeof marks / sizeof *marks; k++)
        if (ends_with(s, n, marks[k])) return 1;
    return 0;
}

// Gopher repetition over words: top n-gram (n = 2..4) and duplicate n-gram (n = 5..10)
// character fractions, where characters are those of the words (whitespace excluded), as in
// the Gopher paper's definition.  A top n-gram occurring once is not repetition: value 0.
static qf_result_t gopher_ngrams(const qf_config_t *c, const char *t, size_t len, size_t nw, size_t word_chars) {
    int want_top = c->enabled[QF_GOPHER_TOP_NGRAM], want_dup = c->enabled[QF_GOPHER_DUP_NGRAM];
    if ((!want_top && !want_dup) || nw < 2 || word_chars == 0) return KEEP;
    qf_result_t r = KEEP;
    uint64_t *wh = malloc(nw * sizeof *wh);
    uint32_t *wc = malloc(nw * sizeof *wc);
    unsigned char *mark = malloc(nw);
    uint64_t *g = malloc(nw * sizeof *g);
    uint32_t **slot = malloc(nw * sizeof *slot);
    htab_t h;
    int ok = htab_init(&h, nw) == 0 && wh && wc && mark && g && slot;
    if (!ok) { r = OOM; goto done; }
    size_t pos = 0, i = 0;
    word_t w;
    while (i < nw && next_word(t, len, &pos, &w)) wh[i] = fnv1a(t + w.b, w.e - w.b), wc[i] = (uint32_t)w.chars, i++;

    // g[i] is the hash of the n-gram starting at word i, x = mix64(x * 31 + word hash) folded
    // over its words, grown by one word per n: one mix per word and n.
    for (i = 0; i < nw; i++) g[i] = 0x9e3779b97f4a7c15ULL;
    for (int n = 1; n <= 10; n++) {
        if (nw < (size_t)n) break;
        size_t m = nw - (size_t)n + 1;  // n-grams
        for (i = 0; i < m; i++) g[i] = mix64(g[i] * 31 + wh[i + n - 1]);
        if (n >= 2 && n <= 4 && want_top) {
            htab_clear(&h);
            uint32_t best = 0;
            size_t best_chars = 0;
            for (i = 0; i < m; i++) {
                size_t ch = 0;
                for (int j = 0; j < n; j++) ch += wc[i + j];
                uint32_t k = htab_add(&h, g[i]);
                if (k > best || (k == best && ch > best_chars)) best = k, best_chars = ch;
            }
            double v = best >= 2 ? fmin1((double)best * best_chars / word_chars) : 0;
            if (v > c->gopher_max_top_ngram[n - 2]) { r = (qf_result_t){QF_GOPHER_TOP_NGRAM, v, c->gopher_max_top_ngram[n - 2]}; goto done; }
        }
        if (n >= 5 && want_dup) {
            htab_clear(&h);
            for (i = 0; i < m; i++) slot[i] = htab_slot(&h, g[i]), ++*slot[i];
            memset(mark, 0, nw);
            for (i = 0; i < m; i++)
                if (*slot[i] >= 2) memset(mark + i, 1, (size_t)n);
            size_t dup = 0;
            for (i = 0; i < nw; i++) dup += mark[i] ? wc[i] : 0;
            double v = (double)dup / word_chars;
            if (v > c->gopher_max_dup_ngram[n - 5]) { r = (qf_result_t){QF_GOPHER_DUP_NGRAM, v, c->gopher_max_dup_ngram[n - 5]}; goto done; }
            // Words under a repeated (n+1)-gram are under its repeated n-gram prefix, so the
            // fraction cannot grow with n: below every larger n's limit, the rest pass too.
            double rest = 1;
            for (int q = n + 1; q <= 10; q++) rest = c->gopher_max_dup_ngram[q - 5] < rest ? c->gopher_max_dup_ngram[q - 5] : rest;
            if (v <= rest) break;
        }
    }
done:
    htab_free(&h);
    free(wh), free(wc), free(mark), free(g), free(slot);
    return r;
}

qf_result_t qf_check_en(const qf_config_t *c, const char *text, size_t len) {
    if (!text) len = 0;
    // Words
    size_t nw = 0, word_chars = 0, alpha_words = 0, pos = 0;
    unsigned stops = 0;
    word_t w;
    while (next_word(text, len, &pos, &w)) {
        nw++, word_chars += w.chars, alpha_words += (size_t)w.alpha;
        stops |= stop_word_bit(text + w.b, w.e - w.b);
    }
    if (c->enabled[QF_GOPHER_WORD_COUNT] && (nw < (size_t)c->gopher_min_words || nw > (size_t)c->gopher_max_words))
        return (qf_result_t){QF_GOPHER_WORD_COUNT, (double)nw,
                             (double)(nw < (size_t)c->gopher_min_words ? c->gopher_min_words : c->gopher_max_words)};
    double mwl = ratio((double)word_chars, (double)nw);
    DROP_BELOW(QF_GOPHER_MEAN_WORD_LEN, mwl, c->gopher_min_mean_word_len);
    DROP_ABOVE(QF_GOPHER_MEAN_WORD_LEN, mwl, c->gopher_max_mean_word_len);
    double hash_ratio = ratio((double)count_sub(text, len, "#"), (double)nw);
    double ell_ratio = ratio((double)(count_sub(text, len, "...") + count_sub(text, len, "\xE2\x80\xA6")), (double)nw);
    DROP_ABOVE(QF_GOPHER_SYMBOL_RATIO, hash_ratio > ell_ratio ? hash_ratio : ell_ratio, c->gopher_max_symbol_ratio);
    // Lines
    size_t lines = 0, bullets = 0, ellipses = 0, lp = 0, short_lines = 0, b, e, newlines = 0;
    for (pos = 0; next_line(text, len, &pos, &b, &e);) {
        if (e == b) continue;
        lines++;
        bullets += (size_t)is_bullet_line(text + b, e - b);
        ellipses += (size_t)is_ellipsis_line(text + b, e - b);
        lp += (size_t)fineweb_terminal(text + b, e - b);
        short_lines += count_chars(text + b, e - b) < (size_t)c->fineweb_short_line_chars;
    }
    DROP_ABOVE(QF_GOPHER_BULLET_LINES, ratio((double)bullets, (double)lines), c->gopher_max_bullet_lines);
    DROP_ABOVE(QF_GOPHER_ELLIPSIS_LINES, ratio((double)ellipses, (double)lines), c->gopher_max_ellipsis_lines);
    DROP_BELOW(QF_GOPHER_ALPHA_WORDS, ratio((double)alpha_words, (double)nw), c->gopher_min_alpha_words);
    int nstops = __builtin_popcount(stops);
    DROP_BELOW(QF_GOPHER_STOP_WORDS, (double)nstops, (double)c->gopher_min_stop_words);
    // Gopher repetition
    line_dups_t d;
    if (line_dups(text, len, &d) != 0) return OOM;
    size_t chars = count_chars(text, len);
    for (size_t i = 0; i < len; i++) newlines += text[i] == '\n';
    DROP_ABOVE(QF_GOPHER_DUP_LINES, ratio((double)d.dup_lines, (double)d.lines), c->gopher_max_dup_lines);
    DROP_ABOVE(QF_GOPHER_DUP_LINE_CHARS, ratio((double)d.dup_chars, (double)chars), c->gopher_max_dup_line_chars);
    qf_result_t r = gopher_ngrams(c, text, len, nw, word_chars);
    if (r.rule != QF_KEEP) return r;
    // C4 document rules
    DROP_ABOVE(QF_C4_LOREM_IPSUM, ci_contains(text, len, "lorem ipsum"), 0);
    DROP_ABOVE(QF_C4_CURLY_BRACE, len && memchr(text, '{', len) != NULL, 0);
    if (c->enabled[QF_C4_MIN_SENTENCES]) {
        size_t sentences = 0;
        for (pos = 0; next_line(text, len, &pos, &b, &e);)
            if (c4_keep_line(c, text + b, e - b)) sentences += count_sentences(text + b, e - b);
        DROP_BELOW(QF_C4_MIN_SENTENCES, (double)sentences, (double)c->c4_min_sentences);
    }
    // FineWeb (duplicate characters over the text without its newlines, as datatrove does)
    DROP_BELOW(QF_FINEWEB_LINE_PUNCT, ratio((double)lp, (double)lines), c->fineweb_min_line_punct);
    DROP_ABOVE(QF_FINEWEB_DUP_LINE_CHARS, ratio((double)d.dup_chars, (double)(chars - newlines)), c->fineweb_max_dup_line_chars);
    DROP_ABOVE(QF_FINEWEB_SHORT_LINES, ratio((double)short_lines, (double)lines), c->fineweb_max_short_lines);
    return KEEP;
}

// ---------------------------------------------------------------------------------------------
// Japanese

static int is_ja_stop(uint32_t cp) { return cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F || cp == '\n'; }  // 。！？ \n

qf_result_t qf_check_ja(const qf_config_t *c, const char *text, size_t len) {
    if (!text) len = 0;
    const unsigned char *s = (const unsigned char *)text;
    size_t nsp = 0, hira = 0, kata = 0, kanji = 0, sent_chars = 0, sentences = 0, in_sentence = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp = utf8_next(s, len, &i);
        if (is_ja_stop(cp)) {
            sentences += in_sentence, in_sentence = 0;
            if (cp != '\n') nsp++;
            continue;
        }
        if (is_space(cp)) continue;
        nsp++, sent_chars++, in_sentence = 1;
        hira += (size_t)is_hiragana(cp), kata += (size_t)is_katakana(cp), kanji += (size_t)is_kanji(cp);
    }
    sentences += in_sentence;
    DROP_BELOW(QF_JA_MIN_CHARS, (double)nsp, (double)c->ja_min_chars);
    DROP_BELOW(QF_JA_HIRAGANA, ratio((double)hira, (double)nsp), c->ja_min_hiragana);
    DROP_ABOVE(QF_JA_KATAKANA, ratio((double)kata, (double)nsp), c->ja_max_katakana);
    DROP_BELOW(QF_JA_JAPANESE, ratio((double)(hira + kata + kanji), (double)nsp), c->ja_min_japanese);
    double msl = ratio((double)sent_chars, (double)sentences);
    DROP_BELOW(QF_JA_SENTENCE_LEN, msl, c->ja_min_sentence_len);
    DROP_ABOVE(QF_JA_SENTENCE_LEN, msl, c->ja_max_sentence_len);
    // Top character n-gram over the non-space characters: count * n / characters.
    int n = c->ja_ngram;
    if (c->enabled[QF_JA_TOP_NGRAM] && n >= 1 && nsp >= (size_t)n) {
        uint64_t *cps = malloc(nsp * sizeof *cps);
        htab_t h;
        if (htab_init(&h, nsp) != 0 || !cps) return htab_free(&h), free(cps), OOM;
        size_t k = 0;
        for (size_t i = 0; i < len;) {
            uint32_t cp = utf8_next(s, len, &i);
            if (!is_space(cp)) cps[k++] = cp + 1;
        }
        // A rolling polynomial hash of each n-gram (odd 64-bit base, mod 2^64), then mixed:
        // O(1) per character whatever n.
        const uint64_t base = 0x9e3779b97f4a7c15ULL;
        uint64_t pw = 1, x = 0;  // pw = base^(n-1)
        for (int j = 0; j < n; j++) x = x * base + cps[j], pw = j ? pw * base : 1;
        uint32_t best = 0;
        for (size_t i = 0;; i++) {
            uint32_t m = htab_add(&h, mix64(x));
            if (m > best) best = m;
            if (i + n >= k) break;
            x = (x - cps[i] * pw) * base + cps[i + n];
        }
        htab_free(&h), free(cps);
        DROP_ABOVE(QF_JA_TOP_NGRAM, best >= 2 ? fmin1((double)best * n / (double)nsp) : 0, c->ja_max_top_ngram);
    }
    if (c->enabled[QF_JA_DUP_LINES]) {
        line_dups_t d;
        if (line_dups(text, len, &d) != 0) return OOM;
        DROP_ABOVE(QF_JA_DUP_LINES, ratio((double)d.dup_lines, (double)d.lines), c->ja_max_dup_lines);
    }
    return KEEP;
}
