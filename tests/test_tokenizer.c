// Tokenizer: the BPE encoder against a naive reference, pre-tokenization, rank files.
// Exactness against tiktoken itself is tested in tests/sh/test_tiktoken.sh.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "test.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretok.h"
#include "tokenizer/tokenizer.h"

// A vocabulary of the 256 bytes followed by the given multi-byte tokens (ranks in order).
static int make_vocab(bpe_t *b, const char *const *extra, int n_extra) {
    uint8_t bytes[256];
    const uint8_t *toks[256 + 64];
    uint32_t lens[256 + 64];
    for (int i = 0; i < 256; i++) bytes[i] = (uint8_t)i, toks[i] = &bytes[i], lens[i] = 1;
    for (int i = 0; i < n_extra; i++) toks[256 + i] = (const uint8_t *)extra[i], lens[256 + i] = (uint32_t)strlen(extra[i]);
    err_t e = {0};
    return bpe_init(b, toks, lens, 256 + n_extra, &e);
}

// tiktoken's byte_pair_merge written the plain way: rescan every pair after each merge.
static int naive_encode(const bpe_t *b, const uint8_t *s, int n, int32_t *out) {
    int bound[4096], m = n;
    for (int i = 0; i <= n; i++) bound[i] = i;
    for (;;) {
        int best = -1, bi = -1;
        for (int i = 0; i + 1 < m; i++) {
            int32_t r = bpe_lookup(b, s + bound[i], (size_t)(bound[i + 2] - bound[i]));
            if (r >= 0 && (best < 0 || r < best)) best = r, bi = i;
        }
        if (best < 0) break;
        memmove(bound + bi + 1, bound + bi + 2, sizeof(int) * (size_t)(m - bi - 1));
        m--;
    }
    for (int i = 0; i < m; i++) out[i] = bpe_lookup(b, s + bound[i], (size_t)(bound[i + 1] - bound[i]));
    return m;
}

TEST(bpe_matches_naive_merge_order) {
    static const char *const extra[] = {"ab", "aa", "ba", "abab", "aab", "bb", "aaaa", "bab", "abb", "ca", "cab"};
    bpe_t b;
    CHECK(make_vocab(&b, extra, 11) == 0);
    bpe_scratch_t s = {0};
    rng_t r;
    rng_seed(&r, 5);
    uint8_t text[3000];
    int32_t got[3000], want[3000];
    for (int trial = 0; trial < 300; trial++) {
        int n = 1 + (int)rng_below(&r, trial < 200 ? 40 : 1500);  // short and long (heap) paths
        for (int i = 0; i < n; i++) text[i] = "abc"[rng_below(&r, 3)];
        int64_t k = bpe_encode_piece(&b, &s, text, (size_t)n, got);
        int kw = naive_encode(&b, text, n, want);
        CHECK_MSG(k == kw && memcmp(got, want, sizeof(int32_t) * (size_t)kw) == 0, "trial %d (n=%d): %lld vs %d ids",
                  trial, n, (long long)k, kw);
        if (k != kw) break;
    }
    bpe_scratch_free(&s);
    bpe_free(&b);
}

TEST(bpe_long_run_of_one_byte) {
    static const char *const extra[] = {"aa", "aaaa"};
    bpe_t b;
    CHECK(make_vocab(&b, extra, 2) == 0);
    bpe_scratch_t s = {0};
    size_t n = 100001;
    uint8_t *text = malloc(n);
    int32_t *ids = malloc(n * sizeof *ids);
    memset(text, 'a', n);
    int64_t k = bpe_encode_piece(&b, &s, text, n, ids);
    CHECK(k == 25001);  // 25000 x "aaaa" then one "a"
    CHECK(ids[0] == 257 && ids[24999] == 257 && ids[25000] == 'a');
    free(text);
    free(ids);
    bpe_scratch_free(&s);
    bpe_free(&b);
}

TEST(bpe_rejects_bad_vocabularies) {
    static const char *const dup[] = {"ab", "ab"};
    bpe_t b;
    CHECK(make_vocab(&b, dup, 2) != 0);
    uint8_t x = 'x';
    const uint8_t *t[1] = {&x};
    uint32_t l[1] = {1};
    err_t e = {0};
    CHECK(bpe_init(&b, t, l, 1, &e) != 0 && strstr(e.msg, "byte 0x00"));
}

typedef struct {
    char pieces[64][64];
    int n;
} split_t;

static int collect(const char *text, size_t start, size_t end, void *ctx) {
    split_t *s = ctx;
    snprintf(s->pieces[s->n++], 64, "%.*s", (int)(end - start), text + start);
    return s->n == 64;
}

static void check_split(const char *pattern, const char *text, const char *const *want, int nwant) {
    pretok_t *p;
    err_t e = {0};
    split_t s = {.n = 0};
    CHECK(pretok_new(&p, pattern, &e) == 0);
    CHECK(pretok_split(p, text, strlen(text), collect, &s, &e) == 0);
    CHECK_MSG(s.n == nwant, "%s on '%s': %d pieces, expected %d", pattern, text, s.n, nwant);
    for (int i = 0; i < s.n && i < nwant; i++)
        CHECK_MSG(strcmp(s.pieces[i], want[i]) == 0, "%s piece %d: '%s', expected '%s'", pattern, i, s.pieces[i],
                  want[i]);
    pretok_free(p);
}

TEST(pretok_builtin_patterns) {
    // Contractions, a leading space joined to words, digits in groups of three (cl100k), and
    // "\s+(?!\S)" leaving the last space of a run to the next word.
    const char *gpt2[] = {"Hello", " world", "'s", " 12345", "   ", " ok", "!!", "\n"};
    check_split("gpt2", "Hello world's 12345    ok!!\n", gpt2, 8);
    const char *cl[] = {"Hello", " world", "'S", " ", "123", "45", "   ", " ok", "!!\n"};
    check_split("cl100k", "Hello world'S 12345    ok!!\n", cl, 9);
    // o200k: case-aware words that keep their contraction; a kana/kanji run is one piece.
    const char *o2[] = {"Hello", "World's", " 日本語テキスト", "123", "4"};
    check_split("o200k", "HelloWorld's 日本語テキスト1234", o2, 5);
}

TEST(pretok_covers_invalid_utf8_and_rejects_bad_regex) {
    const char text[] = "ab\xff\xfe cd \xe3\x81";
    pretok_t *p;
    err_t e = {0};
    split_t s = {.n = 0};
    CHECK(pretok_new(&p, "gpt2", &e) == 0);
    CHECK(pretok_split(p, text, sizeof text - 1, collect, &s, &e) == 0);
    size_t total = 0;
    for (int i = 0; i < s.n; i++) total += strlen(s.pieces[i]);
    CHECK(total == sizeof text - 1);  // every byte lands in exactly one piece
    pretok_free(p);
    CHECK(pretok_new(&p, "(unclosed", &e) != 0 && strstr(e.msg, "split pattern"));
}

TEST(tokenizer_byte_round_trip_and_specials) {
    tok_t *t;
    err_t e = {0};
    CHECK(tok_load(&t, "byte", NULL, &e) == 0);
    const char text[] = "a<|endoftext|>\xff";
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    CHECK(tok_encode(t, text, sizeof text - 1, 0, &ids, &n, &cap, &e) == 0);
    CHECK(n == sizeof text - 1);  // the special's string is plain text
    n = 0;
    CHECK(tok_encode(t, text, sizeof text - 1, 1, &ids, &n, &cap, &e) == 0);
    CHECK(n == 3 && ids[0] == 'a' && ids[1] == tok_special(t, TOK_EOT) && ids[2] == 0xff);
    CHECK(tok_vocab_size(t) == 261 && tok_token_nbytes(t, ids[1]) == 0);
    free(ids);
    tok_free(t);
}

TEST(tokenizer_tiktoken_file_errors) {
    char path[512];
    snprintf(path, sizeof path, "%s/bad.tiktoken", test_tmpdir());
    FILE *f = fopen(path, "w");
    fprintf(f, "AA== 0\nAQ== 1\nnot-base64! 2\n");
    fclose(f);
    tok_t *t;
    err_t e = {0};
    CHECK(tok_load(&t, path, "gpt2", &e) != 0 && strstr(e.msg, "bad.tiktoken:3"));
    f = fopen(path, "w");
    fprintf(f, "AA== 0\nAQ== 5\n");
    fclose(f);
    CHECK(tok_load(&t, path, "gpt2", &e) != 0 && strstr(e.msg, ":2") && strstr(e.msg, "rank"));
    CHECK(tok_load(&t, path, NULL, &e) != 0 && strstr(e.msg, "--pattern"));
    CHECK(tok_load(&t, "nonsense", NULL, &e) != 0);
}

#include "core/io.h"
#include "tokenizer/train.h"

static void write_corpus(const char *path) {
    FILE *f = fopen(path, "w");
    rng_t r;
    rng_seed(&r, 11);
    static const char *const words[] = {"the", "cat", "sat", "on", "mat", "日本語", "の", "テキスト", "です", "12345",
                                        "don't", "  ", "\n", "ファイル", "を", "読む"};
    for (int i = 0; i < 20000; i++) fprintf(f, "%s%s", words[rng_below(&r, 16)], rng_below(&r, 3) ? " " : "");
    fclose(f);
}

static int train_to(const char *corpus, const char *out, int vocab, int threads, err_t *e) {
    const char *in[1] = {corpus};
    tok_train_opts_t o = {.inputs = in, .n_inputs = 1, .vocab_size = vocab, .pattern = "o200k", .out = out,
                          .threads = threads};
    tok_train_report_t rep;
    return tok_train(&o, &rep, e);
}

TEST(tokenizer_train_round_trip_and_determinism) {
    char corpus[512], a[512], b[512], cmd[1200];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", test_tmpdir());
    snprintf(a, sizeof a, "%s/tok1.json", test_tmpdir());
    snprintf(b, sizeof b, "%s/tok2.json", test_tmpdir());
    write_corpus(corpus);
    err_t e = {0};
    CHECK_MSG(train_to(corpus, a, 500, 1, &e) == 0, "%s", e.msg);
    CHECK_MSG(train_to(corpus, b, 500, 2, &e) == 0, "%s", e.msg);
    snprintf(cmd, sizeof cmd, "cmp -s %s %s", a, b);
    CHECK_MSG(system(cmd) == 0, "training with 1 and 2 threads gave different tokenizers");
    tok_t *t;
    CHECK_MSG(tok_load(&t, a, NULL, &e) == 0, "%s", e.msg);
    if (!t) return;
    CHECK(tok_vocab_size(t) == 500);
    CHECK(tok_special(t, TOK_EOT) == 495 && tok_special(t, TOK_END) == 499);  // reserved after the merges
    // Frequent words became single tokens.
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    CHECK(tok_encode(t, " the", 4, 0, &ids, &n, &cap, &e) == 0 && n == 1);
    // Any bytes round-trip, valid UTF-8 or not.
    rng_t r;
    rng_seed(&r, 3);
    char text[600];
    for (int trial = 0; trial < 50; trial++) {
        size_t len = rng_below(&r, sizeof text);
        for (size_t i = 0; i < len; i++) text[i] = trial % 2 ? (char)rng_below(&r, 256) : " the日本語ab\n"[rng_below(&r, 12)];
        n = 0;
        CHECK(tok_encode(t, text, len, 0, &ids, &n, &cap, &e) == 0);
        char back[600 * 4];
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            size_t tl;
            const char *tb = tok_token_bytes(t, ids[i], &tl);
            memcpy(back + m, tb, tl);
            m += tl;
        }
        CHECK_MSG(m == len && memcmp(back, text, len) == 0, "trial %d: round trip failed", trial);
    }
    free(ids);
    tok_free(t);
}

TEST(tokenizer_train_bad_input) {
    char corpus[512], out[512], empty[512];
    snprintf(corpus, sizeof corpus, "%s/corpus2.txt", test_tmpdir());
    snprintf(out, sizeof out, "%s/never.json", test_tmpdir());
    snprintf(empty, sizeof empty, "%s/empty.txt", test_tmpdir());
    write_corpus(corpus);
    fclose(fopen(empty, "w"));
    err_t e = {0};
    CHECK(train_to(corpus, out, 200, 1, &e) != 0 && strstr(e.msg, "256"));  // 256 bytes + 5 specials
    CHECK(train_to(empty, out, 1000, 1, &e) != 0 && strstr(e.msg, "empty"));
    CHECK(train_to("/nonexistent/x.txt", out, 1000, 1, &e) != 0 && strstr(e.msg, "/nonexistent/x.txt"));
    CHECK(!io_exists(out));
}
