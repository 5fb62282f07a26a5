// filters: heuristic quality filters over one UTF-8 document (English and Japanese).
//
//     qf_config_t c;
//     qf_config_default(&c);                      // published thresholds, every rule on
//     c.enabled[QF_C4_CURLY_BRACE] = 0;           // keep code-ish pages
//     qf_result_t r = qf_check_en(&c, text, len); // or qf_check_ja
//     if (r.rule != QF_KEEP)
//         printf("drop: %s = %g (limit %g)\n", qf_rule_name(r.rule), r.value, r.limit);
//
//     char *out = malloc(len ? len : 1);          // the C4 line pass: kept lines joined by "\n"
//     size_t n = qf_c4_lines(&c, text, len, out);
//
// Every function is pure: it reads the config and the text only, keeps no state, and frees any
// scratch memory it takes before returning, so threads may share one config.  The only
// allocation is the n-gram table of the repetition rules (about 16 bytes a word / character);
// if that fails the verdict is QF_OUT_OF_MEMORY, never a silent keep.
//
// Definitions (shared by all rules; "characters" are Unicode code points, UTF-8 decoded by
// hand; an invalid byte counts as one character):
//   line   a run of text between '\n's, with surrounding whitespace stripped; empty lines are
//          ignored by every line ratio.
//   word   (English) a maximal run of non-whitespace (ASCII space, \t \n \r \v \f, U+00A0,
//          U+3000).  Punctuation stays attached to its word ("end." is one word of 4 chars);
//          the stop-word test strips leading/trailing ASCII punctuation and lower-cases.
//   alphabetic  an ASCII letter or any non-ASCII letter-ish code point (>= U+00C0 outside
//          the general-punctuation, symbol and CJK-punctuation blocks).
// Rules are checked in the order of qf_rule_t and the first failing one is reported.
//
// Simplifications against the reference implementations (datatrove, TFDS c4_utils, dolma):
//   - Words are whitespace runs, not a tokenizer's words; punctuation-only tokens count.
//   - Gopher: the 8 stop words are counted distinct; paragraph-level duplicate rules are left
//     out; n-gram fractions are over word characters (no spaces), a top n-gram seen once
//     scores 0, duplicate n-gram characters are those of words covered by any n-gram seen
//     twice or more (each word once); n-grams are compared by 64-bit hash.
//   - C4: sentences are counted as runs of . ! ? followed by space or line end (C4 used NLTK
//     Punkt); no bad-words list, no citation-marker removal, no 1000-character word rule.
//   - FineWeb: terminal punctuation is a short list (. ! ? " ' : ; ) ” ’ … 。！？), not
//     datatrove's full Unicode set; the newline-ratio rule is left out.
//   - Japanese: sentences split on 。！？ and on newlines; their length counts non-space
//     characters other than the delimiters.
#ifndef MANABI_DATA_FILTERS_H
#define MANABI_DATA_FILTERS_H

#include <stddef.h>

#include "core/err.h"

// X(enum, name): one entry per rule.  Line rules of the C4 pass (QF_C4_LINE_*) are switches
// for qf_c4_lines (and the sentence count of QF_C4_MIN_SENTENCES); a document verdict never
// names them.
#define QF_RULES(X)                                                 \
    X(QF_KEEP, "keep")                                              \
    X(QF_OUT_OF_MEMORY, "out_of_memory")                            \
    X(QF_GOPHER_WORD_COUNT, "gopher_word_count")                    \
    X(QF_GOPHER_MEAN_WORD_LEN, "gopher_mean_word_length")           \
    X(QF_GOPHER_SYMBOL_RATIO, "gopher_symbol_to_word_ratio")        \
    X(QF_GOPHER_BULLET_LINES, "gopher_bullet_lines")                \
    X(QF_GOPHER_ELLIPSIS_LINES, "gopher_ellipsis_lines")            \
    X(QF_GOPHER_ALPHA_WORDS, "gopher_alphabetic_words")             \
    X(QF_GOPHER_STOP_WORDS, "gopher_stop_words")                    \
    X(QF_GOPHER_DUP_LINES, "gopher_duplicate_lines")                \
    X(QF_GOPHER_DUP_LINE_CHARS, "gopher_duplicate_line_chars")      \
    X(QF_GOPHER_TOP_NGRAM, "gopher_top_ngram_chars")                \
    X(QF_GOPHER_DUP_NGRAM, "gopher_duplicate_ngram_chars")          \
    X(QF_C4_LINE_PUNCT, "c4_line_terminal_punctuation")             \
    X(QF_C4_LINE_WORDS, "c4_line_min_words")                        \
    X(QF_C4_LINE_JAVASCRIPT, "c4_line_javascript")                  \
    X(QF_C4_LINE_POLICY, "c4_line_policy")                          \
    X(QF_C4_LOREM_IPSUM, "c4_lorem_ipsum")                          \
    X(QF_C4_CURLY_BRACE, "c4_curly_brace")                          \
    X(QF_C4_MIN_SENTENCES, "c4_min_sentences")                      \
    X(QF_FINEWEB_LINE_PUNCT, "fineweb_line_punctuation")            \
    X(QF_FINEWEB_DUP_LINE_CHARS, "fineweb_duplicate_line_chars")    \
    X(QF_FINEWEB_SHORT_LINES, "fineweb_short_lines")                \
    X(QF_JA_MIN_CHARS, "ja_min_chars")                              \
    X(QF_JA_HIRAGANA, "ja_hiragana_fraction")                       \
    X(QF_JA_KATAKANA, "ja_katakana_fraction")                       \
    X(QF_JA_JAPANESE, "ja_japanese_fraction")                       \
    X(QF_JA_SENTENCE_LEN, "ja_mean_sentence_length")                \
    X(QF_JA_TOP_NGRAM, "ja_top_char_ngram")                         \
    X(QF_JA_DUP_LINES, "ja_duplicate_lines")

#define QF_ENUM_(e, s) e,
typedef enum qf_rule { QF_RULES(QF_ENUM_) QF_NUM_RULES } qf_rule_t;
#undef QF_ENUM_

// Thresholds.  Ratios are in [0, 1]; "max" rules drop a document whose value is strictly above
// the limit, "min" rules one strictly below it.  Sources are in qf_config_default (filters.c).
typedef struct qf_config {
    int enabled[QF_NUM_RULES];  // indexed by qf_rule_t; 0 switches the rule off

    // Gopher quality (Rae et al. 2021, "Scaling Language Models", App. A.1.1, MassiveText)
    long gopher_min_words, gopher_max_words;            // 50, 100000
    double gopher_min_mean_word_len, gopher_max_mean_word_len;  // 3, 10 characters
    double gopher_max_symbol_ratio;                     // 0.1 ('#' and ellipsis, each per word)
    double gopher_max_bullet_lines;                     // 0.9
    double gopher_max_ellipsis_lines;                   // 0.3
    double gopher_min_alpha_words;                      // 0.8
    int gopher_min_stop_words;                          // 2 distinct of the 8
    // Gopher repetition (same source, Table A1)
    double gopher_max_dup_lines;                        // 0.30
    double gopher_max_dup_line_chars;                   // 0.20
    double gopher_max_top_ngram[3];                     // n = 2, 3, 4: 0.20, 0.18, 0.16
    double gopher_max_dup_ngram[6];                     // n = 5..10: 0.15 .. 0.10
    // C4 (Raffel et al. 2020, Sec. 2.2; defaults as datatrove's C4QualityFilter)
    int c4_min_words_per_line;                          // 3
    int c4_min_sentences;                               // 5
    // FineWeb (Penedo et al. 2024, Sec. 3.6 custom filters)
    double fineweb_min_line_punct;                      // 0.12
    double fineweb_max_dup_line_chars;                  // 0.1
    double fineweb_max_short_lines;                     // 0.67
    int fineweb_short_line_chars;                       // 30: a line of < 30 characters is short
    // Japanese (character based; see qf_config_default)
    long ja_min_chars;                                  // 400 non-space characters
    double ja_min_hiragana, ja_max_katakana, ja_min_japanese;  // 0.2, 0.5, 0.5
    double ja_min_sentence_len, ja_max_sentence_len;    // 10, 250 characters
    int ja_ngram;                                       // 10
    double ja_max_top_ngram;                            // 0.2
    double ja_max_dup_lines;                            // 0.3
} qf_config_t;

// The verdict: rule == QF_KEEP (value and limit 0) or the first rule that failed, the value
// it measured and the threshold it broke.
typedef struct qf_result {
    qf_rule_t rule;
    double value, limit;
} qf_result_t;

// Fills c with the published defaults and switches every rule on.
void qf_config_default(qf_config_t *c);
// A static snake_case name ("gopher_stop_words"); "unknown" for an out-of-range value.
const char *qf_rule_name(qf_rule_t r);

// Sets the threshold field called `name` (its name in qf_config_t, e.g. "gopher_min_words",
// "ja_min_hiragana"; the arrays as "gopher_max_top_ngram_2" .. _4 and "gopher_max_dup_ngram_5"
// .. _10) to value.  -1 with e naming the field when there is no such field or the value does
// not fit it (a ratio outside [0, 1], a count below 0 or not whole).
int qf_config_set(qf_config_t *c, const char *name, double value, err_t *e);
// Switches rules on or off by name: a rule name ("c4_curly_brace"), a family prefix ("gopher",
// "c4", "fineweb", "ja") or "all".  -1 with e naming `pattern` when it matches no rule.
int qf_config_switch(qf_config_t *c, const char *pattern, int on, err_t *e);

// English: Gopher quality, Gopher repetition, C4 document rules, FineWeb, in that order.
// text may be NULL when len == 0.  Thread-safe; allocates only scratch it frees.
qf_result_t qf_check_en(const qf_config_t *c, const char *text, size_t len);
// Japanese: length, script fractions, mean sentence length, character n-gram and line
// repetition, in that order.
qf_result_t qf_check_ja(const qf_config_t *c, const char *text, size_t len);

// The C4 line pass: keeps the stripped lines that pass every enabled QF_C4_LINE_* rule, joined
// with '\n' (no trailing newline), into out, which must have room for len bytes (the result
// is never longer than the input).  Returns the kept length; out is not NUL-terminated.
// out must not overlap text.  Allocates nothing.
size_t qf_c4_lines(const qf_config_t *c, const char *text, size_t len, char *out);

#endif
