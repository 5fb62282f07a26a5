// manabi data: preparing training data.
//   manabi data shards --out DIR FILE...   text files -> tokenized train/val shards
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "data/textshards.h"

static int data_shards(int argc, char **argv) {
    const char *out = NULL, *tokenizer = "byte", *delim = "<|endoftext|>";
    float val = 0.05f;
    int64_t shard_tokens = 100000000, max_bytes = 0;
    arg_opt_t opts[] = {
        {"out", ARG_STR, &out, "output directory for train_*.bin and val_*.bin"},
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer"},
        {"delimiter", ARG_STR, &delim, "line that separates documents (\"\": one document per file)"},
        {"val-fraction", ARG_FLOAT, &val, "fraction of documents held out for validation"},
        {"shard-tokens", ARG_I64, &shard_tokens, "tokens per shard file"},
        {"max-bytes", ARG_I64, &max_bytes, "read at most this many bytes of each file (0: all)"},
        {0},
    };
    char *pos[4096];
    int npos, rc = cli_parse("data shards", "--out DIR [options] FILE...", opts, argc, argv, pos, 4096, &npos);
    if (rc >= 0) return rc;
    if (!out) return cli_fail("data shards: --out is required");
    if (npos == 0) return cli_fail("data shards: give at least one input text file");
    if (!(val >= 0 && val < 1)) return cli_fail("--val-fraction must be in [0, 1)");
    err_t e = {0};
    tok_t *tok;
    if (tok_load(&tok, tokenizer, NULL, &e) != 0) return cli_fail(e.msg);
    textshards_opts_t o = {.inputs = (const char *const *)pos, .n_inputs = npos, .out_dir = out, .delimiter = delim,
                           .val_fraction = val, .shard_tokens = shard_tokens, .max_bytes = max_bytes};
    textshards_report_t r;
    rc = textshards_build(&o, tok, &r, &e);
    tok_free(tok);
    if (rc != 0) return cli_fail(e.msg);
    for (int k = 0; k < 2; k++)
        printf("%-5s %8lld documents %12lld bytes %12lld tokens %3d shards\n", k ? "val" : "train",
               (long long)r.docs[k], (long long)r.bytes[k], (long long)r.tokens[k], r.shards[k]);
    if (r.empty_docs) printf("skipped %lld empty documents\n", (long long)r.empty_docs);
    return 0;
}

int cmd_data(int argc, char **argv) {
    if (argc >= 1 && strcmp(argv[0], "shards") == 0) return data_shards(argc - 1, argv + 1);
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        char *help[] = {"--help"};
        return data_shards(1, help);
    }
    fprintf(stderr, "manabi data: expected a subcommand: shards\n");
    return 2;
}
