// Chat template: exact ids and loss mask, encode/decode round trips (byte-level and with BPE
// merges), the positions decode errors name, JSON round trips and errors, tokenizer checks.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "core/rng.h"
#include "test.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

static void add(chat_t *c, chat_role_t r, const char *s) {
    err_t e = {0};
    CHECK_MSG(chat_add(c, r, s, strlen(s), &e) == 0, "%s", e.msg);
}

// 1 when a and b hold the same messages; otherwise reports the first difference under what.
static int same_chat(const chat_t *a, const chat_t *b, const char *what) {
    if (a->n != b->n) {
        test_fail(__FILE__, __LINE__, "%s: %d messages, expected %d", what, a->n, b->n);
        return 0;
    }
    for (int i = 0; i < a->n; i++) {
        const chat_msg_t *x = &a->msgs[i], *y = &b->msgs[i];
        if (x->role != y->role || x->len != y->len || memcmp(x->content, y->content, x->len) != 0 ||
            x->content[x->len] != 0) {
            test_fail(__FILE__, __LINE__, "%s: message %d is %s '%.*s', expected %s '%.*s'", what, i,
                      chat_role_name(x->role), (int)x->len, x->content, chat_role_name(y->role), (int)y->len,
                      y->content);
            return 0;
        }
    }
    return 1;
}

static tok_t *load(const char *spec) {
    tok_t *t = NULL;
    err_t e = {0};
    CHECK_MSG(tok_load(&t, spec, NULL, &e) == 0, "%s: %s", spec, e.msg);
    return t;
}

// A manabi tokenizer file with a few merges that build "<|", "|>" and "user", so that content
// holding "<|user|>" is cut into multi-byte tokens, and the given specials after them.
static const char *bpe_tokenizer(const char *name, const char *specials) {
    const char *path = test_path(name);
    char json[1024];
    int n = snprintf(json, sizeof json,
                     "{\"format\": \"manabi-tokenizer\", \"version\": 1, \"pattern\": \"o200k\", "
                     "\"merges\": [[60, 124], [124, 62], [117, 115], [258, 101], [259, 114]], \"specials\": [%s]}",
                     specials);
    CHECK(test_write_file(path, json, (size_t)n) == 0);
    return path;
}

static const char ALL_SPECIALS[] = "[\"<|endoftext|>\", 261], [\"<|system|>\", 262], [\"<|user|>\", 263], "
                                   "[\"<|assistant|>\", 264], [\"<|end|>\", 265]";

TEST(chat_messages_add_truncate_free) {
    chat_t c = {0};
    chat_free(&c);  // zeroed: nothing to do
    chat_free(NULL);
    chat_init(&c);
    err_t e = {0};
    CHECK(chat_add(&c, CHAT_USER, NULL, 0, &e) == 0 && c.n == 1 && c.msgs[0].len == 0 && c.msgs[0].content[0] == 0);
    for (int i = 0; i < 20; i++) add(&c, i % 2 ? CHAT_ASSISTANT : CHAT_USER, "x");
    CHECK(c.n == 21 && c.cap >= 21);
    CHECK(chat_add(&c, (chat_role_t)7, "x", 1, &e) != 0 && c.n == 21);
    chat_truncate(&c, 30);
    CHECK(c.n == 21);
    chat_truncate(&c, 1);
    CHECK(c.n == 1 && c.msgs[0].role == CHAT_USER);
    add(&c, CHAT_SYSTEM, "again");
    CHECK(c.n == 2 && strcmp(c.msgs[1].content, "again") == 0);
    chat_free(&c);
    CHECK(c.n == 0 && c.msgs == NULL);
    chat_free(&c);  // twice
    chat_role_t r;
    for (int i = 0; i < CHAT_NROLES; i++)
        CHECK(chat_role_parse(chat_role_name((chat_role_t)i), &r, &e) == 0 && r == (chat_role_t)i);
    CHECK(strcmp(chat_role_name(CHAT_ASSISTANT), "assistant") == 0 && strcmp(chat_role_name(CHAT_NROLES), "?") == 0);
    CHECK(chat_role_parse("bot", &r, &e) != 0 && strcmp(e.msg, "'bot' is not a role (system, user, assistant)") == 0);
}

TEST(chat_encode_byte_exact_ids_and_mask) {
    tok_t *t = load("byte");
    if (!t) return;
    const int EOT = 256, SYS = 257, USR = 258, AST = 259, END = 260;
    CHECK(tok_special(t, TOK_EOT) == EOT && tok_special(t, TOK_END) == END);
    chat_t c = {0};
    add(&c, CHAT_SYSTEM, "Hi");
    add(&c, CHAT_USER, "ab");
    add(&c, CHAT_ASSISTANT, "ok!");
    const int32_t want[] = {EOT, SYS, 'H', 'i', END, USR, 'a', 'b', END, AST, 'o', 'k', '!', END, AST};
    const uint8_t want_mask[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0};
    int32_t *ids = NULL;
    uint8_t *mask = NULL;
    size_t n = 0, cap = 0;
    err_t e = {0};
    CHECK_MSG(chat_encode(t, &c, 0, &ids, &mask, &n, &cap, &e) == 0, "%s", e.msg);
    CHECK(n == 14 && memcmp(ids, want, 14 * sizeof *ids) == 0 && memcmp(mask, want_mask, 14) == 0);
    n = 0;
    CHECK(chat_encode(t, &c, 1, &ids, &mask, &n, &cap, &e) == 0);
    CHECK(n == 15 && memcmp(ids, want, sizeof want) == 0 && memcmp(mask, want_mask, sizeof want_mask) == 0);
    // Appends after what is there; the mask may be left out.
    CHECK(chat_encode(t, &c, 0, &ids, &mask, &n, &cap, &e) == 0);
    CHECK(n == 29 && memcmp(ids + 15, want, 14 * sizeof *ids) == 0 && memcmp(mask + 15, want_mask, 14) == 0);
    int32_t *ids2 = NULL;
    size_t n2 = 0, cap2 = 0;
    CHECK(chat_encode(t, &c, 1, &ids2, NULL, &n2, &cap2, &e) == 0);
    CHECK(n2 == 15 && memcmp(ids2, want, sizeof want) == 0);
    // An empty conversation is <|endoftext|>, then the generation prompt.
    chat_t empty = {0};
    n2 = 0;
    CHECK(chat_encode(t, &empty, 1, &ids2, NULL, &n2, &cap2, &e) == 0 && n2 == 2 && ids2[0] == EOT && ids2[1] == AST);
    // A long conversation grows both arrays together.
    chat_t big = {0};
    char text[1000];
    memset(text, 'z', sizeof text);
    for (int i = 0; i < 40; i++) CHECK(chat_add(&big, i % 2 ? CHAT_ASSISTANT : CHAT_USER, text, sizeof text, &e) == 0);
    n = 0;
    CHECK(chat_encode(t, &big, 0, &ids, &mask, &n, &cap, &e) == 0 && n == 1 + 40 * 1002 && cap >= n);
    size_t trained = 0;
    for (size_t i = 0; i < n; i++) trained += mask[i];
    CHECK(trained == 20 * 1001 && mask[n - 1] == 1 && ids[n - 1] == END);
    free(ids);
    free(mask);
    free(ids2);
    chat_free(&c);
    chat_free(&big);
    tok_free(t);
}

// Encodes c, decodes it back (with and without the leading <|endoftext|>, with a generation
// prompt, and with the last assistant turn cut off) and compares.
static void check_round_trip(const tok_t *t, const chat_t *c, const char *what) {
    int32_t *ids = NULL;
    uint8_t *mask = NULL;
    size_t n = 0, cap = 0;
    err_t e = {0};
    CHECK_MSG(chat_encode(t, c, 0, &ids, &mask, &n, &cap, &e) == 0, "%s: %s", what, e.msg);
    chat_t back = {0};
    int open = -1;
    CHECK_MSG(chat_decode(t, ids, n, &back, &open, &e) == 0, "%s: %s", what, e.msg);
    CHECK(same_chat(&back, c, what) && open == 0);
    chat_free(&back);
    CHECK_MSG(chat_decode(t, ids + 1, n - 1, &back, &open, &e) == 0, "%s without <|endoftext|>: %s", what, e.msg);
    CHECK(same_chat(&back, c, what) && open == 0);
    chat_free(&back);
    // No role token may appear inside content, whatever the content says.
    int roles = 0;
    for (size_t i = 0; i < n; i++)
        roles += ids[i] == tok_special(t, TOK_SYSTEM) || ids[i] == tok_special(t, TOK_USER) ||
                 ids[i] == tok_special(t, TOK_ASSISTANT);
    CHECK_MSG(roles == c->n, "%s: %d role tokens for %d messages", what, roles, c->n);
    // The generation prompt decodes as an open, empty assistant turn.
    n = 0;
    CHECK(chat_encode(t, c, 1, &ids, &mask, &n, &cap, &e) == 0);
    CHECK_MSG(chat_decode(t, ids, n, &back, &open, &e) == 0, "%s with the prompt: %s", what, e.msg);
    CHECK(back.n == c->n + 1 && open == 1 && back.msgs[c->n].role == CHAT_ASSISTANT && back.msgs[c->n].len == 0);
    chat_truncate(&back, c->n);
    CHECK(same_chat(&back, c, what));
    chat_free(&back);
    // A final assistant turn cut before its <|end|>.
    if (c->n > 0 && c->msgs[c->n - 1].role == CHAT_ASSISTANT) {
        n = 0;
        CHECK(chat_encode(t, c, 0, &ids, &mask, &n, &cap, &e) == 0);
        CHECK_MSG(chat_decode(t, ids, n - 1, &back, &open, &e) == 0, "%s, cut: %s", what, e.msg);
        CHECK(same_chat(&back, c, what) && open == 1);
        chat_free(&back);
    }
    free(ids);
    free(mask);
}

static void round_trips(const tok_t *t) {
    chat_t c = {0};
    check_round_trip(t, &c, "empty conversation");
    add(&c, CHAT_USER, "");
    check_round_trip(t, &c, "one empty message");
    add(&c, CHAT_ASSISTANT, "");
    check_round_trip(t, &c, "two empty messages");
    chat_free(&c);
    add(&c, CHAT_SYSTEM, "あなたは親切なアシスタントです。");
    add(&c, CHAT_USER, "日本語のテキストを読む <|user|> and <|end|><|assistant|> stay text");
    add(&c, CHAT_ASSISTANT, "<|user|>");
    add(&c, CHAT_USER, "\n\n  user  \t");
    add(&c, CHAT_ASSISTANT, "はい、<|endoftext|>わかりました。");
    check_round_trip(t, &c, "Japanese and special strings");
    err_t e = {0};
    CHECK(chat_add(&c, CHAT_USER, "a\0b\xff\xfe", 5, &e) == 0);  // NUL and invalid UTF-8 are bytes like others
    check_round_trip(t, &c, "NUL and invalid UTF-8");
    chat_free(&c);
    rng_t r;
    rng_seed(&r, 17);
    static const char *const pieces[] = {"<|", "|>", "user", "<|user|>", "<|end|>", " ", "日本", "a", "\n", "<"};
    char text[256], what[64];
    for (int trial = 0; trial < 50; trial++) {
        int nm = (int)rng_below(&r, 6);
        for (int m = 0; m < nm; m++) {
            size_t len = 0;
            for (int k = (int)rng_below(&r, 12); k > 0; k--) {
                const char *p = pieces[rng_below(&r, 10)];
                memcpy(text + len, p, strlen(p));
                len += strlen(p);
            }
            CHECK(chat_add(&c, (chat_role_t)rng_below(&r, CHAT_NROLES), text, len, &e) == 0);
        }
        snprintf(what, sizeof what, "random conversation %d", trial);
        check_round_trip(t, &c, what);
        chat_free(&c);
    }
}

TEST(chat_round_trip_byte) {
    tok_t *t = load("byte");
    if (t) round_trips(t);
    tok_free(t);
}

TEST(chat_round_trip_bpe) {
    tok_t *t = load(bpe_tokenizer("chat_bpe.json", ALL_SPECIALS));
    if (!t) return;
    // The merges are in use: "<|user|>" as content is the three text tokens "<|", "user", "|>".
    chat_t c = {0};
    add(&c, CHAT_USER, "<|user|>");
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    err_t e = {0};
    CHECK(chat_encode(t, &c, 0, &ids, NULL, &n, &cap, &e) == 0);
    const int32_t want[] = {261, 263, 256, 260, 257, 265};
    CHECK(n == 6 && memcmp(ids, want, sizeof want) == 0);
    free(ids);
    chat_free(&c);
    round_trips(t);
    tok_free(t);
}

static void check_decode_error(const tok_t *t, const int32_t *ids, size_t n, const char *want1, const char *want2) {
    chat_t out = {0};
    add(&out, CHAT_SYSTEM, "kept");
    err_t e = {0};
    int open = -1;
    int rc = chat_decode(t, ids, n, &out, &open, &e);
    CHECK_MSG(rc != 0 && strstr(e.msg, want1) && strstr(e.msg, want2), "expected an error with '%s' and '%s', got %s",
              want1, want2, rc ? e.msg : "success");
    CHECK(out.n == 1 && strcmp(out.msgs[0].content, "kept") == 0 && open == 0);  // out as on entry
    chat_free(&out);
}

TEST(chat_decode_errors_name_the_position) {
    tok_t *t = load("byte");
    if (!t) return;
    const int EOT = 256, SYS = 257, USR = 258, AST = 259, END = 260;
    const int32_t outside[] = {EOT, USR, 'a', END, 'b', 'c'};
    check_decode_error(t, outside, 6, "token 4: text token 98 'b'", "where a message should begin");
    const int32_t no_role[] = {EOT, 'x', USR, END};
    check_decode_error(t, no_role, 4, "token 1: text token 120 'x'", "where a message should begin");
    const int32_t no_role2[] = {'x'};
    check_decode_error(t, no_role2, 1, "token 0: text token 120 'x'", "where a message should begin");
    const int32_t stray_end[] = {EOT, END};
    check_decode_error(t, stray_end, 2, "token 1: <|end|>", "where a message should begin");
    const int32_t nested[] = {EOT, SYS, 's', END, USR, 'a', AST, 'b', END};
    check_decode_error(t, nested, 9, "token 6: <|assistant|> inside the user message begun at token 4",
                       "<|end|> missing");
    const int32_t late_eot[] = {EOT, USR, END, EOT, USR, END};
    check_decode_error(t, late_eot, 6, "token 3: <|endoftext|>", "may only come first");
    const int32_t eot_in_content[] = {USR, 'a', EOT, END};
    check_decode_error(t, eot_in_content, 4, "token 2: <|endoftext|> inside the user message", "begun at token 0");
    const int32_t open_user[] = {EOT, AST, 'a', END, USR, 'q'};
    check_decode_error(t, open_user, 6, "token 6: the sequence ends inside the user message begun at token 4",
                       "only an assistant turn");
    const int32_t open_system[] = {EOT, SYS};
    check_decode_error(t, open_system, 2, "token 2:", "system message begun at token 1");
    const int32_t bad_id[] = {EOT, USR, 9999, END};
    check_decode_error(t, bad_id, 4, "token 2: id 9999, which is not a token of byte", "inside the user message");
    const int32_t neg_id[] = {EOT, -1};
    check_decode_error(t, neg_id, 2, "token 1: id -1", "where a message should begin");
    // Nothing, or <|endoftext|> alone, is an empty conversation.
    chat_t out = {0};
    err_t e = {0};
    int open = -1;
    CHECK(chat_decode(t, NULL, 0, &out, &open, &e) == 0 && out.n == 0 && open == 0);
    const int32_t eot_only[] = {EOT};
    CHECK(chat_decode(t, eot_only, 1, &out, NULL, &e) == 0 && out.n == 0);
    tok_free(t);
}

TEST(chat_json_round_trip_and_save) {
    chat_t c = {0}, back = {0};
    add(&c, CHAT_USER, "hi");
    char *js = chat_to_json(&c);
    CHECK(js && strcmp(js, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}") == 0);
    free(js);
    chat_free(&c);
    js = chat_to_json(&c);
    CHECK(js && strcmp(js, "{\"messages\":[]}") == 0);
    free(js);
    add(&c, CHAT_SYSTEM, "quotes \" backslash \\ slash / tab \t newline \n");
    add(&c, CHAT_USER, "日本語 <|user|> 😀");
    add(&c, CHAT_ASSISTANT, "");
    err_t e = {0};
    CHECK(chat_add(&c, CHAT_ASSISTANT, "nul\0inside", 10, &e) == 0);
    js = chat_to_json(&c);
    CHECK(js && !strchr(js, '\n'));
    CHECK_MSG(js && chat_from_json(&back, js, strlen(js), &e) == 0, "%s", e.msg);
    CHECK(same_chat(&back, &c, "chat_from_json(chat_to_json)"));
    chat_free(&back);
    const char *path = test_path("chat.json");
    CHECK_MSG(chat_save(&c, path, &e) == 0, "%s", e.msg);
    char *text = NULL;
    size_t len = 0;
    CHECK(io_read_file(path, &text, &len, &e) == 0);
    CHECK(text && len == strlen(js) + 1 && memcmp(text, js, len - 1) == 0 && text[len - 1] == '\n');
    CHECK_MSG(text && chat_from_json(&back, text, len, &e) == 0, "%s", e.msg);
    CHECK(same_chat(&back, &c, "the saved file"));
    CHECK(chat_save(&c, "/nonexistent/dir/chat.json", &e) != 0 && strstr(e.msg, "/nonexistent/dir"));
    // Appends to what is there; extra keys are ignored; the text need not be NUL-terminated.
    const char more[] = "  {\"id\": 7, \"messages\": [{\"content\": \"x\", \"role\": \"assistant\", \"x\": 1}]}\n"
                        "GARBAGE";
    CHECK_MSG(chat_from_json(&back, more, sizeof more - 1 - 7, &e) == 0, "%s", e.msg);
    CHECK(back.n == c.n + 1 && back.msgs[c.n].role == CHAT_ASSISTANT && strcmp(back.msgs[c.n].content, "x") == 0);
    free(text);
    free(js);
    chat_free(&back);
    chat_free(&c);
}

static void check_json_error(const char *json, const char *want) {
    chat_t c = {0};
    add(&c, CHAT_USER, "kept");
    err_t e = {0};
    int rc = chat_from_json(&c, json, strlen(json), &e);
    CHECK_MSG(rc != 0 && strstr(e.msg, want), "%s: expected an error with '%s', got %s", json, want,
              rc ? e.msg : "success");
    CHECK(c.n == 1 && strcmp(c.msgs[0].content, "kept") == 0);  // c as on entry
    chat_free(&c);
}

TEST(chat_json_errors_name_index_and_field) {
    check_json_error("", "empty");
    check_json_error("{\"messages\": [", "not valid JSON");
    check_json_error("{\"messages\": []} x", "text after the value");
    check_json_error("[]", "expected a JSON object");
    check_json_error("42", "expected a JSON object {\"messages\": [...]}, got a number");
    check_json_error("{\"msgs\": []}", "no \"messages\" field");
    check_json_error("{\"messages\": {}}", "\"messages\" is an object, expected an array");
    check_json_error("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, \"hello\"]}",
                     "messages[1] is a string, expected an object");
    check_json_error("{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": "
                     "\"b\"}, {\"role\": \"bot\", \"content\": \"c\"}]}",
                     "messages[2].role: 'bot' is not a role (system, user, assistant)");
    check_json_error("{\"messages\": [{\"content\": \"a\"}]}", "messages[0].role is missing");
    check_json_error("{\"messages\": [{\"role\": null, \"content\": \"a\"}]}", "messages[0].role is null");
    check_json_error("{\"messages\": [{\"role\": \"user\"}]}", "messages[0].content is missing");
    check_json_error("{\"messages\": [{\"role\": \"user\", \"content\": 5}]}",
                     "messages[0].content is a number, expected a string");
    check_json_error("{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\"}]}]}",
                     "messages[0].content is an array");
    // Empty content is the fine-tuning loader's call, not a format error.
    chat_t c = {0};
    err_t e = {0};
    const char *ok = "{\"messages\": [{\"role\": \"system\", \"content\": \"\"}]}";
    CHECK(chat_from_json(&c, ok, strlen(ok), &e) == 0 && c.n == 1 && c.msgs[0].len == 0);
    chat_free(&c);
}

TEST(chat_check_tokenizer_needs_the_chat_tokens) {
    err_t e = {0};
    tok_t *byte = load("byte");
    if (!byte) return;
    CHECK_MSG(chat_check_tokenizer(byte, &e) == 0, "%s", e.msg);
    // A rank file (the byte tokenizer's 256 tokens, as gpt2) has only <|endoftext|>.
    const char *rank = test_path("gpt2.tiktoken");
    CHECK_MSG(tok_export_tiktoken(byte, rank, &e) == 0, "%s", e.msg);
    tok_t *gpt2 = load(rank);
    if (gpt2) {
        CHECK(chat_check_tokenizer(gpt2, &e) != 0 && strstr(e.msg, "gpt2 has no <|system|>, <|user|>, <|assistant|>, "
                                                                   "<|end|>") &&
              strstr(e.msg, "manabi tokenizer train"));
        chat_t c = {0};
        add(&c, CHAT_USER, "hi");
        int32_t *ids = NULL;
        size_t n = 3, cap = 0;
        CHECK(chat_encode(gpt2, &c, 1, &ids, NULL, &n, &cap, &e) != 0 && strstr(e.msg, "<|user|>") && n == 3);
        const int32_t eot[] = {50256};
        CHECK(chat_decode(gpt2, eot, 1, &c, NULL, &e) != 0 && strstr(e.msg, "<|end|>") && c.n == 1);
        free(ids);
        chat_free(&c);
    }
    // A manabi tokenizer file whose specials leave out some roles.
    tok_t *some = load(bpe_tokenizer("chat_partial.json", "[\"<|endoftext|>\", 261], [\"<|system|>\", 262]"));
    if (some)
        CHECK(chat_check_tokenizer(some, &e) != 0 && strstr(e.msg, "has no <|user|>, <|assistant|>, <|end|>,"));
    tok_free(some);
    tok_free(gpt2);
    tok_free(byte);
}
