// Fine-tuning data: the three formats into conversations, every bad-input case (strict: the
// file:line message; lenient: its count), the loss mask, the length policies, compressed files,
// the report, and rows (packed and padded) checked position by position.
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "core/rng.h"
#include "finetune/sftdata.h"
#include "test.h"
#include "tokenizer/chat.h"
#include "tokenizer/tokenizer.h"

// The byte tokenizer's specials.
enum { EOT = 256, SYS = 257, USR = 258, AST = 259, END = 260 };

static tok_t *byte_tok(void) {
    tok_t *t = NULL;
    err_t e = {0};
    CHECK_MSG(tok_load(&t, "byte", NULL, &e) == 0, "%s", e.msg);
    return t;
}

static const char *write_text(const char *name, const char *text) {
    const char *path = test_path(name);
    CHECK(test_write_file(path, text, strlen(text)) == 0);
    return path;
}

// The conversation of example i, decoded from its ids.
static int example_chat(const sft_data_t *ds, const tok_t *t, size_t i, chat_t *c) {
    err_t e = {0};
    int open = 0;
    chat_init(c);
    int rc = chat_decode(t, ds->ids + ds->ex[i].off, (size_t)ds->ex[i].len, c, &open, &e);
    CHECK_MSG(rc == 0, "example %zu: %s", i, e.msg);
    return rc;
}

// 1 when example i is the conversation given as (role, content) pairs, ending with -1.
static int example_is(const sft_data_t *ds, const tok_t *t, size_t i, ...) {
    chat_t c;
    if (example_chat(ds, t, i, &c) != 0) return 0;
    va_list ap;
    va_start(ap, i);
    int k = 0, ok = 1;
    for (;; k++) {
        int role = va_arg(ap, int);
        if (role < 0) break;
        const char *s = va_arg(ap, const char *);
        if (k >= c.n || (int)c.msgs[k].role != role || c.msgs[k].len != strlen(s) || memcmp(c.msgs[k].content, s, c.msgs[k].len)) {
            test_fail(__FILE__, __LINE__, "example %zu, message %d: %s '%s' expected, got %s '%.*s'", i, k,
                      chat_role_name((chat_role_t)role), s, k < c.n ? chat_role_name(c.msgs[k].role) : "nothing",
                      k < c.n ? (int)c.msgs[k].len : 0, k < c.n ? c.msgs[k].content : "");
            ok = 0;
            break;
        }
    }
    va_end(ap);
    if (ok && k != c.n) {
        test_fail(__FILE__, __LINE__, "example %zu has %d messages, expected %d", i, c.n, k);
        ok = 0;
    }
    chat_free(&c);
    return ok;
}

TEST(sftdata_reads_the_three_formats) {
    tok_t *t = byte_tok();
    if (!t) return;
    const char *path = write_text(
        "formats.jsonl",
        "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}, "
        "{\"role\": \"assistant\", \"content\": \"Hello\"}], \"id\": 1}\n"
        "\n"
        "{\"prompt\": \"2+2?\", \"completion\": \"4\", \"system\": \"Math.\", \"task\": \"sums\"}\n"
        "{\"instruction\": \"Translate\", \"input\": \"\xe7\x8a\xac\", \"output\": \"dog\"}\n"
        "{\"instruction\": \"Say hi\", \"input\": \" \", \"output\": \"hi\"}\r\n"
        "{\"instruction\": \"Say hi\", \"output\": \"hi\", \"input\": null}\n"
        "  {\"prompt\": \"p\", \"completion\": \"c\", \"system\": null}  ");  // no final newline
    sft_data_t ds;
    sft_init(&ds);
    err_t e = {0};
    sft_opts_t o;
    sft_opts_default(&o);
    o.strict = 1;
    CHECK_MSG(sft_load(&ds, t, path, &o, &e) == 0, "%s", e.msg);
    CHECK(ds.n_ex == 6 && ds.st.kept == 6 && ds.st.lines == 6 && ds.st.n_skipped == 0 && ds.st.files == 1);
    CHECK(ds.st.format[SFT_FMT_MESSAGES] == 1 && ds.st.format[SFT_FMT_PROMPT] == 2 &&
          ds.st.format[SFT_FMT_INSTRUCTION] == 3);
    if (ds.n_ex == 6) {
        CHECK(example_is(&ds, t, 0, CHAT_SYSTEM, "Be brief.", CHAT_USER, "Hi", CHAT_ASSISTANT, "Hello", -1));
        CHECK(example_is(&ds, t, 1, CHAT_SYSTEM, "Math.", CHAT_USER, "2+2?", CHAT_ASSISTANT, "4", -1));
        CHECK(example_is(&ds, t, 2, CHAT_USER, "Translate\n\n\xe7\x8a\xac", CHAT_ASSISTANT, "dog", -1));
        CHECK(example_is(&ds, t, 3, CHAT_USER, "Say hi", CHAT_ASSISTANT, "hi", -1));
        CHECK(example_is(&ds, t, 4, CHAT_USER, "Say hi", CHAT_ASSISTANT, "hi", -1));
        CHECK(example_is(&ds, t, 5, CHAT_USER, "p", CHAT_ASSISTANT, "c", -1));
        const size_t lines[6] = {1, 3, 4, 5, 6, 7};
        for (int i = 0; i < 6; i++)
            CHECK_MSG(ds.ex[i].line == lines[i] && ds.ex[i].file == 0, "example %d at line %zu", i, ds.ex[i].line);
        CHECK(strcmp(ds.files[0], path) == 0 && ds.eot == EOT);
        size_t tokens = 0;
        for (size_t i = 0; i < ds.n_ex; i++) tokens += (size_t)ds.ex[i].len;
        CHECK(tokens == ds.n_tokens && tokens == ds.st.tokens);
    }
    sft_free(&ds);
    sft_free(&ds);  // twice
    sft_free(NULL);
    tok_free(t);
}

// One bad line, the reason it is skipped for and what its message must say.
typedef struct {
    const char *line;
    sft_skip_t why;
    const char *says;
} bad_t;

static const bad_t BAD[] = {
    {"{\"messages\": [", SFT_SKIP_BAD_JSON, "not valid JSON"},
    {"[1, 2]", SFT_SKIP_BAD_JSON, "expected a JSON object, got an array"},
    {"{\"prompt\": \"a\", \"completion\": \"b\"} x", SFT_SKIP_BAD_JSON, "text after the value"},
    {"{\"text\": \"hi\"}", SFT_SKIP_FORMAT, "no known keys"},
    {"{\"prompt\": \"a\", \"output\": \"b\"}", SFT_SKIP_FORMAT,
     "keys of two formats, \"prompt\" (prompt/completion) and \"output\" (instruction)"},
    {"{\"system\": \"s\", \"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", "
     "\"content\": \"b\"}]}",
     SFT_SKIP_FORMAT, "\"system\" beside \"messages\""},
    {"{\"prompt\": \"a\"}", SFT_SKIP_MISSING, "\"completion\" is missing (prompt/completion format)"},
    {"{\"instruction\": \"a\", \"input\": \"b\"}", SFT_SKIP_MISSING, "\"output\" is missing (instruction format)"},
    {"{\"messages\": [{\"role\": \"user\"}]}", SFT_SKIP_MISSING, "messages[0].content is missing"},
    {"{\"messages\": [{\"content\": \"x\"}]}", SFT_SKIP_MISSING, "messages[0].role is missing"},
    {"{\"messages\": [{\"role\": \"user\", \"content\": [\"a\"]}]}", SFT_SKIP_TYPE,
     "messages[0].content is an array, expected a string"},
    {"{\"messages\": \"hi\"}", SFT_SKIP_TYPE, "\"messages\" is a string, expected an array"},
    {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, 7]}", SFT_SKIP_TYPE, "messages[1] is a number"},
    {"{\"instruction\": \"a\", \"output\": 5}", SFT_SKIP_TYPE, "\"output\" is a number, expected a string"},
    {"{\"prompt\": null, \"completion\": \"b\"}", SFT_SKIP_TYPE, "\"prompt\" is null, expected a string"},
    {"{\"prompt\": \"a\", \"completion\": \"b\", \"system\": 1}", SFT_SKIP_TYPE, "\"system\" is a number"},
    {"{\"messages\": [{\"role\": \"bot\", \"content\": \"x\"}]}", SFT_SKIP_ROLE,
     "messages[0].role: 'bot' is not a role (system, user, assistant)"},
    {"{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}, {\"role\": \"assistant\", \"content\": \" \\n\"}]}",
     SFT_SKIP_EMPTY, "messages[1].content is empty"},
    {"{\"messages\": [{\"role\": \"system\", \"content\": \"\"}, {\"role\": \"user\", \"content\": \"hi\"}, "
     "{\"role\": \"assistant\", \"content\": \"yo\"}]}",
     SFT_SKIP_EMPTY, "messages[0].content is empty"},
    {"{\"prompt\": \"\", \"completion\": \"x\"}", SFT_SKIP_EMPTY, "\"prompt\" is empty"},
    {"{\"instruction\": \"a\", \"output\": \"\"}", SFT_SKIP_EMPTY, "\"output\" is empty"},
    {"{\"prompt\": \"a\", \"completion\": \"b\", \"system\": \"\"}", SFT_SKIP_EMPTY, "\"system\" is empty"},
    {"{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"hi\"}]}",
     SFT_SKIP_NO_ASSISTANT, "no assistant message in 2 messages"},
    {"{\"messages\": []}", SFT_SKIP_NO_ASSISTANT, "no assistant message in 0 messages"},
};
#define NBAD (sizeof BAD / sizeof BAD[0])

static const char GOOD[] = "{\"prompt\": \"q\", \"completion\": \"a\"}";

TEST(sftdata_strict_names_file_line_and_field) {
    tok_t *t = byte_tok();
    if (!t) return;
    sft_opts_t o;
    sft_opts_default(&o);
    o.strict = 1;
    for (size_t i = 0; i < NBAD; i++) {
        // A good line, a blank one, then the bad one at line 3.
        char text[1024], name[64], want[1200];
        snprintf(text, sizeof text, "%s\n\n%s\n%s\n", GOOD, BAD[i].line, GOOD);
        snprintf(name, sizeof name, "strict%zu.jsonl", i);
        const char *path = write_text(name, text);
        sft_data_t ds;
        sft_init(&ds);
        err_t e = {0};
        snprintf(want, sizeof want, "%s:3: ", path);
        CHECK_MSG(sft_load(&ds, t, path, &o, &e) != 0, "case %zu (%s) loaded", i, BAD[i].line);
        CHECK_MSG(strstr(e.msg, want) == e.msg && strstr(e.msg, BAD[i].says) && strstr(e.msg, "strict"),
                  "case %zu: '%s' lacks '%s' or '%s'", i, e.msg, want, BAD[i].says);
        // A failed load leaves the dataset as it was: empty.
        CHECK_MSG(ds.n_ex == 0 && ds.n_tokens == 0 && ds.n_files == 0 && ds.st.lines == 0 && ds.st.files == 0,
                  "case %zu left %zu examples", i, ds.n_ex);
        sft_free(&ds);
    }
    tok_free(t);
}

TEST(sftdata_lenient_skips_and_counts_by_reason) {
    tok_t *t = byte_tok();
    if (!t) return;
    sb_t text = {0};
    for (size_t i = 0; i < NBAD; i++) {
        sb_str(&text, GOOD);
        sb_str(&text, "\n");
        sb_str(&text, BAD[i].line);
        sb_str(&text, "\n");
    }
    const char *path = write_text("lenient.jsonl", text.p);
    free(text.p);
    sft_data_t ds;
    sft_init(&ds);
    err_t e = {0};
    CHECK_MSG(sft_load(&ds, t, path, NULL, &e) == 0, "%s", e.msg);
    size_t want[SFT_NSKIP] = {0};
    for (size_t i = 0; i < NBAD; i++) want[BAD[i].why]++;
    for (int k = 0; k < SFT_NSKIP; k++)
        CHECK_MSG(ds.st.skipped[k] == want[k], "%s: %zu skipped, expected %zu", sft_skip_name((sft_skip_t)k),
                  ds.st.skipped[k], want[k]);
    CHECK(ds.st.n_skipped == NBAD && ds.st.kept == NBAD && ds.n_ex == NBAD && ds.st.lines == 2 * NBAD);
    // The first SFT_MAX_NOTES bad lines, in order, with their lines and messages.
    CHECK(ds.st.n_notes == SFT_MAX_NOTES);
    for (size_t i = 0; i < ds.st.n_notes && i < NBAD; i++) {
        const sft_note_t *n = &ds.st.notes[i];
        CHECK_MSG(n->line == 2 * i + 2 && n->reason == (int)BAD[i].why && strstr(n->msg, BAD[i].says) &&
                      strcmp(n->file, path) == 0,
                  "note %zu: line %zu reason %d '%s'", i, n->line, n->reason, n->msg);
    }
    sft_free(&ds);
    tok_free(t);
}

TEST(sftdata_turns_after_the_last_answer) {
    tok_t *t = byte_tok();
    if (!t) return;
    const char *path = write_text(
        "trailing.jsonl",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": \"assistant\", \"content\": \"b\"}, "
        "{\"role\": \"user\", \"content\": \"c\"}, {\"role\": \"user\", \"content\": \"d\"}]}\n");
    sft_data_t ds;
    sft_init(&ds);
    err_t e = {0};
    CHECK_MSG(sft_load(&ds, t, path, NULL, &e) == 0, "%s", e.msg);
    CHECK(ds.n_ex == 1 && ds.st.trimmed == 1 && ds.st.n_skipped == 0 && ds.st.n_notes == 1);
    if (ds.n_ex == 1) CHECK(example_is(&ds, t, 0, CHAT_USER, "a", CHAT_ASSISTANT, "b", -1));
    if (ds.st.n_notes == 1)
        CHECK(ds.st.notes[0].reason == -1 && ds.st.notes[0].line == 1 &&
              strstr(ds.st.notes[0].msg, "messages[2..3] come after the last assistant message"));
    sft_free(&ds);
    sft_opts_t o;
    sft_opts_default(&o);
    o.strict = 1;
    CHECK(sft_load(&ds, t, path, &o, &e) != 0 && strstr(e.msg, "trailing.jsonl:1: messages[2..3]") &&
          strstr(e.msg, "strict"));
    CHECK(ds.n_ex == 0);
    sft_free(&ds);
    tok_free(t);
}

TEST(sftdata_mask_trains_assistant_content_and_end) {
    tok_t *t = byte_tok();
    if (!t) return;
    const char *text = "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": "
                       "\"ab\"}, {\"role\": \"assistant\", \"content\": \"cd\"}, {\"role\": \"user\", \"content\": "
                       "\"e\"}, {\"role\": \"assistant\", \"content\": \"fgh\"}]}\n";
    const int32_t ids[] = {EOT, SYS, 'S', END, USR, 'a', 'b', END, AST, 'c', 'd',
                           END, USR, 'e', END, AST, 'f', 'g', 'h', END};
    const uint8_t mask[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1};
    const size_t n = sizeof ids / sizeof ids[0];
    for (int top = 0; top < 2; top++) {
        sft_opts_t o;
        sft_opts_default(&o);
        o.train_on_prompt = top;
        sft_data_t ds;
        sft_init(&ds);
        err_t e = {0};
        CHECK_MSG(sft_load_text(&ds, t, "mask.jsonl", text, strlen(text), &o, &e) == 0, "%s", e.msg);
        if (ds.n_ex != 1 || (size_t)ds.ex[0].len != n) {
            test_fail(__FILE__, __LINE__, "train_on_prompt %d: %zu examples", top, ds.n_ex);
            sft_free(&ds);
            continue;
        }
        CHECK(memcmp(ds.ids, ids, sizeof ids) == 0);
        size_t trained = 0;
        for (size_t i = 0; i < n; i++) {
            // train_on_prompt: every token but the leading <|endoftext|>.
            uint8_t want = top ? i > 0 : mask[i];
            CHECK_MSG(ds.mask[i] == want, "train_on_prompt %d: mask[%zu] = %d, expected %d", top, i, ds.mask[i], want);
            trained += want;
        }
        CHECK(ds.ex[0].trained == (int32_t)trained && ds.st.trained == trained && ds.st.tokens == n);
        sft_free(&ds);
    }
    tok_free(t);
}

// Three examples of 7, 11 and 13 tokens against max_len 8: the second keeps a trained token
// after the cut, the third does not.
static const char LONG_TEXT[] =
    "{\"prompt\": \"a\", \"completion\": \"b\"}\n"
    "{\"prompt\": \"abc\", \"completion\": \"xyz\"}\n"
    "{\"prompt\": \"abcdefg\", \"completion\": \"x\"}\n";

TEST(sftdata_long_examples_truncate_drop_or_fail) {
    tok_t *t = byte_tok();
    if (!t) return;
    const char *path = write_text("long.jsonl", LONG_TEXT);
    struct {
        sft_long_t policy;
        int train_on_prompt;
        size_t kept, truncated, dropped;
    } cases[] = {{SFT_LONG_TRUNCATE, 0, 2, 1, 1}, {SFT_LONG_DROP, 0, 1, 0, 2}, {SFT_LONG_TRUNCATE, 1, 3, 2, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sft_opts_t o;
        sft_opts_default(&o);
        o.max_len = 8;
        o.too_long = cases[c].policy;
        o.train_on_prompt = cases[c].train_on_prompt;
        sft_data_t ds;
        sft_init(&ds);
        err_t e = {0};
        CHECK_MSG(sft_load(&ds, t, path, &o, &e) == 0, "%s", e.msg);
        CHECK_MSG(ds.st.kept == cases[c].kept && ds.st.truncated == cases[c].truncated &&
                      ds.st.dropped_long == cases[c].dropped && ds.n_ex == cases[c].kept,
                  "case %zu: kept %zu truncated %zu dropped %zu", c, ds.st.kept, ds.st.truncated, ds.st.dropped_long);
        CHECK(ds.st.longest == 13 && ds.st.long_line == 2 && ds.st.long_tokens == 11 && ds.st.long_file == ds.files[0]);
        CHECK(ds.st.kept + ds.st.dropped_long + ds.st.n_skipped == ds.st.lines);
        for (size_t i = 0; i < ds.n_ex; i++) CHECK(ds.ex[i].len <= 8 && ds.ex[i].trained >= 1);
        if (cases[c].policy == SFT_LONG_TRUNCATE && !cases[c].train_on_prompt && ds.n_ex == 2) {
            // The cut keeps the first 8 tokens; only the 'x' is trained.
            const int32_t want[] = {EOT, USR, 'a', 'b', 'c', END, AST, 'x'};
            CHECK(ds.ex[1].len == 8 && ds.ex[1].trained == 1 && ds.ex[1].line == 2 &&
                  memcmp(ds.ids + ds.ex[1].off, want, sizeof want) == 0 && ds.mask[ds.ex[1].off + 7] == 1);
        }
        char *rep = sft_report(&ds, 0);
        CHECK(rep && strstr(rep, "too long: ") && strstr(rep, "long.jsonl:2, 11 tokens"));
        free(rep);
        sft_free(&ds);
    }
    sft_opts_t o;
    sft_opts_default(&o);
    o.max_len = 8;
    o.too_long = SFT_LONG_ERROR;
    sft_data_t ds;
    sft_init(&ds);
    err_t e = {0};
    CHECK(sft_load(&ds, t, path, &o, &e) != 0 && strstr(e.msg, "long.jsonl:2: the example has 11 tokens, more than the 8"));
    CHECK(ds.n_ex == 0 && ds.st.lines == 0);
    o.max_len = 1;
    CHECK(sft_load(&ds, t, path, &o, &e) != 0 && strstr(e.msg, "max_len is 1"));
    sft_free(&ds);
    tok_free(t);
}

TEST(sftdata_needs_one_tokenizer_with_chat_tokens) {
    tok_t *byte = byte_tok();
    if (!byte) return;
    err_t e = {0};
    const char *rank = test_path("sft_gpt2.tiktoken");
    CHECK_MSG(tok_export_tiktoken(byte, rank, &e) == 0, "%s", e.msg);
    tok_t *gpt2 = NULL;
    CHECK_MSG(tok_load(&gpt2, rank, "gpt2", &e) == 0, "%s", e.msg);
    const char *path = write_text("tokcheck.jsonl", GOOD);
    sft_data_t ds;
    sft_init(&ds);
    if (gpt2)
        CHECK(sft_load(&ds, gpt2, path, NULL, &e) != 0 && strstr(e.msg, "tokcheck.jsonl") &&
              strstr(e.msg, "has no <|system|>, <|user|>, <|assistant|>, <|end|>"));
    CHECK(ds.n_ex == 0 && ds.n_files == 0);
    // A second file must use the first one's tokenizer.
    const char *bpe = test_path("sft_bpe.json");
    const char *json = "{\"format\": \"manabi-tokenizer\", \"version\": 1, \"pattern\": \"o200k\", \"merges\": [[60, "
                       "124]], \"specials\": [[\"<|endoftext|>\", 257], [\"<|system|>\", 258], [\"<|user|>\", 259], "
                       "[\"<|assistant|>\", 260], [\"<|end|>\", 261]]}";
    CHECK(test_write_file(bpe, json, strlen(json)) == 0);
    tok_t *other = NULL;
    CHECK_MSG(tok_load(&other, bpe, NULL, &e) == 0, "%s", e.msg);
    CHECK_MSG(sft_load(&ds, byte, path, NULL, &e) == 0, "%s", e.msg);
    if (other) CHECK(sft_load(&ds, other, path, NULL, &e) != 0 && strstr(e.msg, "not the one"));
    CHECK(ds.n_ex == 1 && ds.n_files == 1 && ds.st.files == 1);
    CHECK_MSG(sft_load(&ds, byte, path, NULL, &e) == 0, "%s", e.msg);
    CHECK(ds.n_ex == 2 && ds.n_files == 2 && ds.ex[1].file == 1 && ds.st.files == 2);
    sft_free(&ds);
    tok_free(other);
    tok_free(gpt2);
    tok_free(byte);
}

TEST(sftdata_reads_gzip_and_zstd_and_refuses_broken_files) {
    tok_t *t = byte_tok();
    if (!t) return;
    const char *text = LONG_TEXT;
    size_t n = strlen(text);
    const char *gz = test_path("sft.jsonl.gz");
    gzFile g = gzopen(gz, "wb");
    CHECK(g && gzwrite(g, text, (unsigned)n) == (int)n && gzclose(g) == Z_OK);
    char zbuf[1024];
    size_t zn = ZSTD_compress(zbuf, sizeof zbuf, text, n, 3);
    CHECK(!ZSTD_isError(zn));
    const char *zst = test_path("sft.jsonl.zst");
    CHECK(test_write_file(zst, zbuf, zn) == 0);
    const char *paths[2] = {gz, zst};
    for (int i = 0; i < 2; i++) {
        sft_data_t ds;
        sft_init(&ds);
        err_t e = {0};
        CHECK_MSG(sft_load(&ds, t, paths[i], NULL, &e) == 0, "%s", e.msg);
        CHECK(ds.n_ex == 3 && ds.ex[2].line == 3 && ds.st.lines == 3);
        sft_free(&ds);
    }
    sft_data_t ds;
    sft_init(&ds);
    err_t e = {0};
    CHECK(test_write_file(test_path("cut.jsonl.zst"), zbuf, zn - 4) == 0);
    CHECK(sft_load(&ds, t, test_path("cut.jsonl.zst"), NULL, &e) != 0 && strstr(e.msg, "cut.jsonl.zst"));
    CHECK(test_write_file(test_path("bin.jsonl"), "{\"a\0b\"}\n", 8) == 0);
    CHECK(sft_load(&ds, t, test_path("bin.jsonl"), NULL, &e) != 0 && strstr(e.msg, "binary"));
    CHECK(sft_load(&ds, t, test_path("missing.jsonl"), NULL, &e) != 0 && strstr(e.msg, "missing.jsonl"));
    CHECK(ds.n_ex == 0 && ds.n_files == 0);
    CHECK(sft_load(&ds, t, write_text("empty.jsonl", ""), NULL, &e) == 0 && ds.n_ex == 0 && ds.st.files == 1);
    sft_free(&ds);
    tok_free(t);
}

TEST(sftdata_report_text_and_json) {
    tok_t *t = byte_tok();
    if (!t) return;
    sft_opts_t o;
    sft_opts_default(&o);
    o.max_len = 8;
    sft_data_t ds;
    sft_init(&ds);
    err_t e = {0};
    const char *bad = "{\"messages\": [{\"role\": \"bot\", \"content\": \"x\"}]}\n{\"prompt\": \"a\"}\n";
    CHECK(sft_load_text(&ds, t, "a.jsonl", LONG_TEXT, strlen(LONG_TEXT), &o, &e) == 0);
    CHECK(sft_load_text(&ds, t, "b.jsonl", bad, strlen(bad), &o, &e) == 0);
    char *txt = sft_report(&ds, 0);
    CHECK(txt && strstr(txt, "5 lines in 2 files (messages 1, prompt/completion 4, instruction 0)") &&
          strstr(txt, "kept 2 examples") && strstr(txt, "skipped 2: missing field 1, unknown role 1") &&
          strstr(txt, "  b.jsonl:1: messages[0].role: 'bot' is not a role") &&
          strstr(txt, "  b.jsonl:2: \"completion\" is missing"));
    free(txt);
    char *js = sft_report(&ds, 1);
    json_object *root = js ? json_tokener_parse(js) : NULL, *v, *s;
    CHECK(root != NULL);
    if (root) {
        CHECK(json_object_object_get_ex(root, "kept", &v) && json_object_get_int64(v) == 2);
        CHECK(json_object_object_get_ex(root, "lines", &v) && json_object_get_int64(v) == 5);
        CHECK(json_object_object_get_ex(root, "truncated", &v) && json_object_get_int64(v) == 1);
        CHECK(json_object_object_get_ex(root, "dropped_long", &v) && json_object_get_int64(v) == 1);
        CHECK(json_object_object_get_ex(root, "trained_tokens", &v) &&
              json_object_get_int64(v) == (int64_t)ds.st.trained);
        CHECK(json_object_object_get_ex(root, "skipped", &s) && json_object_object_get_ex(s, "total", &v) &&
              json_object_get_int64(v) == 2 && json_object_object_get_ex(s, "unknown_role", &v) &&
              json_object_get_int64(v) == 1);
        CHECK(json_object_object_get_ex(root, "formats", &s) && json_object_object_get_ex(s, "prompt/completion", &v) &&
              json_object_get_int64(v) == 4);
        CHECK(json_object_object_get_ex(root, "notes", &s) && json_object_array_length(s) == 2 &&
              strcmp(json_object_get_string(json_object_array_get_idx(s, 1)), "b.jsonl:2: \"completion\" is missing "
                                                                                "(prompt/completion format)") == 0);
    }
    json_object_put(root);
    free(js);
    sft_free(&ds);
    tok_free(t);
}

// A dataset of n random conversations (one to three turns of random lengths), loaded with max_len.
static void random_dataset(sft_data_t *ds, const tok_t *t, int n, int max_len, uint64_t seed) {
    rng_t r;
    rng_seed(&r, seed);
    sb_t text = {0};
    for (int i = 0; i < n; i++) {
        int turns = 1 + (int)rng_below(&r, 3);
        sb_str(&text, "{\"messages\": [");
        for (int k = 0; k < 2 * turns; k++) {
            sb_str(&text, k ? ", {\"role\": \"" : "{\"role\": \"");
            sb_str(&text, k % 2 ? "assistant\", \"content\": \"" : "user\", \"content\": \"");
            int len = 1 + (int)rng_below(&r, 12);
            for (int j = 0; j < len; j++) {
                char ch = (char)('a' + rng_below(&r, 26));
                sb_add(&text, &ch, 1);
            }
            sb_str(&text, "\"}");
        }
        sb_str(&text, "]}\n");
    }
    sft_opts_t o;
    sft_opts_default(&o);
    o.max_len = max_len;
    err_t e = {0};
    CHECK_MSG(sft_load_text(ds, t, "random.jsonl", text.p, text.n, &o, &e) == 0, "%s", e.msg);
    free(text.p);
}

// Checks every row of ep against the dataset, position by position; counts in seen[] how many
// times each example appears.  Returns the trained positions over all rows.
static size_t check_rows(const sft_epoch_t *ep, const sft_data_t *ds, int *seen) {
    const int T = ep->T;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)T), *tgt = malloc(sizeof(int32_t) * (size_t)T),
            *pos = malloc(sizeof(int32_t) * (size_t)T);
    size_t total = 0;
    for (size_t r = 0; r < ep->n_rows; r++) {
        int got = sft_epoch_row(ep, ds, r, tok, tgt, pos);
        int t = 0, trained = 0;
        for (size_t k = ep->row_first[r]; k < ep->row_first[r + 1]; k++) {
            const sft_example_t *x = &ds->ex[ep->ex[k]];
            seen[ep->ex[k]]++;
            for (int i = 0; i < x->len; i++, t++) {
                const int32_t *ids = ds->ids + x->off;
                int32_t want = i + 1 < x->len && ds->mask[x->off + (size_t)i + 1] ? ids[i + 1] : -1;
                if (tok[t] != ids[i] || pos[t] != i || tgt[t] != want) {
                    test_fail(__FILE__, __LINE__, "row %zu, position %d: token %d pos %d target %d; expected %d %d %d",
                              r, t, tok[t], pos[t], tgt[t], ids[i], i, want);
                    goto next;
                }
                trained += want >= 0;
            }
        }
        for (int p = 0; t < T; t++, p++)
            if (tok[t] != ds->eot || tgt[t] != -1 || pos[t] != p) {
                test_fail(__FILE__, __LINE__, "row %zu, padding position %d: %d %d %d", r, t, tok[t], tgt[t], pos[t]);
                goto next;
            }
        // Independently of the plan: a target is always the next token of the same segment,
        // and every segment starts at pos 0 with <|endoftext|>.
        for (t = 0; t < T; t++) {
            if (tgt[t] >= 0 && (t + 1 >= T || pos[t + 1] != pos[t] + 1 || tok[t + 1] != tgt[t]))
                test_fail(__FILE__, __LINE__, "row %zu: the target at %d crosses a segment", r, t);
            if (pos[t] == 0 && tok[t] != ds->eot) test_fail(__FILE__, __LINE__, "row %zu: a segment at %d", r, t);
            if (t > 0 && pos[t] != 0 && pos[t] != pos[t - 1] + 1) test_fail(__FILE__, __LINE__, "row %zu: pos at %d", r, t);
        }
        CHECK_MSG(got == trained && ep->row_trained[r] == trained, "row %zu: %d trained, plan says %d, expected %d", r,
                  got, ep->row_trained[r], trained);
        total += (size_t)got;
    next:;
    }
    free(tok);
    free(tgt);
    free(pos);
    return total;
}

TEST(sftdata_packed_rows_hold_every_example_once) {
    tok_t *t = byte_tok();
    if (!t) return;
    sft_data_t ds;
    sft_init(&ds);
    const int T = 64;
    random_dataset(&ds, t, 500, T, 7);
    CHECK(ds.n_ex == 500 - ds.st.dropped_long && ds.st.truncated > 0);
    sft_batch_opts_t b = {.T = T, .layout = SFT_PACKED, .shuffle = 1, .seed = 42};
    sft_epoch_t ep, again, next;
    err_t e = {0};
    int *seen = calloc(ds.n_ex, sizeof *seen);
    CHECK_MSG(sft_epoch_plan(&ep, &ds, &b, 0, &e) == 0, "%s", e.msg);
    size_t trained = check_rows(&ep, &ds, seen);
    for (size_t i = 0; i < ds.n_ex; i++) CHECK_MSG(seen[i] == 1, "example %zu in %d rows", i, seen[i]);
    CHECK(trained == ds.st.trained && ep.trained == ds.st.trained && ep.tokens == ds.st.tokens);
    double fill = (double)ep.tokens / ((double)ep.n_rows * T);
    CHECK_MSG(fill > 0.9, "rows are %.3f full", fill);
    CHECK(ep.n_rows < ds.n_ex);
    // The same seed and epoch give the same rows; another epoch another order.
    CHECK(sft_epoch_plan(&again, &ds, &b, 0, &e) == 0 && again.n_rows == ep.n_rows &&
          memcmp(again.ex, ep.ex, ds.n_ex * sizeof *ep.ex) == 0);
    CHECK(sft_epoch_plan(&next, &ds, &b, 1, &e) == 0 && memcmp(next.ex, ep.ex, ds.n_ex * sizeof *ep.ex) != 0);
    memset(seen, 0, ds.n_ex * sizeof *seen);
    CHECK(check_rows(&next, &ds, seen) == ds.st.trained);
    for (size_t i = 0; i < ds.n_ex; i++) CHECK(seen[i] == 1);
    sft_epoch_free(&next);
    sft_epoch_free(&again);
    sft_epoch_free(&ep);
    sft_epoch_free(&ep);  // twice
    // Unshuffled and packed: still every example once.
    b.shuffle = 0;
    memset(seen, 0, ds.n_ex * sizeof *seen);
    CHECK(sft_epoch_plan(&ep, &ds, &b, 0, &e) == 0 && check_rows(&ep, &ds, seen) == ds.st.trained);
    for (size_t i = 0; i < ds.n_ex; i++) CHECK(seen[i] == 1);
    sft_epoch_free(&ep);
    free(seen);
    sft_free(&ds);
    tok_free(t);
}

TEST(sftdata_padded_rows_and_plan_errors) {
    tok_t *t = byte_tok();
    if (!t) return;
    sft_data_t ds;
    sft_init(&ds);
    random_dataset(&ds, t, 60, 48, 3);
    sft_batch_opts_t b = {.T = 48, .layout = SFT_PADDED, .shuffle = 0, .seed = 1};
    sft_epoch_t ep;
    err_t e = {0};
    int *seen = calloc(ds.n_ex, sizeof *seen);
    CHECK_MSG(sft_epoch_plan(&ep, &ds, &b, 0, &e) == 0, "%s", e.msg);
    CHECK(ep.n_rows == ds.n_ex && check_rows(&ep, &ds, seen) == ds.st.trained);
    for (size_t r = 0; r < ep.n_rows; r++)  // unshuffled: row r is example r
        CHECK(ep.row_first[r + 1] - ep.row_first[r] == 1 && ep.ex[ep.row_first[r]] == (int32_t)r);
    sft_epoch_free(&ep);
    b.shuffle = 1;
    memset(seen, 0, ds.n_ex * sizeof *seen);
    CHECK(sft_epoch_plan(&ep, &ds, &b, 0, &e) == 0 && ep.n_rows == ds.n_ex && check_rows(&ep, &ds, seen) == ds.st.trained);
    for (size_t i = 0; i < ds.n_ex; i++) CHECK(seen[i] == 1);
    sft_epoch_free(&ep);
    free(seen);
    // An example longer than the row, an empty dataset, a row too short.
    b.T = 16;
    CHECK(sft_epoch_plan(&ep, &ds, &b, 0, &e) != 0 && strstr(e.msg, "random.jsonl:") &&
          strstr(e.msg, "more than a row of 16") && ep.n_rows == 0 && ep.ex == NULL);
    b.T = 1;
    CHECK(sft_epoch_plan(&ep, &ds, &b, 0, &e) != 0 && strstr(e.msg, "at least 2"));
    sft_data_t empty;
    sft_init(&empty);
    b.T = 48;
    CHECK(sft_epoch_plan(&ep, &empty, &b, 0, &e) != 0 && strstr(e.msg, "no examples"));
    sft_free(&ds);
    tok_free(t);
}

// Loads each file named in MANABI_SFT_FILES (':'-separated) strictly with the byte tokenizer
// and checks that every line became an example.  tests/sh/test_fetch_sft.sh sets it for the
// files scripts/fetch_sft.sh writes; without it the test has nothing to check.
TEST(sftdata_loads_files_named_in_env) {
    const char *list = getenv("MANABI_SFT_FILES");
    if (!list || !*list) return;
    tok_t *t = byte_tok();
    if (!t) return;
    char *copy = strdup(list), *save = NULL;
    for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        sft_opts_t o;
        sft_opts_default(&o);
        o.strict = 1;
        o.too_long = SFT_LONG_ERROR;
        sft_data_t ds;
        sft_init(&ds);
        err_t e = {0};
        CHECK_MSG(sft_load(&ds, t, p, &o, &e) == 0, "%s", e.msg);
        CHECK_MSG(ds.n_ex > 0 && ds.n_ex == ds.st.lines && ds.st.trimmed == 0, "%s: %zu examples of %zu lines", p,
                  ds.n_ex, ds.st.lines);
        printf("    %s: %zu examples, %zu tokens, longest %zu\n", p, ds.n_ex, ds.st.tokens, ds.st.longest);
        sft_free(&ds);
    }
    free(copy);
    tok_free(t);
}
