// manabi tokenizer: encode, decode, inspect.
//   manabi tokenizer encode -t TOKENIZER [--pattern P] [--allow-special] [FILE|-]
//   manabi tokenizer decode -t TOKENIZER [--pattern P] [FILE|-]
//   manabi tokenizer info -t TOKENIZER [--pattern P]
//   manabi tokenizer export -t TOKENIZER --out FILE.tiktoken
//   manabi tokenizer train --vocab-size N --out FILE [--pattern P] [--special S,...] FILE...
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/io.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/train.h"

static int read_input(const char *path, char **buf, size_t *len, err_t *e) {
    if (path && strcmp(path, "-") != 0) return io_read_file(path, buf, len, e);
    return io_read_file("/dev/stdin", buf, len, e);
}

static int encode(tok_t *t, const char *path, int allow_special) {
    err_t e = {0};
    char *text;
    size_t len, n = 0, cap = 0;
    int32_t *ids = NULL;
    if (read_input(path, &text, &len, &e) != 0) return cli_fail(e.msg);
    int rc = tok_encode(t, text, len, allow_special, &ids, &n, &cap, &e);
    free(text);
    if (rc != 0) {
        free(ids);
        return cli_fail(e.msg);
    }
    // Whitespace-separated ids, one line, for scripts.
    char buf[1 << 16];
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (used > sizeof buf - 16) {
            fwrite(buf, 1, used, stdout);
            used = 0;
        }
        used += (size_t)snprintf(buf + used, sizeof buf - used, i ? " %d" : "%d", ids[i]);
    }
    fwrite(buf, 1, used, stdout);
    putchar('\n');
    free(ids);
    return 0;
}

static int decode(tok_t *t, const char *path) {
    err_t e = {0};
    char *text;
    size_t len;
    if (read_input(path, &text, &len, &e) != 0) return cli_fail(e.msg);
    int rc = 0;
    char *p = text, *end;
    for (;;) {
        while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') p++;
        if (!*p) break;
        errno = 0;
        long id = strtol(p, &end, 10);
        size_t n;
        const char *bytes = end != p && !errno ? tok_token_bytes(t, (int32_t)id, &n) : NULL;
        if (!bytes) {
            fprintf(stderr, "manabi: tokenizer decode: '%.20s' at byte %zu is not a token id of %s (0..%d)\n", p,
                    (size_t)(p - text), tok_name(t), tok_vocab_size(t) - 1);
            rc = 1;
            break;
        }
        fwrite(bytes, 1, n, stdout);  // raw bytes: a split UTF-8 character stays split, exactly
        p = end;
    }
    free(text);
    return rc;
}

static int train(int argc, char **argv) {
    const char *out = NULL, *pattern = "o200k", *specials = NULL, *input = NULL;
    int vocab = 0, threads = 0;
    arg_opt_t opts[] = {
        {"vocab-size", ARG_INT, &vocab, "tokens in all: 256 bytes + merges + special tokens"},
        {"out", ARG_STR, &out, "tokenizer file to write"},
        {"pattern", ARG_STR, &pattern, "split pattern: gpt2, cl100k, o200k or a regular expression"},
        {"special", ARG_STR, &specials, "extra special tokens, comma-separated (the chat roles are always reserved)"},
        {"input", ARG_STR, &input, "a text file (more may follow as arguments)"},
        {"threads", ARG_INT, &threads, "counting threads (default: all cores)"},
        {0},
    };
    char *pos[4096];
    int npos, rc = cli_parse("tokenizer train", "--vocab-size N --out FILE [--pattern P] FILE...", opts, argc, argv,
                             pos + 1, 4095, &npos);
    if (rc >= 0) return rc;
    char **inputs = pos + 1;
    if (input) {
        pos[0] = (char *)input;
        inputs = pos;
        npos++;
    }
    if (!out || vocab <= 0 || npos == 0) return cli_fail("tokenizer train: --vocab-size, --out and input files are required");
    char *extra[16], *list = specials ? strdup(specials) : NULL;
    int n_extra = 0;
    for (char *save = NULL, *s = list ? strtok_r(list, ",", &save) : NULL; s && n_extra < 16; s = strtok_r(NULL, ",", &save))
        extra[n_extra++] = s;
    tok_train_opts_t o = {.inputs = (const char *const *)inputs, .n_inputs = npos, .vocab_size = vocab,
                          .pattern = pattern, .extra_specials = (const char *const *)extra,
                          .n_extra_specials = n_extra, .out = out, .threads = threads, .verbose = 1};
    tok_train_report_t r;
    err_t e = {0};
    rc = tok_train(&o, &r, &e);
    free(list);
    if (rc != 0) return cli_fail(e.msg);
    printf("wrote %s: %d merges from %.1f MB (%lld distinct pieces); counting %.1f s, merging %.1f s\n", out,
           r.merges, r.bytes / 1e6, (long long)r.distinct, r.count_s, r.merge_s);
    return 0;
}

int cmd_tokenizer(int argc, char **argv) {
    const char *what = argc > 0 ? argv[0] : "";
    if (strcmp(what, "train") == 0) return train(argc - 1, argv + 1);
    const char *spec = NULL, *pattern = NULL, *out = NULL;
    int allow_special = 0;
    arg_opt_t opts[] = {
        {"t", ARG_STR, &spec, "tokenizer: byte, or a .tiktoken rank file"},
        {"tokenizer", ARG_STR, &spec, "the same as -t"},
        {"pattern", ARG_STR, &pattern, "split pattern and specials of a rank file: gpt2, cl100k, o200k"},
        {"allow-special", ARG_BOOL, &allow_special, "encode special-token strings as their ids"},
        {"out", ARG_STR, &out, "export: the .tiktoken file to write"},
        {0},
    };
    if (strcmp(what, "encode") != 0 && strcmp(what, "decode") != 0 && strcmp(what, "info") != 0 &&
        strcmp(what, "export") != 0) {
        if (strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0) {
            printf("usage: manabi tokenizer encode|decode|info -t TOKENIZER [--pattern P] [FILE|-]\n"
                   "       manabi tokenizer export -t TOKENIZER --out FILE.tiktoken\n"
                   "       manabi tokenizer train --vocab-size N --out FILE [--pattern P] FILE...\n\noptions:\n");
            args_print(stdout, opts);
            return 0;
        }
        fprintf(stderr, "manabi tokenizer: expected train, encode, decode, info or export\n");
        return 2;
    }
    char *pos[1];
    int npos, rc = cli_parse("tokenizer", "encode|decode|info -t TOKENIZER [--pattern P] [FILE|-]", opts, argc - 1,
                             argv + 1, pos, 1, &npos);
    if (rc >= 0) return rc;
    if (!spec) return cli_fail("tokenizer: -t TOKENIZER is required (byte, or a .tiktoken file)");
    err_t e = {0};
    tok_t *t;
    if (tok_load(&t, spec, pattern, &e) != 0) return cli_fail(e.msg);
    if (strcmp(what, "export") == 0) {
        if (!out) rc = cli_fail("tokenizer export: --out FILE.tiktoken is required");
        else rc = tok_export_tiktoken(t, out, &e) == 0 ? 0 : cli_fail(e.msg);
    } else if (strcmp(what, "encode") == 0) rc = encode(t, npos ? pos[0] : NULL, allow_special);
    else if (strcmp(what, "decode") == 0) rc = decode(t, npos ? pos[0] : NULL);
    else {
        rc = 0;
        printf("name        %s\nvocab_size  %d\nhash        %016llx\npattern     %s\n", tok_name(t), tok_vocab_size(t),
               (unsigned long long)tok_hash(t), tok_pattern(t)[0] ? tok_pattern(t) : "(none)");
        static const char *const roles[TOK_NSPECIAL] = {"end of text", "system", "user", "assistant", "end of turn"};
        for (int r = 0; r < TOK_NSPECIAL; r++) {
            int id = tok_special(t, (tok_special_t)r);
            size_t n = 0;
            const char *s = id >= 0 ? tok_token_bytes(t, id, &n) : "";
            if (id >= 0) printf("special     %-12s %d %.*s\n", roles[r], id, (int)n, s);
        }
    }
    tok_free(t);
    return rc;
}
