// Exactness against tiktoken: manabi loads OpenAI's rank files and must give exactly the ids
// the npm `tiktoken` package (OpenAI's Rust core) gives, on every test string, for gpt2,
// cl100k_base and o200k_base.  scripts/fetch_tiktoken.sh writes the rank files and the
// vectors (tools/tiktoken_oracle/strings.mjs: English, Japanese, code, emoji, whitespace runs,
// digits, contractions, mixed scripts, invalid-looking edge cases); it is run here if they are
// missing, so the test needs the npm registry once.
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/io.h"
#include "test.h"
#include "tokenizer/tokenizer.h"

#define DIR "data/tiktoken"

static int ensure_vectors(void) {
    if (io_exists(DIR "/vectors.jsonl") && io_exists(DIR "/o200k_base.tiktoken")) return 0;
    return system("scripts/fetch_tiktoken.sh --vectors >/dev/null");
}

TEST(tiktoken_exact_ids_all_encodings) {
    CHECK_MSG(ensure_vectors() == 0, "scripts/fetch_tiktoken.sh --vectors failed");
    static const char *const names[3] = {"gpt2", "cl100k_base", "o200k_base"};
    tok_t *toks[3] = {0};
    err_t e = {0};
    for (int i = 0; i < 3; i++) {
        char path[256];
        snprintf(path, sizeof path, DIR "/%s.tiktoken", names[i]);
        CHECK_MSG(tok_load(&toks[i], path, NULL, &e) == 0, "%s", e.msg);
    }
    FILE *f = fopen(DIR "/vectors.jsonl", "r");
    CHECK(f != NULL);
    char *line = NULL;
    size_t cap = 0, nline = 0, checked[3] = {0}, bad = 0;
    int32_t *ids = NULL;
    size_t idcap = 0;
    while (f && toks[0] && toks[1] && toks[2] && getline(&line, &cap, f) > 0) {
        nline++;
        json_object *o = json_tokener_parse(line), *v;
        CHECK_MSG(o != NULL, "vectors.jsonl:%zu is not JSON", nline);
        if (!o) continue;
        json_object_object_get_ex(o, "encoding", &v);
        const char *enc = json_object_get_string(v);
        int k = strcmp(enc, "gpt2") == 0 ? 0 : strcmp(enc, "cl100k_base") == 0 ? 1 : 2;
        json_object_object_get_ex(o, "text_b64", &v);
        const char *b64 = json_object_get_string(v);
        uint8_t *text = malloc(strlen(b64) * 3 / 4 + 4);
        long len = base64_decode(b64, strlen(b64), text);
        int allow = json_object_object_get_ex(o, "allowed_special", &v);
        json_object *want;
        json_object_object_get_ex(o, "ids", &want);
        size_t n = 0;
        CHECK(tok_encode(toks[k], (const char *)text, (size_t)len, allow, &ids, &n, &idcap, &e) == 0);
        int same = n == json_object_array_length(want);
        for (size_t i = 0; same && i < n; i++) same = ids[i] == json_object_get_int(json_object_array_get_idx(want, i));
        json_object_object_get_ex(o, "name", &v);
        if (!same && bad++ < 8)
            test_fail(__FILE__, __LINE__, "%s '%s'%s: %zu ids, tiktoken %zu", enc, json_object_get_string(v),
                      allow ? " (specials allowed)" : "", n, json_object_array_length(want));
        // Decoding the ids gives the bytes back.
        size_t total = 0;
        for (size_t i = 0; i < n; i++) {
            size_t tl;
            const char *tb = tok_token_bytes(toks[k], ids[i], &tl);
            CHECK(tb && total + tl <= (size_t)len && memcmp(text + total, tb, tl) == 0);
            total += tl;
        }
        CHECK(total == (size_t)len);
        checked[k]++;
        free(text);
        json_object_put(o);
    }
    CHECK_MSG(checked[0] > 100 && checked[1] > 100 && checked[2] > 100, "only %zu/%zu/%zu vectors", checked[0],
              checked[1], checked[2]);
    free(ids);
    free(line);
    if (f) fclose(f);
    for (int i = 0; i < 3; i++) tok_free(toks[i]);
}

// GPT-2's original encoder.json + vocab.bpe load as exactly the gpt2 encoding, and exporting a
// rank file gives back OpenAI's file byte for byte.
TEST(tiktoken_gpt2_import_and_export) {
    CHECK_MSG(ensure_vectors() == 0, "scripts/fetch_tiktoken.sh --vectors failed");
    tok_t *a, *b;
    err_t e = {0};
    CHECK_MSG(tok_load(&a, DIR "/gpt2-bpe/encoder.json", NULL, &e) == 0, "%s", e.msg);
    CHECK_MSG(tok_load(&b, DIR "/gpt2.tiktoken", NULL, &e) == 0, "%s", e.msg);
    if (!a || !b) return;
    CHECK(tok_hash(a) == tok_hash(b) && tok_vocab_size(a) == 50257);
    static const char *const names[3] = {"gpt2", "cl100k_base", "o200k_base"};
    for (int i = 0; i < 3; i++) {
        char src[256], dst[512], cmd[1024];
        snprintf(src, sizeof src, DIR "/%s.tiktoken", names[i]);
        snprintf(dst, sizeof dst, "%s/%s.tiktoken", test_tmpdir(), names[i]);
        tok_t *t;
        CHECK(tok_load(&t, src, NULL, &e) == 0);
        CHECK(tok_export_tiktoken(t, dst, &e) == 0);
        snprintf(cmd, sizeof cmd, "cmp -s %s %s", src, dst);
        CHECK_MSG(system(cmd) == 0, "exported %s differs from OpenAI's file", names[i]);
        tok_free(t);
    }
    tok_free(a);
    tok_free(b);
}
