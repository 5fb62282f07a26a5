// manabi sample: continue a prompt from a checkpoint (greedy, or llama.cpp's sampler chain).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "infer/sample.h"
#include "infer/utf8out.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"

typedef struct {
    const tok_t *tok;
    utf8out_t out;
} printer_t;

static void write_stdout(const char *s, size_t n, void *ctx) {
    (void)ctx;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
}

static int print_token(int32_t id, void *ctx) {
    printer_t *p = ctx;
    if (id == tok_special(p->tok, TOK_EOT)) return 1;  // end of the document
    size_t n;
    const char *s = tok_token_bytes(p->tok, id, &n);
    utf8out_push(&p->out, s, n);
    return 0;
}

int cmd_sample(int argc, char **argv) {
    const char *ckpt = NULL, *prompt = "", *tokenizer = NULL;
    int max_new = 200, seed = 42;
    sample_config_t sc;
    sample_config_default(&sc);
    arg_opt_t opts[] = {
        {"ckpt", ARG_STR, &ckpt, "checkpoint (.safetensors)"},
        {"prompt", ARG_STR, &prompt, "text to continue"},
        {"tokens", ARG_INT, &max_new, "maximum new tokens"},
        {"temperature", ARG_FLOAT, &sc.temperature, "sampling temperature (0: greedy)"},
        {"top-k", ARG_INT, &sc.top_k, "keep the k most likely tokens (0: all)"},
        {"top-p", ARG_FLOAT, &sc.top_p, "keep the most likely tokens up to this probability, in (0, 1]"},
        {"min-p", ARG_FLOAT, &sc.min_p, "drop tokens below this fraction of the most likely one's probability"},
        {"repeat-penalty", ARG_FLOAT, &sc.repeat_penalty, "divide the logits of recent tokens by this (1: off)"},
        {"frequency-penalty", ARG_FLOAT, &sc.frequency_penalty, "subtract this per occurrence in the window"},
        {"presence-penalty", ARG_FLOAT, &sc.presence_penalty, "subtract this once a token is in the window"},
        {"repeat-last-n", ARG_INT, &sc.repeat_last_n, "tokens the penalties look back over"},
        {"seed", ARG_INT, &seed, "random seed"},
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer (default: the one the checkpoint records)"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("sample", "--ckpt CKPT [--prompt TEXT] [--tokens N] [--temperature X]", opts, argc,
                             argv, pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!ckpt) return cli_fail("sample: --ckpt is required");
    err_t ce = {0};
    if (sample_config_check(&sc, &ce) != 0) {
        fprintf(stderr, "manabi: --%s\n", ce.msg);  // the message starts with the flag's name
        return 2;
    }
    if (max_new < 0) return cli_fail("--tokens must be >= 0");
    err_t e = {0};
    gpt_t m;
    ckpt_meta_t meta;
    tok_t *tok = NULL;
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    rc = 1;
    if (ckpt_load_model(ckpt, &m, &meta, &e) != 0) return cli_fail(e.msg);
    if (!tokenizer) tokenizer = meta.tokenizer[0] ? meta.tokenizer : "byte";
    if (tok_load(&tok, tokenizer, NULL, &e) != 0) goto done;
    if (meta.tok_hash && meta.tok_hash != tok_hash(tok)) {
        err_set(&e, "%s was trained with tokenizer '%s', not '%s'", ckpt, meta.tokenizer, tokenizer);
        goto done;
    }
    if (tok_vocab_size(tok) > m.cfg.vocab_size) {
        err_set(&e, "tokenizer '%s' has %d tokens but the model only %d", tokenizer, tok_vocab_size(tok), m.cfg.vocab_size);
        goto done;
    }
    // The sequence starts with <|endoftext|>, as every training document does.
    int32_t eot = tok_special(tok, TOK_EOT);
    if (eot < 0) {
        err_set(&e, "tokenizer '%s' has no <|endoftext|> token to start the sequence with", tokenizer);
        goto done;
    }
    if (tok_encode(tok, prompt, strlen(prompt), 0, &ids, &n, &cap, &e) != 0) goto done;
    size_t total = n + 1 + (size_t)max_new;
    int32_t *seqbuf = malloc(total * sizeof(int32_t));
    if (!seqbuf) {
        err_set(&e, "out of memory");
        goto done;
    }
    seqbuf[0] = eot;
    memcpy(seqbuf + 1, ids, n * sizeof(int32_t));
    kv_cache_t cache;
    if (kv_init(&cache, &m, m.cfg.context, m.cfg.context < 256 ? m.cfg.context : 256, &e) != 0) {
        free(seqbuf);
        goto done;
    }
    rng_t rng;
    rng_seed(&rng, (uint64_t)seed);
    fputs(prompt, stdout);
    printer_t pr = {.tok = tok};
    utf8out_init(&pr.out, write_stdout, NULL);
    int got = generate(&m, &cache, seqbuf, (int)n + 1, (int)total, max_new, &sc, &rng, print_token, &pr, &e);
    utf8out_flush(&pr.out);
    putchar('\n');
    free(seqbuf);
    kv_free(&cache);
    if (got < 0) goto done;
    rc = 0;
done:
    if (rc) cli_fail(e.msg);
    free(ids);
    tok_free(tok);
    gpt_free(&m);
    return rc;
}
