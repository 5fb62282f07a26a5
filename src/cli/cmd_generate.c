// manabi generate: continue prompts from a checkpoint, streaming one sequence or printing many.
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/io.h"
#include "infer/utf8out.h"

static void write_stdout(const char *s, size_t n, void *ctx) {
    (void)ctx;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
}

static int stream_stdout(int seq, const char *text, size_t len, void *ctx) {
    (void)seq;
    utf8out_push(ctx, text, len);
    return cli_stop != 0;  // Ctrl-C ends the answer, not the program
}

typedef struct {
    char *p;
    size_t n, cap;
} buf_t;

static void write_buf(const char *s, size_t n, void *ctx) {
    buf_t *b = ctx;
    if (b->n + n + 1 > b->cap) {
        size_t c = (b->n + n + 1) * 2;
        char *q = realloc(b->p, c);
        if (!q) return;  // out of memory: the text is cut (json-c would fail next anyway)
        b->p = q, b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

// text with invalid UTF-8 replaced by U+FFFD (JSON needs valid UTF-8).  Caller frees.
static char *valid_utf8(const char *s, size_t n) {
    buf_t b = {0};
    utf8out_t u;
    utf8out_init(&u, write_buf, &b);
    utf8out_push(&u, s, n);
    utf8out_flush(&u);
    return b.p ? b.p : strdup("");
}

// Splits the contents of path into one prompt per non-empty line.
static int read_prompts(const char *path, char **data, char ***lines, int *n, err_t *e) {
    size_t len;
    if (io_read_file(path, data, &len, e) != 0) return -1;
    int cap = 16;
    *lines = malloc((size_t)cap * sizeof **lines);
    *n = 0;
    for (char *p = *data, *end; *lines && p < *data + len; p = end + 1) {
        end = memchr(p, '\n', (size_t)(*data + len - p));
        if (!end) end = *data + len;
        *end = 0;
        if (end > p && end[-1] == '\r') end[-1] = 0;
        if (!*p) continue;
        if (*n == cap) {
            char **q = realloc(*lines, (size_t)(cap *= 2) * sizeof **lines);
            if (!q) break;
            *lines = q;
        }
        (*lines)[(*n)++] = p;
    }
    if (!*lines) return err_set(e, "out of memory");
    if (*n == 0) return err_set(e, "%s has no prompts: write one per line", path);
    return 0;
}

int cmd_generate(int argc, char **argv) {
    const char *ckpt = NULL, *prompt = NULL, *prompt_file = NULL, *prompts_file = NULL, *tokenizer = NULL, *adapter = NULL;
    int seed = 42, samples = 1, bf16 = 0, json = 0, stats = 0, unconditional = 0;
    arg_strs_t stops = {0};
    gen_config_t gc;
    gen_config_default(&gc);
    gc.max_new = 200;
    sample_config_t *sc = &gc.sample;
    arg_opt_t opts[] = {
        {"ckpt", ARG_STR, &ckpt, "checkpoint (.safetensors)"},
        {"prompt", ARG_STR, &prompt, "text to continue"},
        {"prompt-file", ARG_STR, &prompt_file, "read the prompt from this file ('-': standard input)"},
        {"prompts", ARG_STR, &prompts_file, "several prompts, one per line of this file, generated together"},
        {"unconditional", ARG_BOOL, &unconditional, "start from <|endoftext|> alone (no prompt)"},
        {"max-tokens", ARG_INT, &gc.max_new, "most new tokens per answer"},
        {"stop", ARG_STRS, &stops, "end an answer at this text (not printed)"},
        {"samples", ARG_INT, &samples, "answers per prompt, sharing one prefill"},
        {"slide", ARG_BOOL, &gc.slide, "when the context is full, keep its recent half and go on (else stop)"},
        CLI_SAMPLE_OPTS(sc),
        {"seed", ARG_INT, &seed, "random seed"},
        {"bf16", ARG_BOOL, &bf16, "run with the weights rounded to bfloat16 (half the memory traffic)"},
        {"json", ARG_BOOL, &json, "one JSON object per answer: prompt, sample, text, tokens, finish"},
        {"stats", ARG_BOOL, &stats, "print prefill and decode tokens/s and memory to stderr"},
        {"lora", ARG_STR, &adapter, "a LoRA adapter (adapter.safetensors from manabi sft) on the checkpoint, unmerged"},
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer (default: the one the checkpoint records)"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("generate", "--ckpt CKPT (--prompt TEXT | --prompt-file F | --prompts F) [options]",
                             opts, argc, argv, pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!ckpt) return cli_fail("generate: --ckpt is required");
    if (!!prompt + !!prompt_file + !!prompts_file + unconditional != 1)
        return cli_fail("generate: give one of --prompt, --prompt-file, --prompts or --unconditional");
    if (prompt && !*prompt)
        return cli_fail("generate: the prompt is empty: give some text, or --unconditional to start from nothing");
    err_t ce = {0};
    if (sample_config_check(sc, &ce) != 0) {
        fprintf(stderr, "manabi: --%s\n", ce.msg);  // the message starts with the flag's name
        return 2;
    }
    if (gc.max_new < 0) return cli_fail("--max-tokens must be >= 0");
    if (samples < 1) return cli_fail("--samples must be >= 1");
    for (int i = 0; i < stops.n; i++)
        if (!*stops.v[i]) return cli_fail("--stop: the text is empty");

    err_t e = {0};
    gpt_t m;
    tok_t *tok = NULL;
    gen_t *g = NULL;
    char *data = NULL, **texts = NULL, *one[1] = {(char *)(prompt ? prompt : "")};
    int np = 1;
    int32_t **ids = NULL, eot;
    int *lens = NULL;
    gen_output_t *out = NULL;
    rc = 1;
    if (prompts_file) {
        if (read_prompts(prompts_file, &data, &texts, &np, &e) != 0) goto done0;
    } else if (prompt_file) {
        size_t len;
        if (io_read_file(prompt_file, &data, &len, &e) != 0) goto done0;
        if (len == 0) {
            err_set(&e, "%s is empty: give some text to continue", prompt_file);
            goto done0;
        }
        one[0] = data;
    }
    if (cli_load_model(ckpt, tokenizer, adapter, bf16 ? CLI_BF16 : 0, &m, &tok, &e) != 0) goto done0;
    eot = tok_special(tok, TOK_EOT);
    char **ptext = texts ? texts : one;
    ids = calloc((size_t)np, sizeof *ids), lens = calloc((size_t)np, sizeof *lens);
    out = calloc((size_t)np * samples, sizeof *out);
    if (!ids || !lens || !out) {
        err_set(&e, "out of memory");
        goto done;
    }
    for (int j = 0; j < np; j++) {  // every sequence starts with <|endoftext|>, as in training
        size_t n = 1, cap = 64;
        if (!(ids[j] = malloc(cap * sizeof(int32_t)))) {
            err_set(&e, "out of memory");
            goto done;
        }
        ids[j][0] = eot;
        if (tok_encode(tok, ptext[j], strlen(ptext[j]), 0, &ids[j], &n, &cap, &e) != 0) goto done;
        lens[j] = (int)n;
    }
    int streaming = !json && np == 1 && samples == 1, max_seqs = np * samples < 16 ? np * samples : 16;
    if (max_seqs < samples) max_seqs = samples;
    if (!(g = gen_new(&m, tok, max_seqs, &e))) goto done;
    int32_t stop_tok[1] = {eot};
    gc.stop_tokens = stop_tok, gc.n_stop_tokens = 1;
    gc.stop_strings = stops.v, gc.n_stop_strings = stops.n;
    rng_t rng;
    rng_seed(&rng, (uint64_t)seed);
    utf8out_t u;
    utf8out_init(&u, write_stdout, NULL);
    if (streaming) fputs(ptext[0], stdout);
    cli_catch_signals();
    int got = gen_run(g, &gc, (const int32_t *const *)ids, lens, np, samples, &rng, streaming ? stream_stdout : NULL,
                      &u, out, &e);
    if (streaming) {
        utf8out_flush(&u);
        putchar('\n');
    }
    if (got != 0) goto done;
    for (int i = 0; !streaming && i < np * samples; i++) {
        const gen_output_t *o = &out[i];
        if (json) {
            char *t = valid_utf8(o->text, o->len);
            json_object *obj = json_object_new_object(), *toks = json_object_new_array();
            for (int k = 0; k < o->n; k++) json_object_array_add(toks, json_object_new_int(o->tokens[k]));
            json_object_object_add(obj, "prompt", json_object_new_int(i / samples + 1));
            json_object_object_add(obj, "sample", json_object_new_int(i % samples + 1));
            json_object_object_add(obj, "text", json_object_new_string(t));
            json_object_object_add(obj, "tokens", toks);
            json_object_object_add(obj, "finish", json_object_new_string(gen_finish_name(o->finish)));
            puts(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
            json_object_put(obj);
            free(t);
        } else {
            printf("### prompt %d, sample %d: %d tokens, %s\n%s", i / samples + 1, i % samples + 1, o->n,
                   gen_finish_name(o->finish), ptext[i / samples]);
            utf8out_push(&u, o->text, o->len);
            utf8out_flush(&u);
            putchar('\n');
        }
    }
    if (stats) cli_print_stats(stderr, &m, gen_stats(g));
    rc = 0;
done:
    gen_output_free(out, np * samples);
    for (int j = 0; ids && j < np; j++) free(ids[j]);
    gen_free(g);
    cli_free_model(&m, tok);
done0:
    if (rc) cli_fail(e.msg);
    free(out);
    free(ids);
    free(lens);
    free(texts);
    free(data);
    return rc;
}
