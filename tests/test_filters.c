// Tests for data/filters: each rule just inside and just past its threshold on documents built
// here, the rule reported, clean English and Japanese prose kept, and the per-rule switches.
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "data/filters.h"
#include "test.h"

static const char CLEAN_EN[] =
    "The river that runs through the old town has shaped its history for centuries. Merchants once "
    "used it to carry grain, wool and timber to the coast, and the warehouses they built still line "
    "the eastern bank. Today most of those buildings have been turned into flats, cafes and a small "
    "museum. Visitors can walk along the towpath, stop at the lock keeper's cottage, and read about "
    "the floods of the last century. In spring the water is high and fast, and the rowing club "
    "trains every morning.";

static const char CLEAN_JA[] =
    "日本の多くの町には、古くから続く小さな商店街があります。かつては八百屋や魚屋、本屋などが並び、"
    "夕方になると買い物をする人々でにぎわっていました。しかし、郊外に大きなショッピングセンターが"
    "できると、客足は少しずつ遠のき、シャッターを下ろしたままの店が目立つようになりました。\n"
    "最近では、こうした空き店舗を活用しようとする若い人たちが増えています。古い建物を改装してカフェや"
    "雑貨店を開いたり、地域の人が集まれる交流の場を作ったりする例も少なくありません。ある町では、毎月"
    "一度、商店街の通りを歩行者天国にして市場を開き、近くの農家が育てた野菜や手作りのお菓子を売って"
    "います。子どもからお年寄りまで多くの人が訪れ、昔のようなにぎわいが戻りつつあると言われています。\n"
    "もちろん、課題も残っています。店を続けるためには安定した収入が必要ですし、後継者を見つけることも"
    "簡単ではありません。それでも、町の歴史や人のつながりを大切にしながら、新しい形の商店街を作ろうと"
    "する取り組みは、各地で静かに広がっています。";

// A document under construction (one at a time; the largest is ~500 KB).
static char *doc;
static size_t doc_n, doc_cap;

static void doc_reset(void) {
    if (!doc) {
        doc_cap = 1 << 20;
        doc = malloc(doc_cap);
    }
    doc_n = 0;
}
static void add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(doc + doc_n, doc_cap - doc_n, fmt, ap);
    va_end(ap);
    if (k > 0 && doc_n + (size_t)k < doc_cap) doc_n += (size_t)k;
}
// Appends the UTF-8 encoding of code point cp.
static void add_cp(unsigned cp) {
    if (cp < 0x800) add("%c%c", 0xC0 | cp >> 6, 0x80 | (cp & 0x3F));
    else if (cp < 0x10000) add("%c%c%c", 0xE0 | cp >> 12, 0x80 | (cp >> 6 & 0x3F), 0x80 | (cp & 0x3F));
}
static void add_rep(const char *s, int k) {
    for (int i = 0; i < k; i++) add("%s", s);
}

// Defaults with only rule r switched on.
static qf_config_t only(qf_rule_t r) {
    qf_config_t c;
    qf_config_default(&c);
    memset(c.enabled, 0, sizeof c.enabled);
    c.enabled[r] = 1;
    return c;
}

// The current document is dropped by rule `want` (value near `value`) under c, and kept once
// that rule is switched off.
static void expect_drop(qf_config_t c, int ja, qf_rule_t want, double value, int line) {
    qf_result_t r = ja ? qf_check_ja(&c, doc, doc_n) : qf_check_en(&c, doc, doc_n);
    CHECK_MSG(r.rule == want, "line %d: got %s (%g), want %s", line, qf_rule_name(r.rule), r.value, qf_rule_name(want));
    CHECK_MSG(fabs(r.value - value) < 1e-9, "line %d: value %.9g, want %.9g", line, r.value, value);
    c.enabled[want] = 0;
    r = ja ? qf_check_ja(&c, doc, doc_n) : qf_check_en(&c, doc, doc_n);
    CHECK_MSG(r.rule == QF_KEEP, "line %d: with %s off got %s", line, qf_rule_name(want), qf_rule_name(r.rule));
}
static void expect_keep(qf_config_t c, int ja, int line) {
    qf_result_t r = ja ? qf_check_ja(&c, doc, doc_n) : qf_check_en(&c, doc, doc_n);
    CHECK_MSG(r.rule == QF_KEEP, "line %d: got %s (%g, limit %g)", line, qf_rule_name(r.rule), r.value, r.limit);
}
#define DROP(rule, value) expect_drop(only(rule), 0, rule, value, __LINE__)
#define KEEP(rule) expect_keep(only(rule), 0, __LINE__)
#define DROP_JA(rule, value) expect_drop(only(rule), 1, rule, value, __LINE__)
#define KEEP_JA(rule) expect_keep(only(rule), 1, __LINE__)

TEST(filters_clean_documents_kept) {
    qf_config_t c;
    qf_config_default(&c);
    qf_result_t r = qf_check_en(&c, CLEAN_EN, strlen(CLEAN_EN));
    CHECK_MSG(r.rule == QF_KEEP, "english: %s = %g (limit %g)", qf_rule_name(r.rule), r.value, r.limit);
    r = qf_check_ja(&c, CLEAN_JA, strlen(CLEAN_JA));
    CHECK_MSG(r.rule == QF_KEEP, "japanese: %s = %g (limit %g)", qf_rule_name(r.rule), r.value, r.limit);
    // English prose fails the Japanese rules and vice versa, on the first script rule.
    CHECK(qf_check_ja(&c, CLEAN_EN, strlen(CLEAN_EN)).rule == QF_JA_HIRAGANA);  // 400+ characters, no kana
    CHECK(qf_check_en(&c, CLEAN_JA, strlen(CLEAN_JA)).rule == QF_GOPHER_WORD_COUNT);
    CHECK(qf_check_en(&c, NULL, 0).rule == QF_GOPHER_WORD_COUNT);
    CHECK(qf_check_ja(&c, NULL, 0).rule == QF_JA_MIN_CHARS);
}

TEST(filters_rule_names) {
    for (int i = 0; i < QF_NUM_RULES; i++) {
        CHECK(strcmp(qf_rule_name((qf_rule_t)i), "unknown") != 0);
        for (int j = 0; j < i; j++) CHECK(strcmp(qf_rule_name((qf_rule_t)i), qf_rule_name((qf_rule_t)j)) != 0);
    }
    CHECK(strcmp(qf_rule_name(QF_KEEP), "keep") == 0);
    CHECK(strcmp(qf_rule_name(QF_GOPHER_STOP_WORDS), "gopher_stop_words") == 0);
    CHECK(strcmp(qf_rule_name(QF_NUM_RULES), "unknown") == 0);
}

TEST(filters_gopher_quality) {
    // Word count: 50 .. 100000.
    doc_reset(), add_rep("word ", 49), DROP(QF_GOPHER_WORD_COUNT, 49);
    doc_reset(), add_rep("word ", 50), KEEP(QF_GOPHER_WORD_COUNT);
    doc_reset(), add_rep("word ", 100000), KEEP(QF_GOPHER_WORD_COUNT);
    doc_reset(), add_rep("word ", 100001), DROP(QF_GOPHER_WORD_COUNT, 100001);
    // Mean word length: 3 .. 10 characters (code points: "été" is 3).
    doc_reset(), add_rep("été ", 50), KEEP(QF_GOPHER_MEAN_WORD_LEN);
    doc_reset(), add_rep("abc ", 49), add("ab"), DROP(QF_GOPHER_MEAN_WORD_LEN, 149.0 / 50);
    doc_reset(), add_rep("abcdefghij ", 50), KEEP(QF_GOPHER_MEAN_WORD_LEN);
    doc_reset(), add_rep("abcdefghij ", 49), add("abcdefghijk"), DROP(QF_GOPHER_MEAN_WORD_LEN, 501.0 / 50);
    // Symbol-to-word ratio <= 0.1, hash and ellipsis each.
    doc_reset(), add_rep("word ", 90), add_rep("#tag ", 10), KEEP(QF_GOPHER_SYMBOL_RATIO);
    doc_reset(), add_rep("word ", 89), add_rep("#tag ", 11), DROP(QF_GOPHER_SYMBOL_RATIO, 0.11);
    doc_reset(), add_rep("word ", 90), add_rep("so... ", 10), KEEP(QF_GOPHER_SYMBOL_RATIO);
    doc_reset(), add_rep("word ", 89), add_rep("so\xE2\x80\xA6 ", 11), DROP(QF_GOPHER_SYMBOL_RATIO, 0.11);
    // Bullet lines <= 0.9 (of 100 non-empty lines; blank lines do not count).
    doc_reset(), add_rep("- an item\n\n", 90), add_rep("plain line\n", 10), KEEP(QF_GOPHER_BULLET_LINES);
    doc_reset(), add_rep("  \xE2\x80\xA2 an item\n", 91), add_rep("plain line\n", 9), DROP(QF_GOPHER_BULLET_LINES, 0.91);
    // Ellipsis lines <= 0.3.
    doc_reset(), add_rep("and so on...\n", 30), add_rep("plain line.\n", 70), KEEP(QF_GOPHER_ELLIPSIS_LINES);
    doc_reset(), add_rep("and so on\xE2\x80\xA6\n", 31), add_rep("plain line.\n", 69), DROP(QF_GOPHER_ELLIPSIS_LINES, 0.31);
    // Words with an alphabetic character >= 0.8 (non-ASCII letters count: "ß", "日本").
    doc_reset(), add_rep("stra\xC3\x9F" "e ", 40), add_rep("日本 ", 40), add_rep("1984 ", 20), KEEP(QF_GOPHER_ALPHA_WORDS);
    doc_reset(), add_rep("word ", 79), add_rep("-- ", 21), DROP(QF_GOPHER_ALPHA_WORDS, 0.79);
    // At least 2 distinct stop words (case and punctuation ignored).
    doc_reset(), add_rep("the word ", 30), DROP(QF_GOPHER_STOP_WORDS, 1);
    doc_reset(), add_rep("word ", 60), add("\"The\" end, AND."), KEEP(QF_GOPHER_STOP_WORDS);
    doc_reset(), add_rep("word ", 60), add("thee bet tot ofs"), DROP(QF_GOPHER_STOP_WORDS, 0);
}

// 100 lines of 9 characters each (plus '\n'), `dups` of them repeating an earlier line.
static void nine_char_lines(int dups) {
    doc_reset();
    add("d00000000\n");
    for (int i = 0; i < 99 - dups; i++) add("u%08d\n", i);
    add_rep("d00000000\n", dups);
}

TEST(filters_gopher_repetition) {
    // Duplicate lines <= 0.30 of the lines.
    nine_char_lines(30), KEEP(QF_GOPHER_DUP_LINES);
    nine_char_lines(31), DROP(QF_GOPHER_DUP_LINES, 0.31);
    // Characters in duplicate lines <= 0.20 of all 1000 characters.
    nine_char_lines(22), KEEP(QF_GOPHER_DUP_LINE_CHARS);
    nine_char_lines(23), DROP(QF_GOPHER_DUP_LINE_CHARS, 0.207);
    // Top 2-gram "ab cd" (4 characters) k times among 100 unique 5-character words:
    // 4k / (500 + 4k) <= 0.20.
    for (int k = 31; k <= 32; k++) {
        doc_reset();
        for (int i = 0; i < 100; i++) add("w%04d %s", i, i < k ? "ab cd " : "");
        if (k == 31) KEEP(QF_GOPHER_TOP_NGRAM);
        else DROP(QF_GOPHER_TOP_NGRAM, 128.0 / 628);
    }
    // Top 4-gram (8 characters): 8k / (500 + 8k) <= 0.16, the 2- and 3-gram limits still met.
    for (int k = 11; k <= 12; k++) {
        doc_reset();
        for (int i = 0; i < 100; i++) add("w%04d %s", i, i < k ? "ab cd ef gh " : "");
        qf_config_t c = only(QF_GOPHER_TOP_NGRAM);
        qf_result_t r = qf_check_en(&c, doc, doc_n);
        if (k == 11) CHECK(r.rule == QF_KEEP);
        else CHECK(r.rule == QF_GOPHER_TOP_NGRAM && r.limit == 0.16 && fabs(r.value - 96.0 / 596) < 1e-12);
    }
    // A repeated 5-gram (10 characters, both copies duplicate) among u unique 5-character words:
    // 20 / (5u + 20) <= 0.15.
    for (int u = 22; u <= 23; u++) {
        doc_reset();
        add("aa bb cc dd ee ");
        for (int i = 0; i < u; i++) add("w%04d ", i);
        add("aa bb cc dd ee");
        if (u == 23) KEEP(QF_GOPHER_DUP_NGRAM);
        else DROP(QF_GOPHER_DUP_NGRAM, 20.0 / 130);
    }
    // A 10-gram repeated once (20 words of 2 characters = 40 duplicate characters): the 5..9-gram
    // fractions equal the 10-gram one, so the lowest limit (0.10 at n = 10) decides.
    for (int u = 71; u <= 72; u++) {
        doc_reset();
        add_rep("aa bb cc dd ee ff gg hh ii jj ", 1);
        for (int i = 0; i < u; i++) add("w%04d ", i);
        add("aa bb cc dd ee ff gg hh ii jj");
        qf_config_t c = only(QF_GOPHER_DUP_NGRAM);
        qf_result_t r = qf_check_en(&c, doc, doc_n);  // 40 / (5u + 40): 0.1013 at 71, exactly 0.1 at 72
        if (u == 72) CHECK(r.rule == QF_KEEP);
        else CHECK(r.rule == QF_GOPHER_DUP_NGRAM && fabs(r.limit - 0.10) < 1e-12 && fabs(r.value - 40.0 / 395) < 1e-12);
    }
}

TEST(filters_c4) {
    qf_config_t c;
    qf_config_default(&c);
    // Document rules, with every default on: the reported rule is the C4 one.
    doc_reset(), add("%s Lorem Ipsum dolor sit amet.", CLEAN_EN);
    expect_drop(c, 0, QF_C4_LOREM_IPSUM, 1, __LINE__);
    doc_reset(), add("%s The set {1, 2} has two members.", CLEAN_EN);
    expect_drop(c, 0, QF_C4_CURLY_BRACE, 1, __LINE__);
    // Sentences counted after the line pass: >= 5.
    qf_config_t s = only(QF_C4_MIN_SENTENCES);
    for (int r = QF_C4_LINE_PUNCT; r <= QF_C4_LINE_POLICY; r++) s.enabled[r] = 1;
    doc_reset(), add_rep("This is one sentence.\n", 4);
    add("Click here for more\nEnable JavaScript to view this page.\nRead our privacy policy first.\nOk.\n");
    expect_drop(s, 0, QF_C4_MIN_SENTENCES, 4, __LINE__);
    doc_reset(), add_rep("This is one sentence.\n", 3), add("Two sentences here. And another one!\n");
    expect_keep(s, 0, __LINE__);
    s.enabled[QF_C4_LINE_JAVASCRIPT] = 0;  // the javascript line now counts
    doc_reset(), add_rep("This is one sentence.\n", 4), add("Enable JavaScript to view this page.\n");
    expect_keep(s, 0, __LINE__);

    // The line pass.
    const char *in = "  Keep this line, it is fine.  \n"
                     "no terminal punctuation here\n"
                     "Too short.\n"
                     "\n"
                     "Please enable javascript in your browser.\n"
                     "This site uses cookies to improve things.\n"
                     "Read the Terms of Use carefully.\n"
                     "He said \"stop here.\"\n"
                     "And then it trailed off...\n"
                     "Is this the last line kept?";
    char out[512];
    size_t n = qf_c4_lines(&c, in, strlen(in), out);
    const char *want = "Keep this line, it is fine.\nHe said \"stop here.\"\nIs this the last line kept?";
    CHECK_MSG(n == strlen(want) && memcmp(out, want, n) == 0, "c4 lines: '%.*s'", (int)n, out);
    // Switching line rules off keeps those lines.
    c.enabled[QF_C4_LINE_WORDS] = c.enabled[QF_C4_LINE_POLICY] = 0;
    n = qf_c4_lines(&c, in, strlen(in), out);
    want = "Keep this line, it is fine.\nToo short.\nThis site uses cookies to improve things.\n"
           "Read the Terms of Use carefully.\nHe said \"stop here.\"\nIs this the last line kept?";
    CHECK_MSG(n == strlen(want) && memcmp(out, want, n) == 0, "c4 lines: '%.*s'", (int)n, out);
    CHECK(qf_c4_lines(&c, "", 0, out) == 0);
}

TEST(filters_fineweb) {
    // Lines ending in terminal punctuation >= 0.12.
    doc_reset(), add_rep("A line that ends well.\n", 12), add_rep("a line without an end\n", 88), KEEP(QF_FINEWEB_LINE_PUNCT);
    doc_reset(), add_rep("A line that ends well.\n", 11), add_rep("a line without an end\n", 89), DROP(QF_FINEWEB_LINE_PUNCT, 0.11);
    // Characters in duplicate lines <= 0.1 of the characters other than newlines (900).
    nine_char_lines(10), KEEP(QF_FINEWEB_DUP_LINE_CHARS);
    nine_char_lines(11), DROP(QF_FINEWEB_DUP_LINE_CHARS, 0.11);
    // Lines shorter than 30 characters <= 0.67.
    doc_reset(), add_rep("short\n", 67), add_rep("a line of exactly thirty chars\n", 33), KEEP(QF_FINEWEB_SHORT_LINES);
    doc_reset(), add_rep("short\n", 68), add_rep("a line of exactly thirty chars\n", 32), DROP(QF_FINEWEB_SHORT_LINES, 0.68);
    doc_reset(), add("a line of exactly 29 chars...\n"), DROP(QF_FINEWEB_SHORT_LINES, 1);
}

// Appends k distinct kanji, continuing from *next.
static void add_unique_kanji(int k, unsigned *next) {
    for (int i = 0; i < k; i++) add_cp((*next)++);
}

TEST(filters_japanese) {
    // Length >= 400 non-space characters.
    doc_reset(), add_rep("あ", 399), add(" \n "), DROP_JA(QF_JA_MIN_CHARS, 399);
    doc_reset(), add_rep("あ", 400), KEEP_JA(QF_JA_MIN_CHARS);
    // Hiragana >= 0.2, katakana <= 0.5, hiragana + katakana + kanji >= 0.5 (of non-space).
    doc_reset(), add_rep("あ", 20), add_rep("漢 ", 80), KEEP_JA(QF_JA_HIRAGANA);
    doc_reset(), add_rep("あ", 19), add_rep("漢", 81), DROP_JA(QF_JA_HIRAGANA, 0.19);
    doc_reset(), add_rep("カ", 50), add_rep("漢", 50), KEEP_JA(QF_JA_KATAKANA);
    doc_reset(), add_rep("ｶ", 51), add_rep("漢", 49), DROP_JA(QF_JA_KATAKANA, 0.51);
    doc_reset(), add_rep("あ", 50), add_rep("a", 50), KEEP_JA(QF_JA_JAPANESE);
    doc_reset(), add_rep("々", 49), add_rep("a", 51), DROP_JA(QF_JA_JAPANESE, 0.49);
    // Mean sentence length 10 .. 250 (delimiters and spaces not counted; newlines split too).
    doc_reset(), add_rep("あああああ　あああああ。", 10), KEEP_JA(QF_JA_SENTENCE_LEN);
    doc_reset(), add_rep("あああああああああ！", 9), add("あああああああああああ\n"), DROP_JA(QF_JA_SENTENCE_LEN, 92.0 / 10);
    doc_reset(), add_rep("あ", 250), add("？"), add_rep("あ", 250), KEEP_JA(QF_JA_SENTENCE_LEN);
    doc_reset(), add_rep("あ", 251), add("。"), DROP_JA(QF_JA_SENTENCE_LEN, 251);
    // Top 10-gram: a 10-character block twice among f unique kanji: 20 / (20 + f) <= 0.2.
    for (int f = 79; f <= 80; f++) {
        unsigned next = 0x4E00;
        doc_reset();
        add_unique_kanji(f / 2, &next), add("あいうえお かきくけこ"), add_unique_kanji(f - f / 2 - 10, &next);
        add("あいうえおかきくけこ\n"), add_unique_kanji(10, &next);
        if (f == 80) KEEP_JA(QF_JA_TOP_NGRAM);
        else DROP_JA(QF_JA_TOP_NGRAM, 20.0 / 99);
    }
    // Duplicate lines <= 0.3.
    nine_char_lines(30), KEEP_JA(QF_JA_DUP_LINES);
    nine_char_lines(31), DROP_JA(QF_JA_DUP_LINES, 0.31);
    // The clean paragraph, then with a repeated line appended: with defaults the right rule.
    qf_config_t c;
    qf_config_default(&c);
    doc_reset(), add("%s", CLEAN_JA);
    expect_keep(c, 1, __LINE__);
    add_rep("\nクリックしてください。", 4);  // 7 lines, 3 duplicates: 0.43; the 10-gram is 40/489
    expect_drop(c, 1, QF_JA_DUP_LINES, 3.0 / 7, __LINE__);
}

TEST(filters_invalid_utf8) {
    // Stray bytes decode as one character each and never read past the end.
    qf_config_t c;
    qf_config_default(&c);
    const char bad[] = "\xE3\x81 \xFF\xC0\x80 word \xF0\x9F\x98";
    qf_result_t r = qf_check_en(&c, bad, sizeof bad - 1);
    CHECK(r.rule == QF_GOPHER_WORD_COUNT && r.value == 4);
    r = qf_check_ja(&c, bad, sizeof bad - 1);
    CHECK(r.rule == QF_JA_MIN_CHARS && r.value == 12);
    free(doc), doc = NULL;
}
