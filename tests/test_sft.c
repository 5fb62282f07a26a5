// Fine-tuning (finetune/sft.h) and its evaluation (finetune/evaluate.h): a small model learns a
// toy task fully and with LoRA, frozen weights stay bit for bit, the step's loss is the mean
// over trained tokens however the step is split, and the answers are scored as documented.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "finetune/evaluate.h"
#include "finetune/sft.h"
#include "model/gpt.h"
#include "model/lora.h"
#include "test.h"

// "a" -> "xq", "b" -> "yr", ...: four questions, each with a two-letter answer; the last line
// also accepts "ZZ" (answers).
static const char toy[] =
    "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"xq\"}]}\n"
    "{\"prompt\":\"b\",\"completion\":\"yr\"}\n"
    "{\"instruction\":\"c\",\"input\":\"\",\"output\":\"zs\"}\n"
    "{\"messages\":[{\"role\":\"user\",\"content\":\"d\"},{\"role\":\"assistant\",\"content\":\"wt\"}],\"answers\":[\"ZZ\"]}\n";

static int toy_setup(gpt_t *m, tok_t **tok, sft_data_t *ds, uint64_t seed) {
    err_t e = {{0}};
    if (tok_load(tok, "byte", NULL, &e) != 0) return test_fail(__FILE__, __LINE__, "%s", e.msg), -1;
    gpt_config_t cfg;
    gpt_config_preset(&cfg, GPT_LLAMA, 1, tok_vocab_size(*tok), 32);
    cfg.d_model = 32, cfg.n_head = 2, cfg.n_kv_head = 2, cfg.d_ff = 64;
    if (gpt_init(m, &cfg, &e) != 0) return test_fail(__FILE__, __LINE__, "%s", e.msg), -1;
    rng_t r;
    rng_seed(&r, seed);
    gpt_init_weights(m, &r);
    const char *path = test_path("toy.jsonl");
    sft_opts_t so;
    sft_opts_default(&so);
    so.max_len = 32, so.strict = 1;
    sft_init(ds);
    if (test_write_file(path, toy, sizeof toy - 1) != 0 || sft_load(ds, *tok, path, &so, &e) != 0)
        return test_fail(__FILE__, __LINE__, "%s", e.msg), -1;
    return 0;
}

typedef struct {
    double first, last;
    int steps;
} seen_t;

static void seen(const sft_progress_t *p, void *ctx) {
    seen_t *s = ctx;
    if (p->val_loss >= 0) return;
    if (p->step == 1) s->first = p->loss;
    s->last = p->loss, s->steps = p->step;
}

TEST(sft_full_learns_the_toy_task_and_answers) {
    gpt_t m;
    tok_t *tok;
    sft_data_t ds;
    if (toy_setup(&m, &tok, &ds, 1) != 0) return;
    sft_train_opts_t o;
    sft_train_defaults(&o);
    o.lora = 0, o.steps = 150, o.batch = 4, o.lr = 1e-2f, o.warmup = 5, o.freeze_layers = 0;
    seen_t s = {0};
    lora_t *l = (lora_t *)1;
    err_t e = {{0}};
    CHECK(sft_train(&m, &l, &ds, &ds, &o, seen, &s, &e) == 0 && l == NULL);
    CHECK_MSG(s.steps == 150 && s.last < 0.05 && s.first > 2, "loss %.3f -> %.3f", s.first, s.last);
    double vl = sft_eval_loss(&m, &ds, 2, &e);
    CHECK_MSG(vl >= 0 && vl < 0.05, "held-out loss %.4f", vl);
    qa_opts_t qo = {.max_new = 8, .batch = 3};
    qa_result_t r;
    CHECK(qa_eval(&m, tok, &ds, &qo, &r, NULL, NULL, &e) == 0);
    CHECK_MSG(r.n == 4 && r.exact == 4 && r.contained == 4, "exact %zu, contained %zu of %zu", r.exact, r.contained, r.n);
    sft_free(&ds);
    gpt_free(&m);
    tok_free(tok);
}

// The toy task with the answers moved round (a -> "yr", ...): what an adapter must learn on a
// base that knows the first mapping.
static const char toy_moved[] =
    "{\"prompt\":\"a\",\"completion\":\"yr\"}\n{\"prompt\":\"b\",\"completion\":\"zs\"}\n"
    "{\"prompt\":\"c\",\"completion\":\"wt\"}\n{\"prompt\":\"d\",\"completion\":\"xq\"}\n";

// LoRA on a trained base (the usual case): the base's weights do not move (bit for bit), the
// adapters learn the new mapping.
TEST(sft_lora_trains_adapters_only) {
    gpt_t m;
    tok_t *tok;
    sft_data_t ds, moved;
    if (toy_setup(&m, &tok, &ds, 2) != 0) return;
    sft_train_opts_t o;
    sft_train_defaults(&o);
    o.lora = 0, o.steps = 150, o.batch = 4, o.lr = 1e-2f, o.warmup = 5;
    seen_t pre = {0}, s = {0};
    lora_t *l = NULL;
    err_t e = {{0}};
    CHECK(sft_train(&m, &l, &ds, NULL, &o, seen, &pre, &e) == 0);
    sft_opts_t so;
    sft_opts_default(&so);
    so.max_len = 32;
    sft_init(&moved);
    CHECK(sft_load_text(&moved, tok, "moved", toy_moved, sizeof toy_moved - 1, &so, &e) == 0 && moved.n_ex == 4);
    gpt_freeze(&m, 0, 0, 0);  // the base starts over as a plain model
    mem_free(m.grads), m.grads = NULL;
    free(m.g.layers), memset(&m.g, 0, sizeof m.g);
    size_t n = gpt_num_params(&m);
    float *before = malloc(n * sizeof(float));
    memcpy(before, m.params, n * sizeof(float));
    sft_train_defaults(&o);
    o.steps = 150, o.batch = 4, o.lr = 1e-2f, o.lora_cfg.dropout = 0;
    o.lora_cfg.targets = LORA_Q | LORA_K | LORA_V | LORA_O | LORA_GATE | LORA_UP | LORA_DOWN;
    CHECK(sft_train(&m, &l, &moved, NULL, &o, seen, &s, &e) == 0 && l != NULL && m.lora == l);
    CHECK(memcmp(before, m.params, n * sizeof(float)) == 0);
    CHECK_MSG(pre.last < 0.05 && s.first > 1 && s.last < 0.1, "base %.3f; LoRA on the moved answers %.3f -> %.3f",
              pre.last, s.first, s.last);
    m.lora = NULL;
    lora_free(l);
    free(before);
    sft_free(&ds), sft_free(&moved);
    gpt_free(&m);
    tok_free(tok);
}

// Frozen embeddings and first block keep their values; the rest moves.
TEST(sft_full_freezing) {
    gpt_t m;
    tok_t *tok;
    sft_data_t ds;
    if (toy_setup(&m, &tok, &ds, 3) != 0) return;
    gpt_config_t cfg = m.cfg;
    gpt_free(&m);
    cfg.n_layer = 2;
    err_t e = {{0}};
    CHECK(gpt_init(&m, &cfg, &e) == 0);
    rng_t r;
    rng_seed(&r, 3);
    gpt_init_weights(&m, &r);
    size_t n = gpt_num_params(&m);
    float *before = malloc(n * sizeof(float));
    memcpy(before, m.params, n * sizeof(float));
    sft_train_opts_t o;
    sft_train_defaults(&o);
    o.lora = 0, o.steps = 5, o.batch = 2, o.freeze_embeddings = 1, o.freeze_layers = 1, o.weight_decay = 0.1f;
    lora_t *l;
    CHECK(sft_train(&m, &l, &ds, NULL, &o, NULL, NULL, &e) == 0);
    for (int i = 0; i < m.table.n; i++) {
        const gpt_tensor_t *t = &m.table.t[i];
        int same = memcmp(before + t->offset, m.params + t->offset, t->numel * sizeof(float)) == 0;
        int frozen = t->role == P_EMBED || t->role == P_LM_HEAD || t->layer == 0;  // the head is tied
        CHECK_MSG(same == frozen, "%s: %s", t->name, same ? "did not move" : "moved");
    }
    free(before);
    sft_free(&ds);
    gpt_free(&m);
    tok_free(tok);
}

// The step's loss is the mean over its trained tokens: one micro-batch of 4 rows or two of 2
// (gradient accumulation) give the same first loss.
TEST(sft_loss_normalised_over_the_step) {
    double first[2];
    for (int v = 0; v < 2; v++) {
        gpt_t m;
        tok_t *tok;
        sft_data_t ds;
        if (toy_setup(&m, &tok, &ds, 4) != 0) return;
        sft_train_opts_t o;
        sft_train_defaults(&o);
        o.lora = 0, o.steps = 1, o.batch = v ? 2 : 4, o.accum = v ? 2 : 1;
        seen_t s = {0};
        lora_t *l;
        err_t e = {{0}};
        CHECK(sft_train(&m, &l, &ds, NULL, &o, seen, &s, &e) == 0);
        first[v] = s.first;
        sft_free(&ds);
        gpt_free(&m);
        tok_free(tok);
    }
    CHECK_NEAR(first[0], first[1], 1e-5);
}

TEST(sft_bad_settings_and_normalize) {
    gpt_t m;
    tok_t *tok;
    sft_data_t ds;
    if (toy_setup(&m, &tok, &ds, 5) != 0) return;
    sft_train_opts_t o;
    sft_train_defaults(&o);
    lora_t *l;
    err_t e = {{0}};
    o.steps = 0;
    CHECK(sft_train(&m, &l, &ds, NULL, &o, NULL, NULL, &e) == -1 && strstr(e.msg, "steps 0"));
    sft_train_defaults(&o);
    o.lora_cfg.rank = 0;
    CHECK(sft_train(&m, &l, &ds, NULL, &o, NULL, NULL, &e) == -1 && strstr(e.msg, "rank") && m.lora == NULL);
    sft_data_t empty;
    sft_init(&empty);
    sft_train_defaults(&o);
    CHECK(sft_train(&m, &l, &empty, NULL, &o, NULL, NULL, &e) == -1 && strstr(e.msg, "no training examples"));
    char s1[] = "  Hello   World. \n", s2[] = "犬", s3[] = "...";
    qa_normalize(s1), qa_normalize(s2), qa_normalize(s3);
    CHECK(strcmp(s1, "hello world") == 0 && strcmp(s2, "犬") == 0 && strcmp(s3, "..") == 0);
    sft_free(&ds);
    gpt_free(&m);
    tok_free(tok);
}
