// Loading a checkpoint, the tokenizer it was trained with and an adapter, for the commands
// that run a model.
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "align/prefs.h"
#include "model/lora.h"

int cli_load_model(const char *ckpt, const char *tokenizer, const char *adapter, unsigned flags, gpt_t *m,
                   tok_t **tok, err_t *e) {
    ckpt_meta_t meta;
    *tok = NULL;
    int rc = flags & CLI_WRITABLE ? ckpt_load_model(ckpt, m, &meta, e) : ckpt_map_model(ckpt, m, &meta, e);
    if (rc != 0) return -1;
    if (!tokenizer) tokenizer = meta.tokenizer[0] ? meta.tokenizer : "byte";
    if (tok_load(tok, tokenizer, NULL, e) != 0) goto fail;
    if (meta.tok_hash && meta.tok_hash != tok_hash(*tok)) {
        err_set(e, "%s was trained with tokenizer '%s', not '%s': give the one it was trained with (--tokenizer)", ckpt,
                meta.tokenizer, tokenizer);
        goto fail;
    }
    if (tok_vocab_size(*tok) > m->cfg.vocab_size) {
        err_set(e, "tokenizer '%s' has %d tokens but the model in %s only %d: they do not belong together", tokenizer,
                tok_vocab_size(*tok), ckpt, m->cfg.vocab_size);
        goto fail;
    }
    if (tok_special(*tok, TOK_EOT) < 0) {
        err_set(e, "tokenizer '%s' has no <|endoftext|> token to start a sequence with", tokenizer);
        goto fail;
    }
    if (adapter && !(m->lora = lora_load(adapter, m, e))) goto fail;  // before bf16: it checks the weights
    if ((flags & CLI_BF16) && gpt_to_bf16(m, e) != 0) goto fail;
    return 0;
fail:
    cli_free_model(m, *tok);
    *tok = NULL;
    return -1;
}

int cli_load_start(const char *ckpt, const char *tokenizer, const char *sft_lora, gpt_t *m, tok_t **tok, err_t *e) {
    if (cli_load_model(ckpt, tokenizer, sft_lora, CLI_WRITABLE, m, tok, e) != 0) return -1;
    if (m->lora) {
        int rc = lora_merge(m->lora, m, e);
        lora_free(m->lora);
        m->lora = NULL;
        if (rc != 0) {
            cli_free_model(m, *tok);
            *tok = NULL;
            return -1;
        }
    }
    return 0;
}

void cli_free_model(gpt_t *m, tok_t *tok) {
    lora_free(m->lora);
    m->lora = NULL;
    gpt_free(m);
    tok_free(tok);
}

void cli_print_stats(FILE *f, const gpt_t *m, const gen_stats_t *s) {
    fflush(stdout);  // after the text it follows
    fprintf(f, "prefill %lld tokens in %.3f s (%.1f tokens/s), decode %lld tokens in %.3f s (%.1f tokens/s); "
               "weights %s, %s%s; resident %.1f MiB (peak %.1f)\n",
            (long long)s->prefill_tokens, s->prefill_s, s->prefill_s > 0 ? s->prefill_tokens / s->prefill_s : 0,
            (long long)s->decode_tokens, s->decode_s, s->decode_s > 0 ? s->decode_tokens / s->decode_s : 0,
            m->params_bf16 ? "bf16" : "fp32", m->file ? "memory-mapped" : "in memory", m->lora ? ", LoRA adapter" : "",
            mem_resident() / 1048576.0, mem_peak_resident() / 1048576.0);
}

int cli_checkpoint_meta(const char *base, const char *tokenizer, const tok_t *tok, ckpt_meta_t *meta, err_t *e) {
    gpt_t probe;
    ckpt_meta_t bm;
    if (ckpt_map_model(base, &probe, &bm, e) != 0) return -1;
    gpt_free(&probe);
    memset(meta, 0, sizeof *meta);
    snprintf(meta->tokenizer, sizeof meta->tokenizer, "%s", tokenizer ? tokenizer : bm.tokenizer);
    meta->tok_hash = tok_hash(tok);
    return 0;
}

int cli_load_pairs(pref_data_t *d, const tok_t *tok, const char *path, int max_len, int strict, err_t *e) {
    pref_init(d);
    if (pref_load(d, tok, path, max_len, strict, e) != 0) return -1;
    printf("%s: %zu lines, %zu pairs kept", path, d->lines, d->n);
    for (int k = 0; k < PREF_NSKIP; k++)
        if (d->skipped[k]) printf(", %zu skipped (%s)", d->skipped[k], pref_skip_name((pref_skip_t)k));
    printf("\n");
    for (int i = 0; i < d->n_notes; i++) printf("  %s\n", d->notes[i]);
    if (d->n == 0) return err_set(e, "%s: no usable preference pair", path);
    return 0;
}
