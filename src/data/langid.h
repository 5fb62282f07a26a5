// langid: language and script identification of one UTF-8 document, to route it to the English
// or Japanese rules (or drop it).
//
//     li_t *m; err_t e = {0};
//     if (li_init(&m, &e) != 0) { fprintf(stderr, "manabi: %s\n", e.msg); return -1; }
//     li_result_t r = li_identify(m, text, len);     // any thread, concurrently
//     if (strcmp(r.lang, "ja") == 0 && r.score >= 0.5) use_ja_rules(text, len);
//     li_free(m);
//
// Contract.  li_init builds the model (a hash table of function words, about 120 KB) and li_free
// releases it; li_free(NULL) is safe.  After li_init the model is read-only: any number of threads
// may call li_identify on it at once.  li_identify allocates nothing, never fails, and reads
// only text[0..len) (no NUL needed; text may be NULL when len == 0).  Invalid UTF-8 bytes are
// skipped, one at a time.
//
// How it decides.
//  1. Script counts over the whole text: every letter code point is put in one script (Latin,
//     Cyrillic, Greek, ..., Hiragana, Katakana, Han, Hangul; digits, punctuation, symbols and
//     spaces count nowhere).  A CJK code point (kana, Han, Hangul) weighs LI_CJK_WEIGHT = 2
//     letters: it carries about what two Latin letters do (a kana romanises to two), so a
//     Japanese paragraph and its romanisation weigh about the same.  Shares below are of
//     weighted letters.
//  2. Fewer than LI_MIN_LETTERS (10) weighted letters: "und", score 0 (numbers, symbols, "ok").
//  3. The non-Latin script with the largest share (kana + Han + Hangul counted together as CJK)
//     decides when its share is >= LI_SCRIPT_MIN_SHARE (0.25) or above Latin's: even when Latin
//     letters outnumber it, because the ASCII in Japanese, Chinese or Russian pages is mostly
//     commands, code, addresses and names.  Otherwise Latin decides (step 5).  For CJK, over
//     the CJK code points:
//       Hangul >= LI_KO_MIN_HANGUL (0.3) of them and more Hangul than kana  -> "ko";
//       kana >= LI_JA_MIN_KANA (0.05) of them                               -> "ja"
//         (Japanese prose is 30-70% kana, dense technical Japanese over 15%; Chinese has none,
//         so pure hiragana is "ja" and kanji-only text is "zh");
//       otherwise                                                           -> "zh".
//     English with a few Japanese names stays English: 8 kanji in a 300-letter paragraph are a
//     5% share.
//  4. Other non-Latin scripts: those used by one main language map to it (Greek el, Hebrew
//     he, Thai th, Armenian hy, Georgian ka, Bengali bn, Tamil ta, ...); Devanagari is "hi" (Marathi and Nepali look the same here) and Arabic
//     script "ar" unless the letters only Persian (پ چ ژ گ ک ی) or Urdu (ٹ ڈ ڑ ں ے ہ) use
//     make up 2% of it ("fa", "ur").
//  5. Latin and Cyrillic: a hand-written function-word model over the first LI_MODEL_SPAN
//     (4096) bytes.  Words are maximal runs of letters, lower-cased; each word found in a
//     language's list (30-90 of its most frequent function words; a word may belong to several
//     lists) adds 1 to those languages, and each letter with a diacritic typical of some
//     languages (ä ö ü ß de, ñ es, ã õ pt, ą ę ł pl, ř ě ů cs, і ї є uk, ы э ru, ...) adds
//     LI_HINT_WEIGHT (0.5) to them.  The highest sum wins (ties: the order of li_langs).
//     Words glued to code ("-l", "/etc", "$x", "a_b", "f(", "x=", "utf8") do not count, and
//     elisions count only with their apostrophe ("l'", "qu'").  Latin with a sum of 0 (code,
//     identifiers, titles without a function word) is "und"; Cyrillic with none is "ru".
//     Languages: en de fr es it pt nl pl sv da cs hr sl hu fi ro tr id vi (Latin), ru uk bg sr
//     (Cyrillic).  Norwegian reads as Danish, Bosnian and Latin-script Serbian as Croatian,
//     Catalan and Galician as Spanish, Slovak as Czech.
//
// Score in [0, 1]: dominance * evidence, where dominance is the share of the deciding script
// (CJK counted together) and evidence is
//   script-decided languages: min(1, weighted letters / LI_FULL_LETTERS (40));
//   word model: min(1, (best sum - runner-up sum) / LI_FULL_MARGIN (8)).
// So a clean paragraph scores near 1, a short sentence 0.1-0.4 ("Open the file and read it."
// 0.375), a mixed or doubtful text low; "und" always scores 0.
//
// Why hand-written and not libexttextcat (Debian's well-kept C n-gram categoriser, LibreOffice's):
// measured on the man-page sample of scripts/langid_sample.sh (bench/langid_textcat.sh, the
// first 150 records of each of 24 languages, 3300 records, one thread), textcat with its stock
// 160-language fingerprints ran at 0.29 MB/s and was right on 75.6% of all records and 88.3% of
// those of >= 200 characters (Chinese 12%: it answers "UNKNOWN" for most Han text); li_identify
// ran at 85 MB/s on the same records and was right on 90.7% and 99.3%.  textcat builds an n-gram
// fingerprint of every text and ranks it against every profile, 300 times too slow for a stage
// that may take a tenth of a 10 MB/s-per-core pipeline, so the ground rule (a well-kept library
// where it does the job well) does not apply here.
//
// Accuracy on the whole sample (29,511 records, `build/bench_langid data/langid/sample.jsonl`):
// en 0.999 and ja 0.996 on records of >= 200 characters, 0.997 over all languages; it drops on
// short text (all languages: 0.72 at 15-49 characters, 0.95 at 50-99, 0.99 at 100-199), mostly
// to "und" for titles without a function word.  Throughput there: ~100 MB/s on the records
// (313 bytes on average, so the per-call cost shows), ~220 MB/s on 16 KB documents.
//
// Cost: one pass over the whole text for the script counts (ASCII 8 bytes at a time) and, for
// Latin and Cyrillic text, one pass over at most LI_MODEL_SPAN bytes for the words.
#ifndef MANABI_DATA_LANGID_H
#define MANABI_DATA_LANGID_H

#include <stddef.h>

#include "core/err.h"

#define LI_CJK_WEIGHT 2        // a kana, Han or Hangul code point weighs 2 letters
#define LI_MIN_LETTERS 10      // fewer weighted letters: "und"
#define LI_SCRIPT_MIN_SHARE 0.25  // share that makes a non-Latin script decide whatever else
#define LI_KO_MIN_HANGUL 0.3   // Hangul share of the CJK code points for "ko"
#define LI_JA_MIN_KANA 0.05    // kana share of the CJK code points for "ja"
#define LI_MODEL_SPAN 4096     // bytes the word model reads
#define LI_HINT_WEIGHT 0.5     // a telling diacritic, against 1 for a function word
#define LI_FULL_LETTERS 40     // weighted letters for full confidence (script-decided)
#define LI_FULL_MARGIN 8       // lead over the runner-up for full confidence (word model)

// X(enum, ISO 15924 code): the scripts counted.
#define LI_SCRIPTS(X)                                                                           \
    X(LI_LATN, "Latn") X(LI_CYRL, "Cyrl") X(LI_GREK, "Grek") X(LI_ARMN, "Armn") X(LI_HEBR, "Hebr") \
    X(LI_ARAB, "Arab") X(LI_DEVA, "Deva") X(LI_BENG, "Beng") X(LI_GURU, "Guru") X(LI_GUJR, "Gujr") \
    X(LI_ORYA, "Orya") X(LI_TAML, "Taml") X(LI_TELU, "Telu") X(LI_KNDA, "Knda") X(LI_MLYM, "Mlym") \
    X(LI_SINH, "Sinh") X(LI_THAI, "Thai") X(LI_LAOO, "Laoo") X(LI_TIBT, "Tibt") X(LI_MYMR, "Mymr") \
    X(LI_GEOR, "Geor") X(LI_ETHI, "Ethi") X(LI_KHMR, "Khmr") X(LI_HIRA, "Hira") X(LI_KANA, "Kana") \
    X(LI_HANI, "Hani") X(LI_HANG, "Hang")

#define LI_ENUM_(e, s) e,
typedef enum li_script { LI_SCRIPTS(LI_ENUM_) LI_NUM_SCRIPTS } li_script_t;
#undef LI_ENUM_

typedef struct li_result {
    char lang[8];     // ISO 639-1 ("en", "ja", "zh", "ko", "ru", "de", ...) or "und"
    double score;     // confidence in [0, 1] (see above); 0 for "und"
    char script[8];   // ISO 15924 of what decided: "Latn", "Cyrl", "Jpan" (kana + Han),
                      // "Hani" (zh), "Kore" (ko), "Grek", ...; "Zyyy" with too few letters
    size_t letters;   // letter code points in the whole text (unweighted)
    float share[LI_NUM_SCRIPTS];  // weighted share of each script; sums to 1 when letters > 0
    double hits;      // word model: the winner's sum (function words + hints); else 0
    char runner_up[8];  // word model: the second language ("" if none scored)
} li_result_t;

typedef struct li li_t;  // opaque, read-only once built

// Builds the model into *m.  Returns 0, or -1 with e filled (out of memory).  Free with li_free.
int li_init(li_t **m, err_t *e);
void li_free(li_t *m);

// Identifies text[0..len).  Thread-safe on a shared model; allocates nothing.
li_result_t li_identify(const li_t *m, const char *text, size_t len);

// "Latn" for LI_LATN, ...; "Zyyy" for an out-of-range value.
const char *li_script_name(li_script_t s);
// The languages the word model knows: a NULL-terminated array of codes, in tie order, owned by m.
const char *const *li_langs(const li_t *m);

#endif
