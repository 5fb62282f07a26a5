// manabi compare: a person compares two models' answers in the terminal; every choice goes into
// the SQLite store (align/store.h).  `compare export` writes the store's pairs as JSONL for
// manabi dpo and manabi rm; `compare stats` counts the choices.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "align/store.h"
#include "cli/cli.h"
#include "finetune/sftdata.h"
#include "infer/generate.h"
#include "tokenizer/chat.h"

// The question of a prompt (its last user message), for showing.
static char *question(const tok_t *tok, const int32_t *ids, int n) {
    chat_t c;
    chat_init(&c);
    err_t e = {0};
    char *q = NULL;
    if (chat_decode(tok, ids, (size_t)n, &c, NULL, &e) == 0)
        for (int i = c.n - 1; i >= 0 && !q; i--)
            if (c.msgs[i].role == CHAT_USER) q = strdup(c.msgs[i].content);
    chat_free(&c);
    return q ? q : strdup("?");
}

static int export_cmd(int argc, char **argv) {
    const char *db = NULL, *out = NULL;
    arg_opt_t opts[] = {{"db", ARG_STR, &db, "the comparison store"}, {"out", ARG_STR, &out, "pairs to write (JSONL)"}, {0}};
    char *pos[1];
    int npos, rc = cli_parse("compare export", "--db FILE --out FILE", opts, argc, argv, pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!db || !out) return cli_fail("compare export: --db and --out are required");
    err_t e = {0};
    store_t *s = store_open(db, &e);
    size_t n = 0;
    rc = !s || store_export(s, out, &n, &e) != 0;
    if (rc) cli_fail(e.msg);
    else printf("wrote %zu pairs (comparisons with a winner) to %s\n", n, out);
    store_close(s);
    return rc;
}

static int print_counts(store_t *s, err_t *e) {
    int64_t c[4];
    if (store_counts(s, c, e) != 0) return -1;
    printf("%lld comparisons: A better %lld, B better %lld, tie %lld, both bad %lld\n",
           (long long)(c[0] + c[1] + c[2] + c[3]), (long long)c[0], (long long)c[1], (long long)c[2], (long long)c[3]);
    return 0;
}

static int stats_cmd(int argc, char **argv) {
    const char *db = NULL;
    arg_opt_t opts[] = {{"db", ARG_STR, &db, "the comparison store"}, {0}};
    char *pos[1];
    int npos, rc = cli_parse("compare stats", "--db FILE", opts, argc, argv, pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!db) return cli_fail("compare stats: --db is required");
    err_t e = {0};
    store_t *s = store_open(db, &e);
    rc = !s || print_counts(s, &e) != 0;
    if (rc) cli_fail(e.msg);
    store_close(s);
    return rc;
}

int cmd_compare(int argc, char **argv) {
    if (argc >= 1 && strcmp(argv[0], "export") == 0) return export_cmd(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "stats") == 0) return stats_cmd(argc - 1, argv + 1);
    const char *db = NULL, *ckpt = NULL, *lora = NULL, *vs = NULL, *vs_lora = NULL, *data = NULL, *rater = NULL;
    int limit = 20, seed = 1, max_new = 64;
    gen_config_t gc;
    gen_config_default(&gc);
    arg_opt_t opts[] = {
        {"db", ARG_STR, &db, "the comparison store (SQLite; made when missing)"},
        {"ckpt", ARG_STR, &ckpt, "model A"},
        {"lora", ARG_STR, &lora, "model A's adapter"},
        {"vs", ARG_STR, &vs, "model B"},
        {"vs-lora", ARG_STR, &vs_lora, "model B's adapter"},
        {"prompts", ARG_STR, &data, "questions (JSONL as manabi sft reads)"},
        {"rater", ARG_STR, &rater, "who is choosing (default: $USER)"},
        {"limit", ARG_INT, &limit, "questions to ask (0: all)"},
        {"max-tokens", ARG_INT, &max_new, "most tokens per answer"},
        {"temperature", ARG_FLOAT, &gc.sample.temperature, "sampling temperature of both models"},
        {"seed", ARG_INT, &seed, "question order, sampling and which side each model is shown on"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("compare", "--db FILE --ckpt A [--lora X] --vs B [--vs-lora Y] --prompts FILE | export | stats",
                             opts, argc, argv, pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!db || !ckpt || !vs || !data) return cli_fail("compare: --db, --ckpt, --vs and --prompts are required");
    if (!rater) rater = getenv("USER") ? getenv("USER") : "anonymous";
    gc.max_new = max_new;
    err_t e = {0};
    gpt_t ma = {0}, mb = {0};
    tok_t *ta = NULL, *tb = NULL;
    sft_data_t ds;
    sft_init(&ds);
    store_t *s = NULL;
    gen_t *ga = NULL, *gb = NULL;
    size_t *order = NULL;
    char name_a[2100], name_b[2100];
    rc = 1;
    snprintf(name_a, sizeof name_a, "%s%s%s", ckpt, lora ? "+" : "", lora ? lora : "");
    snprintf(name_b, sizeof name_b, "%s%s%s", vs, vs_lora ? "+" : "", vs_lora ? vs_lora : "");
    if (!(s = store_open(db, &e))) goto done;
    if (cli_load_model(ckpt, NULL, lora, 0, &ma, &ta, &e) != 0 || cli_load_model(vs, NULL, vs_lora, 0, &mb, &tb, &e) != 0)
        goto done;
    if (tok_hash(ta) != tok_hash(tb)) {
        err_set(&e, "%s and %s use different tokenizers", ckpt, vs);
        goto done;
    }
    sft_opts_t so;
    sft_opts_default(&so);
    so.max_len = ma.cfg.context < mb.cfg.context ? ma.cfg.context : mb.cfg.context;
    if (sft_load(&ds, ta, data, &so, &e) != 0) goto done;
    if (ds.n_ex == 0) {
        err_set(&e, "%s: no usable question", data);
        goto done;
    }
    if (!(ga = gen_new(&ma, ta, 1, &e)) || !(gb = gen_new(&mb, tb, 1, &e))) goto done;
    if (!(order = malloc(ds.n_ex * sizeof *order))) {
        err_set(&e, "out of memory");
        goto done;
    }
    rng_t rng;
    rng_seed(&rng, (uint64_t)seed);
    for (size_t i = 0; i < ds.n_ex; i++) order[i] = i;
    rng_shuffle(&rng, order, ds.n_ex);
    size_t n = limit && (size_t)limit < ds.n_ex ? (size_t)limit : ds.n_ex;
    int32_t asst = tok_special(ta, TOK_ASSISTANT);
    int32_t stops[] = {tok_special(ta, TOK_END), tok_special(ta, TOK_EOT), tok_special(ta, TOK_USER),
                       tok_special(ta, TOK_SYSTEM), asst};
    gc.stop_tokens = stops, gc.n_stop_tokens = 5;
    printf("Two answers to each question, from two models in an order drawn at random. Choose the better one.\n");
    char *line = NULL;
    size_t cap = 0;
    for (size_t q = 0; q < n; q++) {
        const sft_example_t *x = &ds.ex[order[q]];
        const int32_t *ids = ds.ids + x->off;
        int len = x->len - 1;
        while (len >= 0 && ids[len] != asst) len--;
        len++;
        gen_output_t oa, ob;
        if (gen_run(ga, &gc, &ids, &len, 1, 1, &rng, NULL, NULL, &oa, &e) != 0) goto done_line;
        if (gen_run(gb, &gc, &ids, &len, 1, 1, &rng, NULL, NULL, &ob, &e) != 0) {
            gen_output_free(&oa, 1);
            goto done_line;
        }
        int a_first = rng_uniform(&rng) < 0.5;
        const gen_output_t *first = a_first ? &oa : &ob, *second = a_first ? &ob : &oa;
        char *qtext = question(ta, ids, len);
        printf("\n-- %zu of %zu --\n%s\n\n[1] %s\n\n[2] %s\n\n", q + 1, n, qtext, first->text, second->text);
        free(qtext);
        int done_asking = 0, recorded = 0;
        while (!done_asking) {
            printf("Which answer is better? 1, 2, t (tie), b (both bad), s (skip), q (quit): ");
            fflush(stdout);
            ssize_t got = getline(&line, &cap, stdin);
            if (got < 0) {  // end of input: stop here, everything so far is stored
                printf("\n");
                gen_output_free(&oa, 1), gen_output_free(&ob, 1);
                goto finish;
            }
            char c = got > 0 ? line[0] : 0;
            store_choice_t choice;
            if (c == '1' || c == '2') choice = (c == '1') == a_first ? STORE_A : STORE_B;
            else if (c == 't') choice = STORE_TIE;
            else if (c == 'b') choice = STORE_BOTH_BAD;
            else if (c == 's') break;
            else if (c == 'q') {
                gen_output_free(&oa, 1), gen_output_free(&ob, 1);
                goto finish;
            } else continue;
            char *qt = question(ta, ids, len);
            store_item_t it = {.prompt = qt, .answer_a = oa.text, .answer_b = ob.text, .model_a = name_a,
                               .model_b = name_b, .choice = choice, .rater = rater};
            int64_t id;
            recorded = store_add(s, &it, &id, &e) == 0;
            free(qt);
            if (!recorded) {
                gen_output_free(&oa, 1), gen_output_free(&ob, 1);
                goto done_line;
            }
            printf("(stored as comparison %lld)\n", (long long)id);
            done_asking = 1;
        }
        gen_output_free(&oa, 1), gen_output_free(&ob, 1);
    }
finish:
    if (print_counts(s, &e) != 0) goto done_line;
    rc = 0;
done_line:
    free(line);
done:
    if (rc) cli_fail(e.msg);
    free(order);
    gen_free(ga), gen_free(gb);
    sft_free(&ds);
    store_close(s);
    cli_free_model(&ma, ta), cli_free_model(&mb, tb);
    return rc;
}
