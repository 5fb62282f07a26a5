#include "data/textshards.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
#include "data/reader.h"
#include "data/shard.h"

typedef struct split {
    int32_t *ids;
    size_t n, cap;
    int index;           // next shard number
    const char *name;    // "train" / "val"
} split_t;

static int flush_split(split_t *s, const textshards_opts_t *o, const tok_t *tok, int final, err_t *e) {
    while (s->n > 0 && (final || (int64_t)s->n >= o->shard_tokens)) {
        size_t take = (int64_t)s->n > o->shard_tokens ? (size_t)o->shard_tokens : s->n;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s_%06d.bin", o->out_dir, s->name, s->index);
        if (shard_write(path, s->ids, (int64_t)take, tok_vocab_size(tok), tok_special(tok, TOK_EOT), tok_hash(tok), e) != 0)
            return -1;
        s->index++;
        memmove(s->ids, s->ids + take, (s->n - take) * sizeof(int32_t));
        s->n -= take;
    }
    return 0;
}

// A document and, once encoded, its ids.
typedef struct doc {
    const char *text;
    size_t len;
    int32_t *ids;
    size_t n, cap;
    int failed;
    err_t err;
} doc_t;

enum { BATCH_BYTES = 32 << 20 };  // text encoded in parallel before it is appended in order

static int append(split_t *s, const int32_t *ids, size_t n, int32_t first) {
    if (s->n + n + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 1 << 16;
        while (nc < s->n + n + 1) nc *= 2;
        int32_t *p = realloc(s->ids, nc * sizeof *p);
        if (!p) return -1;
        s->ids = p;
        s->cap = nc;
    }
    s->ids[s->n++] = first;
    memcpy(s->ids + s->n, ids, n * sizeof *ids);
    s->n += n;
    return 0;
}

// Encodes docs[0..n) on all cores, then appends each (behind <|endoftext|>) to its split in
// document order, so the shards do not depend on the thread count.
static int add_docs(split_t *sp, textshards_report_t *rep, const textshards_opts_t *o, const tok_t *tok, doc_t *docs,
                    size_t n, err_t *e) {
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t i = 0; i < n; i++)
        docs[i].failed = tok_encode(tok, docs[i].text, docs[i].len, 0, &docs[i].ids, &docs[i].n, &docs[i].cap,
                                    &docs[i].err) != 0;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        doc_t *d = &docs[i];
        if (rc == 0 && d->failed) rc = err_set(e, "%s", d->err.msg);
        if (rc == 0) {
            double u = (double)(io_fnv1a(IO_FNV_INIT, d->text, d->len) >> 11) / 9007199254740992.0;
            int which = u < o->val_fraction;
            if (append(&sp[which], d->ids, d->n, tok_special(tok, TOK_EOT)) != 0) rc = err_set(e, "out of memory");
            rep->docs[which]++;
            rep->tokens[which] += (int64_t)d->n + 1;
            rep->bytes[which] += (int64_t)d->len;
            if (rc == 0) rc = flush_split(&sp[which], o, tok, 0, e);
        }
        free(d->ids);
        memset(d, 0, sizeof *d);
    }
    return rc;
}

// Encodes and appends the queued documents, whose text lies in arena at their offsets.
static int flush_docs(split_t *sp, textshards_report_t *rep, const textshards_opts_t *o, const tok_t *tok, doc_t *docs,
                      size_t n, const char *arena, err_t *e) {
    for (size_t i = 0; i < n; i++) docs[i].text = arena + (size_t)docs[i].text;  // offsets -> pointers
    return add_docs(sp, rep, o, tok, docs, n, e);
}

int textshards_build(const textshards_opts_t *o, const tok_t *tok, textshards_report_t *rep, err_t *e) {
    memset(rep, 0, sizeof *rep);
    if (o->n_inputs < 1) return err_set(e, "no input files");
    if (o->shard_tokens < 2) return err_set(e, "shard size must be at least 2 tokens");
    if (tok_special(tok, TOK_EOT) < 0)
        return err_set(e, "tokenizer '%s' has no <|endoftext|> token to separate documents", tok_name(tok));
    if (io_mkdir_p(o->out_dir, e) != 0) return -1;
    split_t sp[2] = {{.name = "train"}, {.name = "val"}};
    doc_t *docs = NULL;
    char *arena = NULL;  // the batch's text; documents hold offsets into it until it is encoded
    size_t ndocs = 0, capdocs = 0, used = 0, cap = 0;
    int rc = -1;
    rd_config_t rc_cfg;
    rd_config_default(&rc_cfg);
    rc_cfg.delimiter = o->delimiter;
    if (o->text_field) rc_cfg.text_field = o->text_field;
    rc_cfg.strict = 1;  // a corpus with holes is not silently sharded
    for (int f = 0; f < o->n_inputs; f++) {
        rd_t *r;
        rd_doc_t d;
        int k;
        int64_t file_bytes = 0;
        if (rd_open(&r, o->inputs[f], &rc_cfg, e) != 0) goto done;
        if (rd_stats(r)->binary) {
            rd_close(r);
            err_set(e, "%s is binary (NUL bytes near its start): is it a text or JSONL file?", o->inputs[f]);
            goto done;
        }
        while ((k = rd_next(r, &d, e)) == 1) {
            const char *text = d.text;
            size_t len = d.len;
            if (o->max_bytes && file_bytes + (int64_t)len > o->max_bytes) len = (size_t)(o->max_bytes - file_bytes);
            while (len && (text[0] == '\n' || text[0] == '\r')) text++, len--;
            while (len && (text[len - 1] == '\n' || text[len - 1] == '\r')) len--;
            file_bytes += (int64_t)len;
            if (len == 0) {
                rep->empty_docs++;
            } else {
                if (ndocs == capdocs) {
                    size_t nc = capdocs ? 2 * capdocs : 1024;
                    doc_t *p = realloc(docs, nc * sizeof *p);
                    if (!p) goto oom;
                    docs = p, capdocs = nc;
                }
                if (used + len > cap) {
                    size_t nc = cap ? cap : 1 << 20;
                    while (nc < used + len) nc *= 2;
                    char *p = realloc(arena, nc);
                    if (!p) goto oom;
                    arena = p, cap = nc;
                }
                memcpy(arena + used, text, len);
                docs[ndocs++] = (doc_t){.text = (const char *)used, .len = len};
                used += len;
                if (used >= BATCH_BYTES) {
                    if (flush_docs(sp, rep, o, tok, docs, ndocs, arena, e) != 0) goto fail_file;
                    ndocs = used = 0;
                }
            }
            if (o->max_bytes && file_bytes >= o->max_bytes) break;  // a document may be cut
        }
        rep->empty_docs += (int64_t)rd_stats(r)->empty;
        rd_close(r);
        if (k < 0) goto done;
        continue;
    oom:
        err_set(e, "out of memory");
    fail_file:
        rd_close(r);
        goto done;
    }
    if (flush_docs(sp, rep, o, tok, docs, ndocs, arena, e) != 0) goto done;
    ndocs = 0;
    for (int k = 0; k < 2; k++)
        if (flush_split(&sp[k], o, tok, 1, e) != 0) goto done;
    rep->shards[0] = sp[0].index;
    rep->shards[1] = sp[1].index;
    if (rep->docs[0] == 0) {
        err_set(e, "no training documents in the input (the corpus is empty?)");
        goto done;
    }
    rc = 0;
done:
    // A failed build removes the shards it wrote, so no partial corpus passes for a whole one.
    for (int k = 0; rc != 0 && k < 2; k++)
        for (int i = 0; i < sp[k].index; i++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s_%06d.bin", o->out_dir, sp[k].name, i);
            remove(path);
        }
    free(docs);
    free(arena);
    free(sp[0].ids);
    free(sp[1].ids);
    return rc;
}
