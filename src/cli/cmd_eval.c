// manabi eval: held-out loss and answer accuracy of a checkpoint (and adapter) on examples.
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "finetune/evaluate.h"
#include "finetune/sft.h"

typedef struct {
    int show;  // answers left to print
    FILE *pred;
} shown_t;

static void show(size_t i, const char *answer, const char *reference, int exact, int contained, void *ctx) {
    shown_t *s = ctx;
    if (s->show > 0) {
        printf("  [%zu] %s | answer: %s | reference: %s\n", i + 1, exact ? "exact" : contained ? "contained" : "wrong",
               answer, reference);
        s->show--;
    }
    if (s->pred) fprintf(s->pred, "%zu\t%d\t%d\t%s\t%s\n", i + 1, exact, contained, answer, reference);
}

int cmd_eval(int argc, char **argv) {
    const char *ckpt = NULL, *adapter = NULL, *data = NULL, *tokenizer = NULL, *pred_path = NULL;
    int json = 0, bf16 = 0, no_loss = 0, no_answers = 0, batch = 16, show_n = 0, limit = 0;
    qa_opts_t qo = {.max_new = 48};
    arg_opt_t opts[] = {
        {"ckpt", ARG_STR, &ckpt, "checkpoint"},
        {"lora", ARG_STR, &adapter, "a LoRA adapter on the checkpoint"},
        {"data", ARG_STR, &data, "held-out examples (JSONL, as manabi sft reads)"},
        {"max-tokens", ARG_INT, &qo.max_new, "most tokens per answer"},
        {"batch", ARG_INT, &batch, "questions answered (and examples scored) together"},
        {"limit", ARG_INT, &limit, "answer only N examples, spread evenly over the file (0: all)"},
        {"show", ARG_INT, &show_n, "print the first N answers beside their references"},
        {"predictions", ARG_STR, &pred_path, "write every answer to this file (TSV: n, exact, contained, answer, reference)"},
        {"no-loss", ARG_BOOL, &no_loss, "skip the held-out loss"},
        {"no-answers", ARG_BOOL, &no_answers, "skip answering (loss only)"},
        {"bf16", ARG_BOOL, &bf16, "bfloat16 weights for the answers"},
        {"json", ARG_BOOL, &json, "one JSON object: examples, loss, exact, contained"},
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer (default: the one the checkpoint records)"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("eval", "--ckpt CKPT [--lora ADAPTER] --data FILE [--json]", opts, argc, argv, pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!ckpt || !data) return cli_fail("eval: --ckpt and --data are required");
    if (batch < 1 || qo.max_new < 1 || limit < 0) return cli_fail("eval: --batch and --max-tokens must be >= 1, --limit >= 0");
    qo.batch = batch, qo.limit = (size_t)limit;
    err_t e = {0};
    gpt_t m;
    tok_t *tok = NULL;
    sft_data_t ds;
    sft_init(&ds);
    shown_t sh = {.show = show_n};
    rc = 1;
    if (cli_load_model(ckpt, tokenizer, adapter, bf16 ? CLI_BF16 : 0, &m, &tok, &e) != 0) return cli_fail(e.msg);
    sft_opts_t so;
    sft_opts_default(&so);
    so.max_len = m.cfg.context;
    if (sft_load(&ds, tok, data, &so, &e) != 0) goto done;
    if (ds.n_ex == 0) {
        err_set(&e, "%s: no usable example", data);
        goto done;
    }
    double loss = -1;
    if (!no_loss && (loss = sft_eval_loss(&m, &ds, batch, &e)) < 0) goto done;
    qa_result_t r = {0};
    if (pred_path && !(sh.pred = fopen(pred_path, "w"))) {
        err_set(&e, "cannot write %s", pred_path);
        goto done;
    }
    if (!no_answers && qa_eval(&m, tok, &ds, &qo, &r, show, &sh, &e) != 0) goto done;
    double ex = r.n ? (double)r.exact / r.n : 0, co = r.n ? (double)r.contained / r.n : 0;
    if (json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "examples", json_object_new_int64((int64_t)ds.n_ex));
        if (loss >= 0) json_object_object_add(o, "loss", json_object_new_double(loss));
        if (!no_answers) {
            json_object *tasks = json_object_new_object();
            json_object_object_add(o, "answered", json_object_new_int64((int64_t)r.n));
            json_object_object_add(o, "exact", json_object_new_double(ex));
            json_object_object_add(o, "contained", json_object_new_double(co));
            for (int t = 0; t < r.n_tasks; t++) {
                json_object *k = json_object_new_object();
                json_object_object_add(k, "n", json_object_new_int64((int64_t)r.task[t].n));
                json_object_object_add(k, "exact", json_object_new_double((double)r.task[t].exact / r.task[t].n));
                json_object_object_add(k, "contained", json_object_new_double((double)r.task[t].contained / r.task[t].n));
                json_object_object_add(tasks, r.task[t].name, k);
            }
            json_object_object_add(o, "tasks", tasks);
        }
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
    } else {
        printf("%zu examples", ds.n_ex);
        if (loss >= 0) printf(" | held-out loss %.4f", loss);
        if (!no_answers) printf(" | %zu answered: exact %.1f%%, contained %.1f%%", r.n, 100 * ex, 100 * co);
        printf("\n");
        for (int t = 0; !no_answers && r.n_tasks > 1 && t < r.n_tasks; t++)
            printf("  %-16s %5zu: exact %5.1f%%, contained %5.1f%%\n", r.task[t].name, r.task[t].n,
                   100.0 * r.task[t].exact / r.task[t].n, 100.0 * r.task[t].contained / r.task[t].n);
    }
    rc = 0;
done:
    if (rc) cli_fail(e.msg);
    if (sh.pred) fclose(sh.pred);
    sft_free(&ds);
    cli_free_model(&m, tok);
    return rc;
}
