// manabi data: preparing training data.
//   manabi data pipeline --out DIR INPUT...     clean + dedup + finish + report on this machine
//   manabi data clean --out DIR [--shard i/n] INPUT...
//   manabi data dedup --out DIR
//   manabi data finish --out DIR [--shard i/n]
//   manabi data report DIR
//   manabi data shards --out DIR FILE...         text or JSONL -> tokenized train/val shards
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "data/pipeline.h"
#include "data/textshards.h"

// The flags of the pipeline stages; `stages` says which stages take each (C clean, D dedup,
// F finish), so one table serves every subcommand.
typedef struct data_flags {
    pl_config_t c;
    const char *name, *shard, *format, *disable, *enable, *set;
    int nfkc, no_pii, no_exact, no_near, no_lines, quiet;
    float max_invalid, verify;
    int64_t seed;
} data_flags_t;

static int build_opts(data_flags_t *f, const char *stages, arg_opt_t *out) {
    struct {
        const char *stages;
        arg_opt_t o;
    } all[] = {
        {"CDF", {"out", ARG_STR, &f->c.out_dir, "output directory (work/, clean/, dropped/, report.json)"}},
        {"CF", {"name", ARG_STR, &f->name, "name of this group of inputs (parts are <name>.<i>-of-<n>); finish: only these"}},
        {"CF", {"shard", ARG_STR, &f->shard, "i/n: this process takes input files f with f % n == i (finish: that part; default all)"}},
        {"C", {"format", ARG_STR, &f->format, "auto (by name, then content), text, jsonl, html, man or warc"}},
        {"C", {"delimiter", ARG_STR, &f->c.reader.delimiter, "text: line that separates documents (\"\": one per file)"}},
        {"C", {"text-field", ARG_STR, &f->c.reader.text_field, "JSONL: the field holding the text"}},
        {"C", {"source-field", ARG_STR, &f->c.reader.source_field, "JSONL: a field naming the document's source"}},
        {"C", {"strict", ARG_BOOL, &f->c.reader.strict, "stop at the first malformed line or broken file"}},
        {"C", {"nfkc", ARG_BOOL, &f->nfkc, "NFKC instead of NFC (folds full-width forms)"}},
        {"C", {"max-invalid", ARG_FLOAT, &f->max_invalid, "drop a document with more invalid UTF-8 than this fraction"}},
        {"C", {"langs", ARG_STR, &f->c.langs, "languages kept, comma separated, or all"}},
        {"C", {"disable", ARG_STR, &f->disable, "quality rules off: names or families (gopher, c4, fineweb, ja, all)"}},
        {"C", {"enable", ARG_STR, &f->enable, "quality rules on, e.g. c4_line_terminal_punctuation"}},
        {"C", {"set", ARG_STR, &f->set, "thresholds, e.g. gopher_min_words=20,ja_min_chars=200"}},
        {"C", {"no-pii", ARG_BOOL, &f->no_pii, "keep e-mail and IP addresses"}},
        {"D", {"no-exact", ARG_BOOL, &f->no_exact, "no exact deduplication"}},
        {"D", {"no-near", ARG_BOOL, &f->no_near, "no near-duplicate (MinHash) deduplication"}},
        {"DF", {"no-lines", ARG_BOOL, &f->no_lines, "no boilerplate line removal"}},
        {"CD", {"bands", ARG_INT, &f->c.mh_bands, "MinHash LSH bands"}},
        {"CD", {"rows", ARG_INT, &f->c.mh_rows, "MinHash rows per band"}},
        {"CD", {"seed", ARG_I64, &f->seed, "MinHash seed"}},
        {"D", {"verify", ARG_FLOAT, &f->verify, "near duplicate: estimated Jaccard at least this (0: no check)"}},
        {"D", {"line-min-docs", ARG_INT, &f->c.line_min_docs, "a line in this many documents is boilerplate"}},
        {"CDF", {"line-min-chars", ARG_INT, &f->c.line_min_chars, "shorter lines are never boilerplate"}},
        {"CF", {"explain", ARG_BOOL, &f->c.explain, "write dropped/<part>.jsonl: each dropped document and why"}},
        {"CDF", {"quiet", ARG_BOOL, &f->quiet, "no progress on stderr"}},
    };
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        for (const char *s = stages; *s; s++)
            if (strchr(all[i].stages, *s)) {
                out[n++] = all[i].o;
                break;
            }
    out[n] = (arg_opt_t){0};
    return n;
}

// Applies a comma-separated list: fn(item) for each; returns the first failure.
static int each_item(const char *list, int (*fn)(data_flags_t *, char *, err_t *), data_flags_t *f, err_t *e) {
    if (!list) return 0;
    char *copy = strdup(list);
    int rc = copy ? 0 : err_set(e, "out of memory");
    for (char *save = NULL, *s = copy ? strtok_r(copy, ",", &save) : NULL; s && rc == 0; s = strtok_r(NULL, ",", &save))
        rc = fn(f, s, e);
    free(copy);
    return rc;
}

static int rule_off(data_flags_t *f, char *s, err_t *e) { return qf_config_switch(&f->c.quality, s, 0, e); }
static int rule_on(data_flags_t *f, char *s, err_t *e) { return qf_config_switch(&f->c.quality, s, 1, e); }
static int set_one(data_flags_t *f, char *s, err_t *e) {
    char *eq = strchr(s, '='), *end;
    if (!eq) return err_set(e, "--set %s: write name=value", s);
    *eq = 0;
    double v = strtod(eq + 1, &end);
    if (end == eq + 1 || *end) return err_set(e, "--set %s=%s: the value is not a number", s, eq + 1);
    return qf_config_set(&f->c.quality, s, v, e);
}

// Turns the parsed flags into f->c; the message names the flag at fault.
static int finish_flags(data_flags_t *f, err_t *e) {
    pl_config_t *c = &f->c;
    if (f->name) c->name = f->name;
    if (f->shard) {
        char *end;
        long i = strtol(f->shard, &end, 10), n = *end == '/' ? strtol(end + 1, &end, 10) : -1;
        if (*end || n < 1 || i < 0 || i >= n || n > 99999)
            return err_set(e, "--shard %s: give i/n with 0 <= i < n <= 99999, e.g. 0/4", f->shard);
        c->shard = (int)i, c->n_shards = (int)n;
    }
    if (f->format) {
        static const struct {
            const char *name;
            rd_format_t fmt;
        } fmts[] = {{"auto", RD_FMT_AUTO}, {"text", RD_FMT_TEXT}, {"jsonl", RD_FMT_JSONL},
                    {"html", RD_FMT_HTML}, {"man", RD_FMT_MAN}, {"warc", RD_FMT_WARC}};
        size_t k = 0;
        while (k < sizeof fmts / sizeof *fmts && strcmp(fmts[k].name, f->format) != 0) k++;
        if (k == sizeof fmts / sizeof *fmts) return err_set(e, "--format %s: give auto, text, jsonl, html, man or warc", f->format);
        c->reader.format = fmts[k].fmt;
    }
    if (!(f->max_invalid >= 0 && f->max_invalid <= 1)) return err_set(e, "--max-invalid %g: give a fraction in [0, 1]", f->max_invalid);
    c->norm.max_invalid_frac = f->max_invalid;
    c->norm.form = f->nfkc ? TN_NFKC : TN_NFC;
    c->pii = !f->no_pii;
    c->exact = !f->no_exact, c->near = !f->no_near, c->lines = !f->no_lines;
    c->mh_verify = f->verify;
    c->mh_seed = (uint64_t)f->seed;
    c->progress = !f->quiet;
    if (each_item(f->disable, rule_off, f, e) || each_item(f->enable, rule_on, f, e) || each_item(f->set, set_one, f, e))
        return -1;
    return 0;
}

static void flags_default(data_flags_t *f) {
    memset(f, 0, sizeof *f);
    pl_config_default(&f->c);
    f->max_invalid = (float)f->c.norm.max_invalid_frac;
    f->verify = (float)f->c.mh_verify;
    f->seed = (int64_t)f->c.mh_seed;
}

enum { MAX_INPUTS = 1 << 16 };

// clean, dedup, finish and pipeline.
static int data_stage(const char *cmd, const char *stages, int argc, char **argv) {
    data_flags_t f;
    flags_default(&f);
    arg_opt_t opts[40];
    build_opts(&f, stages, opts);
    int takes_inputs = strchr(stages, 'C') != NULL;
    char **pos = malloc(MAX_INPUTS * sizeof *pos);
    if (!pos) return cli_fail("out of memory");
    char synopsis[128];
    snprintf(synopsis, sizeof synopsis, "--out DIR [options]%s", takes_inputs ? " FILE|DIR..." : "");
    int npos, rc = cli_parse(cmd, synopsis, opts, argc, argv, pos, MAX_INPUTS, &npos);
    err_t e = {0};
    char **files = NULL;
    int n_files = 0;
    rp_t *rep = NULL;
    if (rc >= 0) goto done;
    rc = 1;
    if (finish_flags(&f, &e) != 0) {
        fprintf(stderr, "manabi %s: %s\n", cmd, e.msg);
        rc = 2;
        goto done;
    }
    if (strcmp(stages, "CDF") == 0 && f.shard) {  // pl_run is shard 0 of 1: n jobs would each do everything
        fprintf(stderr, "manabi %s: --shard %s: the pipeline runs every shard here; for n jobs run `manabi data "
                        "clean --shard i/n`, then `data dedup` once, then `data finish --shard i/n`\n", cmd, f.shard);
        rc = 2;
        goto done;
    }
    if (!f.c.out_dir) {
        fprintf(stderr, "manabi %s: --out is required\n", cmd);
        rc = 2;
        goto done;
    }
    if (takes_inputs != (npos > 0)) {
        fprintf(stderr, "manabi %s: %s\n", cmd, takes_inputs ? "give the input files or directories" : "takes no input files");
        rc = 2;
        goto done;
    }
    if (takes_inputs && pl_expand_inputs((const char *const *)pos, npos, &files, &n_files, &e) != 0) goto fail;
    int r;
    if (strcmp(stages, "CDF") == 0) r = pl_run(&f.c, (const char *const *)files, n_files, &rep, &e);
    else if (stages[0] == 'C') r = pl_clean(&f.c, (const char *const *)files, n_files, &e);
    else if (stages[0] == 'D') r = pl_dedup(&f.c, &e);
    else if (f.shard) r = pl_finish(&f.c, &e);
    else r = pl_finish_all(&f.c, f.name, &e);
    if (r != 0) goto fail;
    if (rep) {
        rp_print(rep, stdout);
        printf("clean documents in %s/clean/, report in %s/report.json\n", f.c.out_dir, f.c.out_dir);
    }
    rc = 0;
    goto done;
fail:
    rc = cli_fail(e.msg);
done:
    rp_free(rep);
    pl_free_files(files, n_files);
    free(pos);
    return rc;
}

static int data_report(int argc, char **argv) {
    int json = 0;
    arg_opt_t opts[] = {{"json", ARG_BOOL, &json, "print report.json instead of the table"}, {0}};
    char *pos[2];
    int npos, rc = cli_parse("data report", "[--json] DIR", opts, argc, argv, pos, 2, &npos);
    if (rc >= 0) return rc;
    if (npos != 1) {
        fprintf(stderr, "manabi data report: give one output directory of `manabi data clean`\n");
        return 2;
    }
    pl_config_t c;
    pl_config_default(&c);
    c.out_dir = pos[0];
    err_t e = {0};
    rp_t *r;
    if (pl_report(&c, &r, &e) != 0) return cli_fail(e.msg);
    if (json) {
        char path[4200];
        snprintf(path, sizeof path, "%s/report.json", c.out_dir);
        FILE *f = fopen(path, "r");
        int ch;
        while (f && (ch = fgetc(f)) != EOF) putchar(ch);
        if (f) fclose(f);
    } else {
        rp_print(r, stdout);
    }
    rp_free(r);
    return 0;
}

static int data_shards(int argc, char **argv) {
    const char *out = NULL, *tokenizer = "byte", *delim = "<|endoftext|>", *field = "text";
    float val = 0.05f;
    int64_t shard_tokens = 100000000, max_bytes = 0;
    arg_opt_t opts[] = {
        {"out", ARG_STR, &out, "output directory for train_*.bin and val_*.bin"},
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer"},
        {"delimiter", ARG_STR, &delim, "text files: line that separates documents (\"\": one document per file)"},
        {"text-field", ARG_STR, &field, "JSONL files: the field holding the text"},
        {"val-fraction", ARG_FLOAT, &val, "fraction of documents held out for validation"},
        {"shard-tokens", ARG_I64, &shard_tokens, "tokens per shard file"},
        {"max-bytes", ARG_I64, &max_bytes, "read at most this many bytes of text from each file (0: all)"},
        {0},
    };
    char *pos[4096];
    int npos, rc = cli_parse("data shards", "--out DIR [options] FILE...", opts, argc, argv, pos, 4096, &npos);
    if (rc >= 0) return rc;
    if (!out) return cli_fail("data shards: --out is required");
    if (npos == 0) return cli_fail("data shards: give at least one input file (text or JSONL, e.g. clean/*.jsonl)");
    if (!(val >= 0 && val < 1)) return cli_fail("--val-fraction must be in [0, 1)");
    err_t e = {0};
    tok_t *tok;
    if (tok_load(&tok, tokenizer, NULL, &e) != 0) return cli_fail(e.msg);
    textshards_opts_t o = {.inputs = (const char *const *)pos, .n_inputs = npos, .out_dir = out, .delimiter = delim,
                           .text_field = field, .val_fraction = val, .shard_tokens = shard_tokens,
                           .max_bytes = max_bytes};
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
    const char *sub = argc >= 1 ? argv[0] : "";
    if (strcmp(sub, "pipeline") == 0) return data_stage("data pipeline", "CDF", argc - 1, argv + 1);
    if (strcmp(sub, "clean") == 0) return data_stage("data clean", "C", argc - 1, argv + 1);
    if (strcmp(sub, "dedup") == 0) return data_stage("data dedup", "D", argc - 1, argv + 1);
    if (strcmp(sub, "finish") == 0) return data_stage("data finish", "F", argc - 1, argv + 1);
    if (strcmp(sub, "report") == 0) return data_report(argc - 1, argv + 1);
    if (strcmp(sub, "shards") == 0) return data_shards(argc - 1, argv + 1);
    FILE *out = strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ? stdout : stderr;
    fprintf(out, "usage: manabi data <subcommand> [options]   ('manabi data <subcommand> --help' for its options)\n"
                 "  pipeline   raw files -> clean, deduplicated JSONL and a report, on this machine\n"
                 "  clean      stage 1 for shard i/n: read, extract, normalise, language, quality, PII\n"
                 "  dedup      stage 2, once: exact, near-duplicate and boilerplate-line decisions\n"
                 "  finish     stage 3 for shard i/n: apply them, write clean/<part>.jsonl\n"
                 "  report     add up the reports of every part\n"
                 "  shards     text or JSONL -> tokenized train/val shards\n");
    return out == stdout ? 0 : 2;
}
