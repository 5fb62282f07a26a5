// The comparison store (align/store.h): comparisons kept across reopening, counted by choice,
// exported as TRL pairs (ties and "both bad" left out), and a foreign or corrupt file refused.
#include <stdlib.h>
#include <string.h>

#include "align/store.h"
#include "core/io.h"
#include "test.h"

TEST(store_add_count_export) {
    err_t e = {{0}};
    const char *db = test_path("compare.db"), *out = test_path("people.jsonl");
    store_t *s = store_open(db, &e);
    CHECK(s != NULL);
    if (!s) return;
    store_item_t it = {.prompt = "「犬」を英語で言うと？", .answer_a = "dog", .answer_b = "cat \"quoted\"", .model_a = "sft",
                       .model_b = "dpo", .choice = STORE_A, .rater = "kenji"};
    int64_t id;
    CHECK(store_add(s, &it, &id, &e) == 0 && id == 1);
    it.choice = STORE_B;
    CHECK(store_add(s, &it, &id, &e) == 0 && id == 2);
    it.choice = STORE_TIE;
    CHECK(store_add(s, &it, NULL, &e) == 0);
    it.choice = (store_choice_t)9;
    CHECK(store_add(s, &it, NULL, &e) == -1 && strstr(e.msg, "choice 9"));
    store_close(s);
    s = store_open(db, &e);  // everything is still there after reopening
    int64_t c[4];
    CHECK(s && store_counts(s, c, &e) == 0 && c[0] == 1 && c[1] == 1 && c[2] == 1 && c[3] == 0);
    size_t n;
    CHECK(store_export(s, out, &n, &e) == 0 && n == 2);
    char *text;
    size_t len;
    CHECK(io_read_file(out, &text, &len, &e) == 0);
    CHECK(strstr(text, "{\"prompt\":\"「犬」を英語で言うと？\",\"chosen\":\"dog\",\"rejected\":\"cat \\\"quoted\\\"\",\"id\":1") != NULL);
    CHECK(strstr(text, "\"chosen\":\"cat \\\"quoted\\\"\",\"rejected\":\"dog\",\"id\":2") != NULL);
    free(text);
    store_close(s);
    store_close(NULL);
}

TEST(store_refuses_foreign_files) {
    err_t e = {{0}};
    const char *junk = test_path("junk.db");
    CHECK(test_write_file(junk, "this is not a database, just text that is long enough to have a header......", 76) == 0);
    CHECK(store_open(junk, &e) == NULL && strstr(e.msg, junk));
    CHECK(store_open(test_path("no/such/dir/x.db"), &e) == NULL && strstr(e.msg, "no/such/dir"));
}
