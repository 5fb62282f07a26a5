// Tests for the data layer: token shards (data/shard), the batch loader (data/loader) and
// text -> shards (data/textshards).  Each test notes the mutation of the code it catches.
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/loader.h"
#include "data/shard.h"
#include "data/textshards.h"
#include "tokenizer/tokenizer.h"
#include "test.h"

// A fresh directory <tmp>/<name> (removed first if a previous test used the name).
static const char *fresh_dir(const char *name) {
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ % 8];
    snprintf(p, sizeof buf[0], "%s/%s", test_tmpdir(), name);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
    if (system(cmd) != 0 || mkdir(p, 0755) != 0) test_fail(__FILE__, __LINE__, "cannot create %s", p);
    return p;
}

static const char *join(const char *dir, const char *name) {
    static char buf[32][700];
    static int slot;
    char *p = buf[slot++ % 32], tmp[sizeof buf[0]];
    if (snprintf(tmp, sizeof tmp, "%s/%s", dir, name) >= (int)sizeof tmp)  // dir may be an earlier join
        test_fail(__FILE__, __LINE__, "path too long");
    memcpy(p, tmp, sizeof tmp);
    return p;
}

static int write_text(const char *path, const char *s) { return test_write_file(path, s, strlen(s)); }

static int read_all(const char *path, uint8_t **out, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    *out = malloc((size_t)sz + 1);
    *n = *out ? fread(*out, 1, (size_t)sz, fp) : 0;
    fclose(fp);
    return *out && *n == (size_t)sz ? 0 : -1;
}

// Number of directory entries other than . and ..
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

// A shard in llm.c's plain format: 256 int32 header {20240520, 1, n, 0...}, uint16 tokens.
static int write_llmc_shard(const char *path, const uint16_t *tok, int n) {
    size_t bytes = 1024 + (size_t)n * 2;
    uint8_t *buf = calloc(1, bytes);
    int32_t h[3] = {20240520, 1, n};
    memcpy(buf, h, sizeof h);
    memcpy(buf + 1024, tok, (size_t)n * 2);
    int rc = test_write_file(path, buf, bytes);
    free(buf);
    return rc;
}

// Writes tokens base, base+1, ..., base+n-1 as a manabi shard (vocabulary 1000).
static void write_ramp(const char *path, int base, int n) {
    int32_t *t = malloc(sizeof(int32_t) * n);
    for (int i = 0; i < n; i++) t[i] = base + i;
    err_t e = {{0}};
    if (shard_write(path, t, n, 1000, 999, 0, &e) != 0) test_fail(__FILE__, __LINE__, "%s", e.msg);
    free(t);
}

// ---- shards ---------------------------------------------------------------------------------

// Mutation: writing version 2 for vocab 65536, or truncating ids to 16 bits, fails this.
TEST(shard_round_trip_v1) {
    const char *dir = fresh_dir("shard_v1");
    const char *path = join(dir, "a.bin");
    int32_t tok[] = {0, 1, 65535, 300, 7, 65534};
    int n = (int)(sizeof tok / sizeof tok[0]);
    err_t e = {{0}};
    CHECK_MSG(shard_write(path, tok, n, 65536, 65535, 0x0123456789abcdefULL, &e) == 0, "%s", e.msg);
    shard_t s;
    if (shard_open(&s, path, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    CHECK(s.width == 2);
    CHECK(((const int32_t *)s.map)[1] == 1);
    CHECK(s.n == n);
    CHECK(s.has_meta == 1);
    CHECK(s.vocab_size == 65536);
    CHECK(s.eot == 65535);
    CHECK(s.tok_hash == 0x0123456789abcdefULL);
    for (int i = 0; i < n; i++)
        CHECK_MSG(shard_token(&s, i) == (uint32_t)tok[i], "token %d: %u != %d", i, shard_token(&s, i), tok[i]);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 1024 + 2 * n);
    shard_close(&s);
}

// Mutation: writing 16-bit tokens for vocab > 65536 loses the high ids and fails this.
TEST(shard_round_trip_v2) {
    const char *dir = fresh_dir("shard_v2");
    const char *path = join(dir, "a.bin");
    int32_t tok[] = {0, 65535, 65536, 69999, 12345, 70000 - 2};
    int n = (int)(sizeof tok / sizeof tok[0]);
    err_t e = {{0}};
    CHECK_MSG(shard_write(path, tok, n, 70000, 0, 42, &e) == 0, "%s", e.msg);
    shard_t s;
    if (shard_open(&s, path, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    CHECK(s.width == 4);
    CHECK(((const int32_t *)s.map)[1] == 2);
    CHECK(s.n == n);
    CHECK(s.vocab_size == 70000 && s.eot == 0 && s.tok_hash == 42);
    for (int i = 0; i < n; i++)
        CHECK_MSG(shard_token(&s, i) == (uint32_t)tok[i], "token %d: %u != %d", i, shard_token(&s, i), tok[i]);
    shard_close(&s);
}

// Mutation: requiring the MNBI extension (or checksumming without it) rejects llm.c's files.
TEST(shard_reads_llmc_format) {
    const char *dir = fresh_dir("shard_llmc");
    const char *path = join(dir, "llmc.bin");
    uint16_t tok[] = {50256, 15496, 11, 995, 0, 65535};
    CHECK(write_llmc_shard(path, tok, 6) == 0);
    shard_t s;
    err_t e = {{0}};
    if (shard_open(&s, path, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    CHECK(s.has_meta == 0);
    CHECK(s.width == 2 && s.n == 6);
    CHECK(s.vocab_size == 0 && s.eot == -1);
    for (int i = 0; i < 6; i++) CHECK(shard_token(&s, i) == tok[i]);
    shard_close(&s);
}

// Writes a good shard, lets `corrupt` damage its bytes, and expects shard_open to fail with a
// message that names the path and contains `want`.
static void expect_shard_reject(int line, const char *name, void (*corrupt)(uint8_t *, size_t *), const char *want) {
    const char *dir = fresh_dir("shard_bad");
    const char *path = join(dir, name);
    int32_t tok[64];
    for (int i = 0; i < 64; i++) tok[i] = (i * 37) % 256;
    err_t e = {{0}};
    if (shard_write(path, tok, 64, 256, 255, 0, &e) != 0) {
        test_fail(__FILE__, line, "%s", e.msg);
        return;
    }
    uint8_t *buf;
    size_t n;
    if (read_all(path, &buf, &n) != 0) {
        test_fail(__FILE__, line, "cannot read %s", path);
        return;
    }
    buf = realloc(buf, n + 16);
    corrupt(buf, &n);
    test_write_file(path, buf, n);
    free(buf);
    shard_t s;
    memset(&e, 0, sizeof e);
    if (shard_open(&s, path, &e) == 0) {
        test_fail(__FILE__, line, "%s: shard_open accepted a damaged shard", name);
        shard_close(&s);
        return;
    }
    if (!strstr(e.msg, path)) test_fail(__FILE__, line, "message does not name the file: %s", e.msg);
    if (!strstr(e.msg, want)) test_fail(__FILE__, line, "message lacks \"%s\": %s", want, e.msg);
}

static void bad_magic(uint8_t *b, size_t *n) { b[0] ^= 0xff; }
static void bad_version(uint8_t *b, size_t *n) { b[4] = 3; }
static void cut_tokens(uint8_t *b, size_t *n) { *n -= 2; }
static void cut_header(uint8_t *b, size_t *n) { *n = 1000; }
static void extra_token(uint8_t *b, size_t *n) { b[(*n)++] = 1, b[(*n)++] = 0; }
static void extra_byte(uint8_t *b, size_t *n) { b[(*n)++] = 1; }
static void flip_token(uint8_t *b, size_t *n) { b[1024 + 40] ^= 0x01; }

// Mutation: dropping any one check in shard_open makes the matching case pass through; reading
// s->n after shard_close (which zeroes it) reports "0 tokens".
TEST(shard_rejects_damage) {
    expect_shard_reject(__LINE__, "magic.bin", bad_magic, "not a token shard");
    expect_shard_reject(__LINE__, "version.bin", bad_version, "version 3");
    // The size messages quote the header's 64 tokens = 1152 bytes.
    expect_shard_reject(__LINE__, "short.bin", cut_tokens, "truncated: header says 64 tokens (1152 bytes)");
    expect_shard_reject(__LINE__, "header.bin", cut_header, "truncated");
    expect_shard_reject(__LINE__, "extra.bin", extra_token, "corrupt: header says 64 tokens (1152 bytes)");
    expect_shard_reject(__LINE__, "extra1.bin", extra_byte, "corrupt");
    expect_shard_reject(__LINE__, "flip.bin", flip_token, "checksum");
}

// Mutation: skipping the vocabulary check, or writing to the final path directly, fails this.
TEST(shard_write_out_of_vocab_leaves_nothing) {
    const char *dir = fresh_dir("shard_oov");
    const char *path = join(dir, "x.bin");
    int32_t tok[] = {1, 2, 300, 4};
    err_t e = {{0}};
    CHECK(shard_write(path, tok, 4, 300, 0, 0, &e) != 0);
    CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "300"), "message: %s", e.msg);
    int32_t neg[] = {1, -1};
    CHECK(shard_write(path, neg, 2, 300, 0, 0, &e) != 0);
    CHECK_MSG(count_entries(dir) == 0, "%d files left in %s", count_entries(dir), dir);
}

// ---- loader ---------------------------------------------------------------------------------

// Two shards made so that every token tells its shard and position: b.bin is 100.., a.bin 0..
// Sequential order must read a.bin first (name order), windows of T+1 with stride T, then
// b.bin, then wrap and count an epoch.
// Mutation: stride T+1, or not switching shards / not counting epochs, fails this.
TEST(loader_sequential_order) {
    const char *dir = fresh_dir("loader_seq");
    write_ramp(join(dir, "b.bin"), 100, 40);  // written first, read second
    write_ramp(join(dir, "a.bin"), 0, 50);
    loader_t l;
    err_t e = {{0}};
    const int T = 8;
    if (loader_open(&l, join(dir, "*.bin"), T, 0, 1, 1000, 0, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    CHECK(l.n_shards == 2 && l.total == 90);
    // a.bin: (50-1)/8 = 6 windows at 0,8,..,40; b.bin: (40-1)/8 = 4 windows at 0..24.
    int expect_start[] = {0, 8, 16, 24, 32, 40, 100, 108, 116, 124, 0, 8};
    int32_t in[3 * T], tg[3 * T];
    for (int k = 0; k < 12; k += 3) {
        loader_next(&l, in, tg, 3);
        for (int b = 0; b < 3; b++)
            for (int t = 0; t < T; t++) {
                CHECK_MSG(in[b * T + t] == expect_start[k + b] + t, "window %d t %d: input %d, expected %d", k + b, t,
                          in[b * T + t], expect_start[k + b] + t);
                CHECK_MSG(tg[b * T + t] == in[b * T + t] + 1, "window %d: target is not the next input", k + b);
            }
        if (k == 6) CHECK_MSG(l.st.epoch == 0, "epoch %lld before the wrap", (long long)l.st.epoch);
    }
    CHECK_MSG(l.st.epoch == 1, "epoch %lld after one wrap", (long long)l.st.epoch);
    loader_close(&l);
}

// glob sorts each pattern's matches, but the files of a comma-separated list must also come
// out sorted by name (loader.h); otherwise "b,a" and "a,b" would be different runs.
// Mutation: keeping the per-pattern glob order fails this.
TEST(loader_patterns_sorted_by_name) {
    const char *dir = fresh_dir("loader_multi");
    write_ramp(join(dir, "b.bin"), 100, 40);
    write_ramp(join(dir, "a.bin"), 0, 50);
    char pats[1500];
    snprintf(pats, sizeof pats, "%s,%s", join(dir, "b.bin"), join(dir, "a.bin"));
    loader_t l;
    err_t e = {{0}};
    if (loader_open(&l, pats, 8, 0, 1, 1000, 0, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    CHECK(l.n_shards == 2);
    int32_t in[8], tg[8];
    loader_next(&l, in, tg, 1);
    CHECK_MSG(in[0] == 0, "first window starts at %d: shards not in name order", in[0]);
    loader_close(&l);
}

static void read_batches(loader_t *l, int n, int B, int32_t *in, int32_t *tg) {
    for (int i = 0; i < n; i++) loader_next(l, in + (size_t)i * B * l->T, tg + (size_t)i * B * l->T, B);
}

// Mutation: seeding from anything but the seed (e.g. time), or ignoring it, fails this.
TEST(loader_random_deterministic) {
    const char *dir = fresh_dir("loader_rand");
    write_ramp(join(dir, "a.bin"), 0, 300);
    write_ramp(join(dir, "b.bin"), 400, 200);
    const int T = 16, B = 4, N = 10;
    int32_t in[3][N * B * T], tg[3][N * B * T];
    uint64_t seeds[3] = {5, 5, 6};
    for (int r = 0; r < 3; r++) {
        loader_t l;
        err_t e = {{0}};
        if (loader_open(&l, join(dir, "*.bin"), T, 1, seeds[r], 1000, 0, &e) != 0) {
            test_fail(__FILE__, __LINE__, "%s", e.msg);
            return;
        }
        read_batches(&l, N, B, in[r], tg[r]);
        loader_close(&l);
    }
    CHECK_MSG(memcmp(in[0], in[1], sizeof in[0]) == 0 && memcmp(tg[0], tg[1], sizeof tg[0]) == 0,
              "same seed, different batches");
    CHECK_MSG(memcmp(in[0], in[2], sizeof in[0]) != 0, "different seeds, same batches");
    // Every window is T+1 consecutive tokens of one shard.
    int used_b = 0;
    for (int w = 0; w < N * B; w++) {
        const int32_t *x = in[0] + w * T, *y = tg[0] + w * T;
        int ok = (x[0] >= 0 && x[0] + T < 300) || (x[0] >= 400 && x[0] + T < 600);
        for (int t = 0; t < T; t++) ok &= x[t] == x[0] + t && y[t] == x[t] + 1;
        CHECK_MSG(ok, "random window %d is not a window of one shard (starts %d)", w, x[0]);
        used_b |= x[0] >= 400;
    }
    CHECK_MSG(used_b, "no window from the second shard in %d draws", N * B);
}

// A copy of the loader's state, restored into a freshly opened loader, continues with exactly
// the batches the original produced -- what checkpoints rely on.
// Mutation: state kept outside loader_state_t (e.g. a static RNG) fails this.
static void check_state_restore(int random) {
    const char *dir = fresh_dir("loader_state");
    write_ramp(join(dir, "a.bin"), 0, 130);
    write_ramp(join(dir, "b.bin"), 500, 90);
    const int T = 8, B = 3, N = 12;
    loader_t l, l2;
    err_t e = {{0}};
    if (loader_open(&l, join(dir, "*.bin"), T, random, 9, 1000, 0, &e) != 0 ||
        loader_open(&l2, join(dir, "*.bin"), T, random, 1234, 1000, 0, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    int32_t skip_in[7 * B * T], skip_tg[7 * B * T], a_in[N * B * T], a_tg[N * B * T], b_in[N * B * T],
        b_tg[N * B * T];
    read_batches(&l, 7, B, skip_in, skip_tg);
    loader_state_t saved = l.st;
    read_batches(&l, N, B, a_in, a_tg);
    read_batches(&l2, 3, B, skip_in, skip_tg);  // somewhere else entirely
    l2.st = saved;
    read_batches(&l2, N, B, b_in, b_tg);
    CHECK_MSG(memcmp(a_in, b_in, sizeof a_in) == 0 && memcmp(a_tg, b_tg, sizeof a_tg) == 0,
              "%s loader: restored state gives different batches", random ? "random" : "sequential");
    CHECK(l.st.epoch == l2.st.epoch && l.st.shard == l2.st.shard && l.st.pos == l2.st.pos);
    loader_close(&l);
    loader_close(&l2);
}

TEST(loader_state_restore) {
    check_state_restore(0);
    check_state_restore(1);
}

// Mutation: skipping the id scan of foreign shards, or the metadata vocabulary check, fails this.
TEST(loader_rejects_out_of_vocab) {
    const char *dir = fresh_dir("loader_vocab");
    uint16_t tok[40];
    for (int i = 0; i < 40; i++) tok[i] = (uint16_t)i;
    tok[33] = 300;
    const char *path = join(dir, "foreign.bin");
    CHECK(write_llmc_shard(path, tok, 40) == 0);
    loader_t l;
    err_t e = {{0}};
    CHECK(loader_open(&l, path, 8, 0, 0, 300, 0, &e) != 0);
    CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "300"), "message: %s", e.msg);
    memset(&e, 0, sizeof e);
    CHECK_MSG(loader_open(&l, path, 8, 0, 0, 301, 0, &e) == 0, "vocab 301 holds id 300: %s", e.msg);
    loader_close(&l);
    // A manabi shard made for a larger vocabulary than the model's.
    const char *big = join(dir, "big.bin");
    write_ramp(big, 0, 40);  // vocabulary 1000
    memset(&e, 0, sizeof e);
    CHECK(loader_open(&l, big, 8, 0, 0, 500, 0, &e) != 0);
    CHECK_MSG(strstr(e.msg, big) && strstr(e.msg, "1000"), "message: %s", e.msg);
}

// Mutation: `s->n < T` instead of `s->n < T + 1` accepts a shard without a whole window.
TEST(loader_rejects_short_shard) {
    const char *dir = fresh_dir("loader_short");
    const char *path = join(dir, "short.bin");
    write_ramp(path, 0, 16);
    loader_t l;
    err_t e = {{0}};
    CHECK(loader_open(&l, path, 16, 0, 0, 1000, 0, &e) != 0);
    CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "16"), "message: %s", e.msg);
    memset(&e, 0, sizeof e);
    CHECK_MSG(loader_open(&l, path, 15, 1, 0, 1000, 0, &e) == 0, "T+1 tokens must be enough: %s", e.msg);
    int32_t in[15], tg[15];
    loader_next(&l, in, tg, 1);  // the only window
    CHECK(in[0] == 0 && tg[14] == 15);
    loader_close(&l);
}

TEST(loader_no_match_names_pattern) {
    const char *dir = fresh_dir("loader_nomatch");
    const char *pat = join(dir, "nothing_*.bin");
    loader_t l;
    err_t e = {{0}};
    CHECK(loader_open(&l, pat, 8, 0, 0, 1000, 0, &e) != 0);
    CHECK_MSG(strstr(e.msg, pat) != NULL, "message does not name the pattern: %s", e.msg);
    // The second of two patterns matching nothing is named too.
    write_ramp(join(dir, "ok.bin"), 0, 20);
    char pats[1500];
    snprintf(pats, sizeof pats, "%s,%s", join(dir, "ok.bin"), pat);
    memset(&e, 0, sizeof e);
    CHECK(loader_open(&l, pats, 8, 0, 0, 1000, 0, &e) != 0);
    CHECK_MSG(strstr(e.msg, pat) != NULL, "message does not name the pattern: %s", e.msg);
}

// ---- textshards -----------------------------------------------------------------------------

// Reads a whole shard into malloc'ed ints.
static int32_t *shard_ids(const char *path, int64_t *n) {
    shard_t s;
    err_t e = {{0}};
    *n = 0;
    if (shard_open(&s, path, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return NULL;
    }
    int32_t *ids = malloc(sizeof(int32_t) * (s.n + 1));
    for (int64_t i = 0; i < s.n; i++) ids[i] = (int32_t)shard_token(&s, i);
    *n = s.n;
    shard_close(&s);
    return ids;
}

static int build(const char *out, const char *const *inputs, int n, double val, int64_t shard_tokens,
                 textshards_report_t *rep, err_t *e) {
    tok_t *tok;
    if (tok_load(&tok, "byte", NULL, e) != 0) return -1;
    textshards_opts_t o = {.inputs = inputs, .n_inputs = n, .out_dir = out, .delimiter = "<|endoftext|>",
                           .val_fraction = val, .shard_tokens = shard_tokens};
    int rc = textshards_build(&o, tok, rep, e);
    tok_free(tok);
    return rc;
}

// The delimiter splits only when it is a whole line; blank documents are skipped and counted;
// every document is <|endoftext|> followed by its bytes.
// Mutation: matching the delimiter anywhere in a line, or not writing the leading EOT, fails this.
TEST(textshards_documents) {
    const char *dir = fresh_dir("ts_docs");
    const char *in = join(dir, "in.txt");
    const char *text =
        "first doc, mentions <|endoftext|> inline\n"
        "<|endoftext|>x is not a delimiter\n"
        "<|endoftext|>\n"
        "second doc\n"
        "<|endoftext|>\n"
        "\n\n"
        "<|endoftext|>\n"
        "<|endoftext|>\n"
        "third doc\n"
        "<|endoftext|>";
    CHECK(write_text(in, text) == 0);
    const char *inputs[] = {in};
    textshards_report_t rep;
    err_t e = {{0}};
    const char *out = join(dir, "out");
    if (build(out, inputs, 1, 0.0, 1 << 20, &rep, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return;
    }
    CHECK_MSG(rep.docs[0] == 3 && rep.docs[1] == 0, "docs %lld/%lld, expected 3/0", (long long)rep.docs[0],
              (long long)rep.docs[1]);
    CHECK_MSG(rep.empty_docs == 2, "empty docs %lld, expected 2", (long long)rep.empty_docs);
    CHECK(rep.shards[0] == 1 && rep.shards[1] == 0);
    const char *docs[] = {"first doc, mentions <|endoftext|> inline\n<|endoftext|>x is not a delimiter", "second doc",
                          "third doc"};
    tok_t *tok;
    tok_load(&tok, "byte", NULL, &e);
    int32_t eot = tok_special(tok, TOK_EOT);
    tok_free(tok);
    int64_t want_n = 0;
    for (int d = 0; d < 3; d++) want_n += 1 + (int64_t)strlen(docs[d]);
    int64_t n;
    int32_t *ids = shard_ids(join(out, "train_000000.bin"), &n);
    if (!ids) return;
    CHECK_MSG(n == want_n, "%lld tokens, expected %lld", (long long)n, (long long)want_n);
    CHECK(rep.tokens[0] == want_n);
    int64_t k = 0;
    for (int d = 0; d < 3 && k < n; d++) {
        CHECK_MSG(ids[k] == eot, "document %d does not start with <|endoftext|> (token %d)", d, ids[k]);
        k++;
        for (size_t i = 0; i < strlen(docs[d]) && k < n; i++, k++)
            if (ids[k] != (uint8_t)docs[d][i]) {
                test_fail(__FILE__, __LINE__, "document %d byte %zu: token %d, expected '%c'", d, i, ids[k],
                          docs[d][i]);
                break;
            }
    }
    free(ids);
    CHECK_MSG(count_entries(out) == 1, "%d files in %s, expected train_000000.bin only", count_entries(out), out);
}

// Splits ids at <|endoftext|> (any id >= 256) and appends the documents, as strings, to list.
static int split_ids(const int32_t *ids, int64_t len, char **list, int n, int cap) {
    char *cur = NULL;
    size_t cl = 0;
    for (int64_t i = 0; i <= len; i++) {
        if (i == len || ids[i] >= 256) {
            if (cur && n < cap) {
                cur[cl] = 0;
                list[n++] = cur;
            } else free(cur);
            cur = i < len ? malloc((size_t)len + 1) : NULL;
            cl = 0;
        } else if (cur) cur[cl++] = (char)ids[i];
    }
    return n;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

// Every document of one split (its shards concatenated: a document may span two shards) as a
// sorted list of strings.
static int split_docs(const char *dir, const char *prefix, char **list, int cap) {
    int32_t *all = NULL;
    int64_t total = 0;
    for (int i = 0; i < 100; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%06d.bin", prefix, i);
        const char *p = join(dir, name);
        if (access(p, F_OK) != 0) break;
        int64_t n;
        int32_t *ids = shard_ids(p, &n);
        if (!ids) break;
        all = realloc(all, sizeof(int32_t) * (size_t)(total + n));
        memcpy(all + total, ids, sizeof(int32_t) * (size_t)n);
        total += n;
        free(ids);
    }
    int n = split_ids(all, total, list, 0, cap);
    free(all);
    qsort(list, (size_t)n, sizeof *list, cmp_str);
    return n;
}

// The validation split depends on each document's text only: swapping the input files (which
// reorders every document) keeps the same documents in train and in val.
// Mutation: choosing the split by a running document counter or an RNG fails this.
TEST(textshards_split_deterministic) {
    const char *dir = fresh_dir("ts_split");
    char *text[2];
    for (int f = 0; f < 2; f++) {
        text[f] = malloc(1 << 16);
        size_t n = 0;
        for (int d = 0; d < (f ? 23 : 30); d++)  // unequal counts: no accidental symmetry
            n += (size_t)snprintf(text[f] + n, (1 << 16) - n, "file %d document %d: some words %d.\n<|endoftext|>\n",
                                  f, d, d * 7919 % 1000);
    }
    const char *f1 = join(dir, "one.txt"), *f2 = join(dir, "two.txt");
    CHECK(write_text(f1, text[0]) == 0 && write_text(f2, text[1]) == 0);
    free(text[0]);
    free(text[1]);
    const char *ab[] = {f1, f2}, *ba[] = {f2, f1};
    char outs[3][700];  // join's results are recycled: keep copies
    snprintf(outs[0], sizeof outs[0], "%s", join(dir, "ab"));
    snprintf(outs[1], sizeof outs[1], "%s", join(dir, "ba"));
    snprintf(outs[2], sizeof outs[2], "%s", join(dir, "ab2"));
    const char *const *orders[3] = {ab, ba, ab};
    textshards_report_t rep[3];
    for (int r = 0; r < 3; r++) {
        err_t e = {{0}};
        // Small shards so that both splits span several files.
        if (build(outs[r], orders[r], 2, 0.3, 200, &rep[r], &e) != 0) {
            test_fail(__FILE__, __LINE__, "%s", e.msg);
            return;
        }
    }
    CHECK(rep[0].docs[0] + rep[0].docs[1] == 53);
    CHECK_MSG(rep[0].docs[1] > 5 && rep[0].docs[0] > 25, "split %lld/%lld is far from 70/30",
              (long long)rep[0].docs[0], (long long)rep[0].docs[1]);
    CHECK(rep[0].docs[1] == rep[1].docs[1] && rep[0].tokens[1] == rep[1].tokens[1]);
    for (int k = 0; k < 2; k++) {
        const char *prefix = k ? "val" : "train";
        char *a[64], *b[64];
        int na = split_docs(outs[0], prefix, a, 64), nb = split_docs(outs[1], prefix, b, 64);
        CHECK_MSG(na == rep[0].docs[k] && nb == na, "%s: %d and %d documents, report says %lld", prefix, na, nb,
                  (long long)rep[0].docs[k]);
        for (int i = 0; i < na && i < nb; i++)
            if (strcmp(a[i], b[i]) != 0) {
                test_fail(__FILE__, __LINE__, "%s split depends on the file order: '%s' vs '%s'", prefix, a[i], b[i]);
                break;
            }
        for (int i = 0; i < na; i++) free(a[i]);
        for (int i = 0; i < nb; i++) free(b[i]);
    }
    // The same inputs in the same order give byte-identical shards.
    for (int i = 0; i < rep[0].shards[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "train_%06d.bin", i);
        uint8_t *x = NULL, *y = NULL;
        size_t nx, ny;
        if (read_all(join(outs[0], name), &x, &nx) == 0 && read_all(join(outs[2], name), &y, &ny) == 0)
            CHECK_MSG(nx == ny && memcmp(x, y, nx) == 0, "%s differs between two identical builds", name);
        else test_fail(__FILE__, __LINE__, "cannot read %s", name);
        free(x);
        free(y);
    }
}

// A failed build leaves no shard behind, even when shards of the earlier files were already
// written (here the small shard size flushes good.txt's tokens before bad.txt is read): a
// partial set of shards would otherwise pass for a whole corpus.
// Mutation: removing the NUL check lets a binary file through; removing the clean-up on
// failure leaves train_000000.bin.
TEST(textshards_rejects_nul) {
    const char *dir = fresh_dir("ts_nul");
    const char *good = join(dir, "good.txt"), *bad = join(dir, "bad.txt");
    CHECK(write_text(good, "a fine document, long enough to fill a few shards of 8 tokens\n") == 0);
    CHECK(test_write_file(bad, "text\0more", 9) == 0);
    const char *inputs[] = {good, bad};
    for (int small = 0; small < 2; small++) {
        textshards_report_t rep;
        err_t e = {{0}};
        const char *out = join(dir, small ? "out_small" : "out");
        CHECK(build(out, inputs, 2, 0.0, small ? 8 : 1 << 20, &rep, &e) != 0);
        CHECK_MSG(strstr(e.msg, bad) && strstr(e.msg, "NUL"), "message: %s", e.msg);
        CHECK_MSG(count_entries(out) <= 0, "%d files left in %s", count_entries(out), out);
    }
}

// Every document lands in validation: the build fails (no training data) and writes nothing.
// Mutation: checking for training documents only after the final flush leaves val_000000.bin.
TEST(textshards_no_train_docs_leaves_nothing) {
    const char *dir = fresh_dir("ts_allval");
    const char *in = join(dir, "in.txt");
    CHECK(write_text(in, "only one document\n") == 0);
    const char *inputs[] = {in};
    textshards_report_t rep;
    err_t e = {{0}};
    const char *out = join(dir, "out");
    CHECK(build(out, inputs, 1, 0.999999, 1 << 20, &rep, &e) != 0);
    CHECK_MSG(strstr(e.msg, "no training documents"), "message: %s", e.msg);
    CHECK_MSG(count_entries(out) <= 0, "%d files left in %s", count_entries(out), out);
}
