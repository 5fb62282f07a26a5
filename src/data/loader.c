#include "data/loader.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>

static int cmp_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int loader_open(loader_t *l, const char *patterns, int T, int random, uint64_t seed, int vocab_size,
                uint64_t tok_hash, err_t *e) {
    memset(l, 0, sizeof *l);
    l->T = T;
    l->random = random;
    rng_seed(&l->st.rng, seed);
    char *pats = strdup(patterns);
    if (!pats) return err_set(e, "out of memory");
    glob_t g;
    memset(&g, 0, sizeof g);
    int flags = 0, rc = -1;
    for (char *save = NULL, *p = strtok_r(pats, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        int r = glob(p, flags, NULL, &g);
        if (r == GLOB_NOMATCH) {
            err_set(e, "no shard matches '%s' (check the path, or build shards with 'manabi data shards')", p);
            goto done;
        }
        if (r != 0) {
            err_set(e, "cannot list '%s'", p);
            goto done;
        }
        flags = GLOB_APPEND;
    }
    // glob sorts each pattern's matches; sort the whole list so that the order (which a
    // checkpoint's shard index refers to) is by name whatever the order of the patterns.
    qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, cmp_path);
    l->shards = calloc(g.gl_pathc, sizeof *l->shards);
    if (!l->shards) {
        err_set(e, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        shard_t *s = &l->shards[l->n_shards];
        if (shard_open(s, g.gl_pathv[i], e) != 0) goto done;
        l->n_shards++;
        if (s->n < T + 1) {
            err_set(e, "shard %s has %lld tokens, fewer than one window of %d", s->path, (long long)s->n, T + 1);
            goto done;
        }
        if (s->has_meta && s->vocab_size > vocab_size) {
            err_set(e, "shard %s was made for a vocabulary of %d but the model has %d", s->path, s->vocab_size,
                    vocab_size);
            goto done;
        }
        if (tok_hash && s->has_meta && s->tok_hash != tok_hash) {
            err_set(e, "shard %s was made with a different tokenizer than the model's", s->path);
            goto done;
        }
        if (!s->has_meta) {  // foreign shard: check its ids once
            for (int64_t k = 0; k < s->n; k++)
                if (shard_token(s, k) >= (uint32_t)vocab_size) {
                    err_set(e, "shard %s: token %u at %lld is outside the model's vocabulary of %d", s->path,
                            shard_token(s, k), (long long)k, vocab_size);
                    goto done;
                }
        }
        l->total += s->n;
    }
    rc = 0;
done:
    globfree(&g);
    free(pats);
    if (rc != 0) loader_close(l);
    return rc;
}

void loader_close(loader_t *l) {
    if (!l) return;
    for (int i = 0; i < l->n_shards; i++) shard_close(&l->shards[i]);
    free(l->shards);
    memset(l, 0, sizeof *l);
}

void loader_rewind(loader_t *l) {
    l->st.shard = 0;
    l->st.pos = 0;
}

static void copy_window(const shard_t *s, int64_t pos, int T, int32_t *in, int32_t *tg) {
    for (int t = 0; t < T; t++) {
        in[t] = (int32_t)shard_token(s, pos + t);
        tg[t] = (int32_t)shard_token(s, pos + t + 1);
    }
}

void loader_next(loader_t *l, int32_t *inputs, int32_t *targets, int B) {
    int T = l->T;
    for (int b = 0; b < B; b++) {
        int32_t *in = inputs + (size_t)b * T, *tg = targets + (size_t)b * T;
        if (l->random) {
            // A window start uniform over all valid starts of all shards.
            int64_t starts = 0;
            for (int i = 0; i < l->n_shards; i++) starts += l->shards[i].n - T;
            int64_t k = (int64_t)rng_below(&l->st.rng, (uint64_t)starts);
            int i = 0;
            while (k >= l->shards[i].n - T) k -= l->shards[i++].n - T;
            copy_window(&l->shards[i], k, T, in, tg);
        } else {
            const shard_t *s = &l->shards[l->st.shard];
            if (l->st.pos + T + 1 > s->n) {
                l->st.pos = 0;
                if (++l->st.shard == l->n_shards) {
                    l->st.shard = 0;
                    l->st.epoch++;
                }
                s = &l->shards[l->st.shard];
            }
            copy_window(s, l->st.pos, T, in, tg);
            l->st.pos += T;
        }
    }
}
