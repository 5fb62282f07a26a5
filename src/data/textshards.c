#include "data/textshards.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"
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

// Adds text[0..len) as a document to the batch (trimmed of surrounding blank lines; empty
// documents are skipped and counted), encoding the batch when it is full.
static int queue_doc(doc_t **docs, size_t *n, size_t *cap, size_t *bytes, split_t *sp, textshards_report_t *rep,
                     const textshards_opts_t *o, const tok_t *tok, const char *text, size_t len, err_t *e) {
    while (len && (text[0] == '\n' || text[0] == '\r')) text++, len--;
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r')) len--;
    if (len == 0) {
        rep->empty_docs++;
        return 0;
    }
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 1024;
        doc_t *p = realloc(*docs, nc * sizeof *p);
        if (!p) return err_set(e, "out of memory");
        *docs = p;
        *cap = nc;
    }
    (*docs)[(*n)++] = (doc_t){.text = text, .len = len};
    *bytes += len;
    if (*bytes < BATCH_BYTES) return 0;
    int rc = add_docs(sp, rep, o, tok, *docs, *n, e);
    *n = *bytes = 0;
    return rc;
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
    size_t ndocs = 0, capdocs = 0, batch_bytes = 0;
    int rc = -1;
    size_t dlen = strlen(o->delimiter);
    for (int f = 0; f < o->n_inputs; f++) {
        char *buf;
        size_t len;
        if (io_read_file(o->inputs[f], &buf, &len, e) != 0) goto done;
        if (o->max_bytes && (int64_t)len > o->max_bytes) len = (size_t)o->max_bytes;  // a document may be cut
        if (memchr(buf, 0, len)) {
            free(buf);
            err_set(e, "%s contains NUL bytes: is it a text file?", o->inputs[f]);
            goto done;
        }
        size_t start = 0;
        for (size_t i = 0; dlen && i < len;) {
            // A delimiter line: at the start of a line, followed by a newline or the end.
            int at_line = i == 0 || buf[i - 1] == '\n';
            if (at_line && i + dlen <= len && memcmp(buf + i, o->delimiter, dlen) == 0 &&
                (i + dlen == len || buf[i + dlen] == '\n')) {
                if (queue_doc(&docs, &ndocs, &capdocs, &batch_bytes, sp, rep, o, tok, buf + start, i - start, e) != 0) {
                    free(buf);
                    goto done;
                }
                i += dlen + 1;
                start = i;
                continue;
            }
            const char *nl = memchr(buf + i, '\n', len - i);
            i = nl ? (size_t)(nl - buf) + 1 : len;
        }
        if ((start < len && queue_doc(&docs, &ndocs, &capdocs, &batch_bytes, sp, rep, o, tok, buf + start,
                                      len - start, e) != 0) ||
            add_docs(sp, rep, o, tok, docs, ndocs, e) != 0) {  // the documents point into buf
            free(buf);
            goto done;
        }
        ndocs = batch_bytes = 0;
        free(buf);
    }
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
    for (size_t i = 0; i < ndocs; i++) free(docs[i].ids);
    free(docs);
    free(sp[0].ids);
    free(sp[1].ids);
    return rc;
}
