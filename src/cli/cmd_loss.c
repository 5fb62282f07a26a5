// manabi loss: the numbers validation logs, for any checkpoint and shards.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "train/checkpoint.h"
#include "train/eval.h"

int cmd_loss(int argc, char **argv) {
    const char *ckpt = NULL, *data = NULL, *tokenizer = NULL;
    int batch = 4, seq = 0, max_batches = 0, json = 0;
    arg_opt_t opts[] = {
        {"ckpt", ARG_STR, &ckpt, "checkpoint (.safetensors)"},
        {"data", ARG_STR, &data, "token shards (glob pattern)"},
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer (default: the one the checkpoint records)"},
        {"batch", ARG_INT, &batch, "sequences per forward pass"},
        {"seq-len", ARG_INT, &seq, "tokens per sequence (default: the model's context)"},
        {"max-batches", ARG_INT, &max_batches, "stop after this many batches (0: all the data)"},
        {"json", ARG_BOOL, &json, "print one JSON object"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("loss", "--ckpt CKPT --data PATTERN [--json]", opts, argc, argv, pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!ckpt || !data) return cli_fail("loss: --ckpt and --data are required");
    if (batch < 1) return cli_fail("--batch must be positive");
    err_t e = {0};
    gpt_t m;
    ckpt_meta_t meta;
    tok_t *tok = NULL;
    loader_t l = {0};
    int32_t *in = NULL, *tg = NULL;
    rc = 1;
    if (ckpt_load_model(ckpt, &m, &meta, &e) != 0) return cli_fail(e.msg);
    if (!tokenizer) tokenizer = meta.tokenizer[0] ? meta.tokenizer : "byte";
    if (seq <= 0) seq = m.cfg.context;
    if (tok_load(&tok, tokenizer, NULL, &e) != 0) goto done;
    if (meta.tok_hash && meta.tok_hash != tok_hash(tok)) {
        err_set(&e, "%s was trained with tokenizer '%s', not '%s'", ckpt, meta.tokenizer, tokenizer);
        goto done;
    }
    if (gpt_alloc_acts(&m, batch, seq, &e) != 0 ||
        loader_open(&l, data, seq, 0, 0, m.cfg.vocab_size, tok_hash(tok), &e) != 0)
        goto done;
    in = malloc(sizeof(int32_t) * batch * seq);
    tg = malloc(sizeof(int32_t) * batch * seq);
    if (!in || !tg) {
        err_set(&e, "out of memory");
        goto done;
    }
    eval_result_t r = eval_loss(&m, &l, tok, batch, max_batches, in, tg);
    if (json)
        printf("{\"loss\":%.6f,\"bpb\":%.6f,\"tokens\":%lld,\"bytes\":%lld,\"ckpt\":\"%s\"}\n", r.loss, r.bpb,
               (long long)r.tokens, (long long)r.bytes, ckpt);
    else
        printf("loss %.4f | bits per byte %.4f | %lld tokens, %lld bytes\n", r.loss, r.bpb, (long long)r.tokens,
               (long long)r.bytes);
    rc = 0;
done:
    if (rc) cli_fail(e.msg);
    free(in);
    free(tg);
    loader_close(&l);
    tok_free(tok);
    gpt_free(&m);
    return rc;
}
