// Tests for data/normalize: UTF-8 repair and the drop threshold, NFC/NFKC, every whitespace and
// control rule checked on exact outputs, Japanese text untouched, and the PII scanner.
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "data/normalize.h"
#include "test.h"

#define FFFD "\xEF\xBF\xBD"

// Normalises in (len bytes) with c and checks the verdict and, for TN_OK, the exact output.
static void check_norm_len(const tn_config_t *c, const char *in, size_t len, int want_r,
                           const char *want, tn_stats_t *st, int line) {
    char *out = (char *)1;
    size_t n = 99;
    err_t e = {{0}};
    int r = tn_normalize(c, in, len, &out, &n, st, &e);
    CHECK_MSG(r == want_r, "line %d: result %d, want %d (%s)", line, r, want_r, e.msg);
    if (r != TN_OK) {
        CHECK_MSG(out == NULL && n == 0, "line %d: out not cleared on a drop", line);
        return;
    }
    CHECK_MSG(n == strlen(want) && memcmp(out, want, n) == 0 && out[n] == '\0',
              "line %d: got \"%.*s\" (%zu bytes), want \"%s\"", line, (int)n, out, n, want);
    free(out);
}
#define NORM(c, in, want) check_norm_len((c), (in), sizeof(in) - 1, TN_OK, (want), NULL, __LINE__)

TEST(normalize_invalid_utf8_repaired) {
    tn_config_t c;
    tn_config_default(&c);
    c.max_invalid_frac = 1.0;
    tn_stats_t st;
    // lone continuation byte
    check_norm_len(&c, "a\x80z", 3, TN_OK, "a" FFFD "z", &st, __LINE__);
    CHECK(st.invalid_seqs == 1 && st.invalid_bytes == 1);
    // truncated 3-byte sequence (E3 81 of あ = E3 81 82): one U+FFFD for the maximal subpart
    check_norm_len(&c, "a\xE3\x81z", 4, TN_OK, "a" FFFD "z", &st, __LINE__);
    CHECK(st.invalid_seqs == 1 && st.invalid_bytes == 2);
    // truncated at the end of the input
    check_norm_len(&c, "ab\xF0\x9F\x98", 5, TN_OK, "ab" FFFD, &st, __LINE__);
    CHECK(st.invalid_seqs == 1 && st.invalid_bytes == 3);
    // overlong "/" (C0 AF) and overlong NUL (E0 80 80): every byte its own U+FFFD
    check_norm_len(&c, "\xC0\xAFx\xE0\x80\x80", 6, TN_OK, FFFD FFFD "x" FFFD FFFD FFFD, &st,
                   __LINE__);
    CHECK(st.invalid_seqs == 5 && st.invalid_bytes == 5);
    // UTF-16 surrogate D800 encoded (ED A0 80), and above U+10FFFF (F4 90 80 80)
    check_norm_len(&c, "\xED\xA0\x80.\xF4\x90\x80\x80", 8, TN_OK,
                   FFFD FFFD FFFD "." FFFD FFFD FFFD FFFD, &st, __LINE__);
    CHECK(st.invalid_seqs == 7);
    // valid multi-byte text passes with no counts
    check_norm_len(&c, "é日\xF0\x9F\x98\x80", 9, TN_OK, "é日\xF0\x9F\x98\x80", &st, __LINE__);
    CHECK(st.invalid_seqs == 0 && st.invalid_bytes == 0);
}

TEST(normalize_invalid_utf8_drop_threshold) {
    tn_config_t c;
    tn_config_default(&c);
    CHECK(c.form == TN_NFC && c.max_invalid_frac == 0.01);
    char doc[200];
    memset(doc, 'a', sizeof doc);
    doc[50] = (char)0xFF;                   // 1 of 200 bytes = 0.005: repaired
    tn_stats_t st;
    char want[203];
    memset(want, 'a', 202);
    memcpy(want + 50, FFFD, 3);
    want[202] = '\0';
    check_norm_len(&c, doc, 200, TN_OK, want, &st, __LINE__);
    CHECK(st.invalid_bytes == 1);
    doc[51] = (char)0xFF;                   // 2 of 200 = 0.01: at the limit, still repaired
    char *out = NULL;
    size_t n = 0;
    err_t e = {{0}};
    CHECK(tn_normalize(&c, doc, 200, &out, &n, &st, &e) == TN_OK && n == 204);
    free(out);
    doc[52] = (char)0xFF;                   // 3 of 200 = 0.015 > 0.01: dropped, counts kept
    check_norm_len(&c, doc, 200, TN_DROP_INVALID_UTF8, NULL, &st, __LINE__);
    CHECK(st.invalid_bytes == 3 && st.invalid_seqs == 3);
    c.max_invalid_frac = 0.0;               // any invalid byte drops
    check_norm_len(&c, "ok\x80", 3, TN_DROP_INVALID_UTF8, NULL, &st, __LINE__);
    check_norm_len(&c, "ok", 2, TN_OK, "ok", &st, __LINE__);
    check_norm_len(&c, NULL, 0, TN_OK, "", &st, __LINE__);   // empty input: empty string
}

TEST(normalize_nfc_and_nfkc) {
    tn_config_t c;
    tn_config_default(&c);
    NORM(&c, "cafe\xCC\x81", "caf\xC3\xA9");                 // e + U+0301 -> é
    NORM(&c, "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB", "한");  // conjoining jamo -> Hangul
    NORM(&c, "\xE3\x81\x8B\xE3\x82\x99", "が");               // か + U+3099 -> が
    NORM(&c, "ＡＢＣ１２３ ｶﾀｶﾅ ①", "ＡＢＣ１２３ ｶﾀｶﾅ ①");     // NFC keeps compatibility forms
    c.form = TN_NFKC;
    NORM(&c, "ＡＢＣ１２３ ｶﾀｶﾅ ①", "ABC123 カタカナ 1");
    NORM(&c, "cafe\xCC\x81 \xEF\xAC\x81", "caf\xC3\xA9 fi");  // composes too; ﬁ -> fi
    NORM(&c, "a\xE3\x80\x80\xE3\x80\x80" "b", "a b");         // NFKC: U+3000 -> space, then collapsed
}

TEST(normalize_line_endings_and_controls) {
    tn_config_t c;
    tn_config_default(&c);
    tn_stats_t st;
    NORM(&c, "a\r\nb\rc\nd", "a\nb\nc\nd");
    check_norm_len(&c, "a\r\nb\rc", 6, TN_OK, "a\nb\nc", &st, __LINE__);
    CHECK(st.newlines_mapped == 1);                             // CRLF is not counted, CR is
    NORM(&c, "a\xE2\x80\xA8" "b\xE2\x80\xA9" "c\xC2\x85" "d\x0B" "e\x0C" "f", "a\nb\nc\nd\ne\nf");
    check_norm_len(&c, "a\x01" "b\x1B[0m\x7F" "c\xC2\x9B" "d\x00" "e", 14, TN_OK, "ab[0mcde", &st,
                   __LINE__);
    CHECK(st.controls_removed == 5);
    NORM(&c, "a\tb", "a\tb");                                   // a lone tab stays
    NORM(&c, "x\xE2\x80\x8D" "y\xC2\xAD" "z", "x\xE2\x80\x8D" "y\xC2\xAD" "z");  // Cf stays
}

TEST(normalize_whitespace_rules) {
    tn_config_t c;
    tn_config_default(&c);
    NORM(&c, "a  b\t\tc \td", "a b c d");                       // runs collapse to one space
    NORM(&c, "a\xC2\xA0" "b", "a\xC2\xA0" "b");                 // a lone NBSP stays
    NORM(&c, "a\xC2\xA0 \xE2\x80\x83" "b", "a b");              // NBSP + space + em space
    NORM(&c, "a  \nb\t\nc \xE2\x80\x89\n", "a\nb\nc");          // trailing spaces on lines
    NORM(&c, "a\n\nb", "a\n\nb");                               // one blank line stays
    NORM(&c, "a\n\n\n\n\nb", "a\n\nb");                         // more than 2 newlines -> 2
    NORM(&c, "a\n  \n \t \n\nb", "a\n\nb");                     // whitespace-only lines are blank
    NORM(&c, "\n\n  \nhello\n\n\n  ", "hello");                 // leading/trailing blank lines
    NORM(&c, "  indented\n  kept", "indented\n kept");          // later indentation collapses
    NORM(&c, " \r\n\t\n", "");                                  // nothing but whitespace
    NORM(&c, "a \x01 b", "a b");                                // control removed inside a run
}

TEST(normalize_japanese_untouched) {
    tn_config_t c;
    tn_config_default(&c);
    static const char ja[] = "\xE3\x80\x80吾輩は猫である。名前はまだ無い。\n"
                             "山田\xE3\x80\x80太郎「ＡＩ」は、ｶﾀｶﾅも使う。";
    NORM(&c, ja, ja);                                           // U+3000 and full-width kept
    NORM(&c, "東京\xE3\x80\x80\xE3\x80\x80大阪", "東京\xE3\x80\x80\xE3\x80\x80大阪");
}

// Scrubs in and checks the exact output.
static void check_pii(const char *in, const char *want, tn_pii_stats_t *st, int line) {
    size_t len = strlen(in);
    char *out = malloc(TN_SCRUB_CAP(len));
    size_t n = tn_scrub_pii(in, len, out, st);
    CHECK_MSG(n == strlen(want) && strcmp(out, want) == 0, "line %d: \"%s\" -> \"%s\", want \"%s\"",
              line, in, out, want);
    CHECK_MSG(n + 1 <= TN_SCRUB_CAP(len), "line %d: output over the documented capacity", line);
    free(out);
}
#define PII(in, want) check_pii((in), (want), NULL, __LINE__)

TEST(normalize_pii_email) {
    tn_pii_stats_t st;
    check_pii("mail john.doe@example.com or J_Smith+tag@mail.co.uk, ok?",
              "mail <EMAIL> or <EMAIL>, ok?", &st, __LINE__);
    CHECK(st.emails == 2 && st.ipv4 == 0 && st.ipv6 == 0);
    PII("<a%b-c@sub-domain.example.org>", "<<EMAIL>>");
    PII("a@b.cd", "<EMAIL>");                                   // the shortest: grows by 1 byte
    PII("End: x@y.com.", "End: <EMAIL>.");                      // sentence dot not taken
    PII("...john@x.com", "...<EMAIL>");                         // leading dots not taken
    PII("連絡先：taro@example.jp まで", "連絡先：<EMAIL> まで");
    PII("a@b", "a@b");
    PII("user@localhost", "user@localhost");
    PII("x@host.c0m", "x@host.c0m");                            // TLD must be letters
    PII("x@y.c", "x@y.c");                                      // TLD of 2+ letters
    PII("@example.com", "@example.com");
    PII("@twitter_handle and a @ b.com", "@twitter_handle and a @ b.com");
    PII("", "");
}

TEST(normalize_pii_ip) {
    tn_pii_stats_t st;
    check_pii("from 192.168.0.1 to 8.8.8.8, and 10.0.0.255.", "from <IP> to <IP>, and <IP>.", &st,
              __LINE__);
    CHECK(st.ipv4 == 3 && st.ipv6 == 0 && st.emails == 0);
    PII("0.0.0.0 255.255.255.255", "<IP> <IP>");
    PII("256.1.1.1", "256.1.1.1");
    PII("1.2.3.256", "1.2.3.256");
    PII("1.2.3.4.5", "1.2.3.4.5");
    PII("version 1.2.3 and v1.2.3.4", "version 1.2.3 and v1.2.3.4");
    PII("1.2.3.4a 11.2.3.4567 1.2.3", "1.2.3.4a 11.2.3.4567 1.2.3");
    PII("(127.0.0.1:8080)", "(<IP>:8080)");
    PII("サーバ192.168.1.10に接続", "サーバ<IP>に接続");

    check_pii("full 2001:0db8:85a3:0000:0000:8a2e:0370:7334 and 2001:db8:0:0:1:0:0:1",
              "full <IP> and <IP>", &st, __LINE__);
    CHECK(st.ipv6 == 2 && st.ipv4 == 0);
    check_pii("::1, fe80::1 2001:db8::8a2e:370:7334 ::ffff:192.0.2.1 2001:db8:: x",
              "<IP>, <IP> <IP> <IP> <IP> x", &st, __LINE__);
    CHECK(st.ipv6 == 5 && st.ipv4 == 0);
    PII("[::1]:443", "[<IP>]:443");
    PII("std::string abc::def a :: b", "std::string abc::def a :: b");  // C++, Haskell
    PII("12:30:45 1:2:3:4:5:6:7 1:2:3:4:5:6:7:8:9", "12:30:45 1:2:3:4:5:6:7 1:2:3:4:5:6:7:8:9");
    PII("1::2::3 12345::1", "1::2::3 12345::1");                // two "::", a 5-digit group
    PII("::1::", "::1::");
}

TEST(normalize_pii_mixed) {
    tn_pii_stats_t st;
    check_pii("admin@corp.example.com logged in from 10.1.2.3 and 2001:db8::1",
              "<EMAIL> logged in from <IP> and <IP>", &st, __LINE__);
    CHECK(st.emails == 1 && st.ipv4 == 1 && st.ipv6 == 1);
    PII("user@192.168.1.1", "user@<IP>");                       // not an e-mail, still an IP
    PII("::1 ::1 ::1 ::1", "<IP> <IP> <IP> <IP>");              // growth within TN_SCRUB_CAP
}

// The fast path: text made only of the code points tn_normalize treats as NFC-inert must be
// exactly what utf8proc's NFC makes of it (the oracle), and a decomposable or combining code
// point next to them must still be normalised.
TEST(normalize_nfc_fast_path_matches_utf8proc) {
    static const int32_t ranges[][2] = {{0x21, 0x7E},     {0xA1, 0xFF},     {0x2010, 0x205E}, {0x3001, 0x3029},
                                        {0x3030, 0x303F}, {0x3041, 0x3096}, {0x309B, 0x30FF}, {0x4E00, 0x9FFF},
                                        {0xFF01, 0xFF9F}};
    sb_t b = {0};
    for (size_t r = 0; r < sizeof ranges / sizeof *ranges; r++)
        for (int32_t cp = ranges[r][0]; cp <= ranges[r][1]; cp++) {
            if (cp == 0x2028 || cp == 0x2029 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F)
                continue;  // whitespace and line separators: tidied, not part of this check
            utf8proc_uint8_t u[4];
            sb_add(&b, (const char *)u, (size_t)utf8proc_encode_char(cp, u));
        }
    utf8proc_uint8_t *want = utf8proc_NFC((const utf8proc_uint8_t *)b.p);
    tn_config_t c;
    tn_config_default(&c);
    char *got = NULL;
    size_t n = 0;
    err_t e = {{0}};
    CHECK(tn_normalize(&c, b.p, b.n, &got, &n, NULL, &e) == TN_OK);
    CHECK_MSG(want && got && strcmp((const char *)want, b.p) == 0, "utf8proc's NFC changes the inert set");
    CHECK_MSG(got && n == b.n && memcmp(got, b.p, n) == 0, "the fast path changed inert text");
    free(want), free(got);
    // Outside the set: a compatibility ideograph (U+F900 -> U+8C48) and e + U+0301 -> U+00E9
    // still normalise among inert text.
    const char *cases[][2] = {{"\xe6\x97\xa5\xe6\x9c\xac \xef\xa4\x80", "\xe6\x97\xa5\xe6\x9c\xac \xe8\xb1\x88"},
                              {"\xe3\x81\x8b\xe3\x82\x99", "\xe3\x81\x8c"},  // か + U+3099 -> が
                              {"caf\xc3\xa9 e\xcc\x81", "caf\xc3\xa9 \xc3\xa9"},
                              {"a\xe2\x80\x80x", "a\xe2\x80\x82x"}};  // U+2000 -> U+2002 (a lone space: kept)
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        CHECK(tn_normalize(&c, cases[k][0], strlen(cases[k][0]), &got, &n, NULL, &e) == TN_OK);
        CHECK_MSG(got && strcmp(got, cases[k][1]) == 0, "case %zu: got '%s'", k, got ? got : "");
        free(got);
    }
    free(b.p);
}
