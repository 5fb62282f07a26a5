#include "train/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

int ckpt_save_model(const char *path, const gpt_t *m, const ckpt_meta_t *meta, err_t *e) {
    const gpt_table_t *tab = &m->table;
    st_entry_t *ents = calloc((size_t)tab->n, sizeof *ents);
    char *cfg = gpt_config_to_json(&m->cfg);
    int rc = -1;
    if (!ents || !cfg) {
        err_set(e, "out of memory");
        goto done;
    }
    for (int i = 0; i < tab->n; i++) {
        const gpt_tensor_t *t = &tab->t[i];
        ents[i] = (st_entry_t){.name = t->name, .dtype = ST_F32, .ndim = t->ndim, .data = m->params + t->offset};
        ents[i].shape[0] = t->shape[0];
        ents[i].shape[1] = t->shape[1];
    }
    char hash[32], step[32], loss[64] = "";
    snprintf(hash, sizeof hash, "%016" PRIx64, meta->tok_hash);
    snprintf(step, sizeof step, "%" PRId64, meta->step);
    if (meta->has_loss) snprintf(loss, sizeof loss, "%.9g", meta->loss);
    const char *kv[] = {"format", "pt", "manabi.config", cfg, "manabi.tokenizer", meta->tokenizer,
                        "manabi.tokenizer_hash", hash, "manabi.step", step, "manabi.loss", loss};
    rc = st_write(path, ents, tab->n, kv, 6, e);
done:
    free(ents);
    free(cfg);
    return rc;
}

static int meta_i64(const st_file_t *f, const char *key, int64_t *out, err_t *e) {
    const char *v = st_meta(f, key);
    char *end;
    if (!v || !*v) return err_set(e, "%s: metadata '%s' is missing", f->path, key);
    *out = strtoll(v, &end, 10);
    if (*end) return err_set(e, "%s: metadata '%s' is not an integer: '%s'", f->path, key, v);
    return 0;
}

// Tensors a Hugging Face GPT-2 file may carry that are buffers, not parameters.
static int is_hf_buffer(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcmp(dot, ".masked_bias") == 0 || (strcmp(dot, ".bias") == 0 && strstr(name, ".attn.bias")));
}

static int read_config(const st_file_t *f, gpt_config_t *cfg, err_t *e) {
    const char *cj = st_meta(f, "manabi.config");
    if (!cj) return err_set(e, "%s: no 'manabi.config' in its metadata; is it a manabi checkpoint?", f->path);
    if (gpt_config_from_json(cfg, cj, e) != 0) return err_wrap(e, "%s", f->path);
    return 0;
}

static void read_meta(const st_file_t *f, ckpt_meta_t *meta) {
    const char *tn = st_meta(f, "manabi.tokenizer"), *th = st_meta(f, "manabi.tokenizer_hash");
    snprintf(meta->tokenizer, sizeof meta->tokenizer, "%s", tn ? tn : "");
    meta->tok_hash = th ? strtoull(th, NULL, 16) : 0;
    const char *st = st_meta(f, "manabi.step"), *lo = st_meta(f, "manabi.loss");
    meta->step = st ? strtoll(st, NULL, 10) : 0;
    meta->has_loss = lo && *lo;
    meta->loss = meta->has_loss ? strtod(lo, NULL) : 0;
}

int ckpt_load_model(const char *path, gpt_t *m, ckpt_meta_t *meta, err_t *e) {
    memset(m, 0, sizeof *m);
    memset(meta, 0, sizeof *meta);
    st_file_t f;
    if (st_open(&f, path, e) != 0) return -1;
    int rc = -1;
    gpt_config_t cfg;
    if (read_config(&f, &cfg, e) != 0 || gpt_init(m, &cfg, e) != 0) goto done;
    for (int i = 0; i < m->table.n; i++) {
        const gpt_tensor_t *t = &m->table.t[i];
        if (st_read_f32(&f, t->name, m->params + t->offset, t->ndim, t->shape, e) != 0) goto done;
    }
    for (int i = 0; i < f.n_tensors; i++)
        if (!gpt_table_find_name(&m->table, f.tensors[i].name) && !is_hf_buffer(f.tensors[i].name)) {
            err_set(e, "%s: tensor '%s' is not part of a %s model with this config", path, f.tensors[i].name,
                    gpt_family_name(cfg.family));
            goto done;
        }
    read_meta(&f, meta);
    rc = 0;
done:
    st_close(&f);
    if (rc != 0) gpt_free(m);
    return rc;
}

// Whether the file's data section is the parameter arena itself: every tensor float32, in
// table order, at its arena offset, nothing else, 4-byte aligned.  (manabi writes it so.)
static int is_arena(const st_file_t *f, const gpt_table_t *tab) {
    if (f->n_tensors != tab->n || (uintptr_t)f->data % sizeof(float)) return 0;
    for (int i = 0; i < tab->n; i++) {
        const gpt_tensor_t *t = &tab->t[i];
        const st_tensor_t *s = st_find(f, t->name);
        if (!s || s->dtype != ST_F32 || s->ndim != t->ndim || s->begin != t->offset * sizeof(float) ||
            s->end != (t->offset + t->numel) * sizeof(float))
            return 0;
        for (int d = 0; d < t->ndim; d++)
            if (s->shape[d] != t->shape[d]) return 0;
    }
    return 1;
}

int ckpt_map_model(const char *path, gpt_t *m, ckpt_meta_t *meta, err_t *e) {
    memset(m, 0, sizeof *m);
    memset(meta, 0, sizeof *meta);
    st_file_t *f = calloc(1, sizeof *f);
    if (!f) return err_set(e, "out of memory");
    gpt_config_t cfg;
    gpt_table_t tab = {0};
    int arena = 0;
    if (st_open(f, path, e) != 0 || read_config(f, &cfg, e) != 0) goto fail;
    if (gpt_config_validate(&cfg, e) != 0 || gpt_table_build(&tab, &cfg, e) != 0) {
        err_wrap(e, "%s", path);
        goto fail;
    }
    arena = is_arena(f, &tab);
    gpt_table_free(&tab);
    if (!arena) {  // another writer's layout or dtype: read it into memory instead
        st_close(f);
        free(f);
        return ckpt_load_model(path, m, meta, e);
    }
    read_meta(f, meta);
    return gpt_init_mapped(m, &cfg, f, (const float *)f->data, e);
fail:
    gpt_table_free(&tab);
    st_close(f);
    free(f);
    return -1;
}

int ckpt_save_state(const char *path, const adamw_t *o, const train_state_t *s, err_t *e) {
    st_entry_t ents[2] = {
        {.name = "adamw.m", .dtype = ST_F32, .ndim = 1, .shape = {(int64_t)o->n}, .data = o->m},
        {.name = "adamw.v", .dtype = ST_F32, .ndim = 1, .shape = {(int64_t)o->n}, .data = o->v},
    };
    char step[32], adam_t[32], tokens[32], rng[80], pos[96];
    snprintf(step, sizeof step, "%" PRId64, s->step);
    snprintf(adam_t, sizeof adam_t, "%" PRId64, o->t);
    snprintf(tokens, sizeof tokens, "%" PRId64, s->tokens);
    snprintf(rng, sizeof rng, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, s->loader.rng.s[0],
             s->loader.rng.s[1], s->loader.rng.s[2], s->loader.rng.s[3]);
    snprintf(pos, sizeof pos, "%" PRId64 " %" PRId64 " %" PRId64, s->loader.shard, s->loader.pos, s->loader.epoch);
    const char *kv[] = {"manabi.step", step, "manabi.adamw_t", adam_t, "manabi.tokens", tokens,
                        "manabi.loader_rng", rng, "manabi.loader_pos", pos};
    return st_write(path, ents, 2, kv, 5, e);
}

int ckpt_load_state(const char *path, adamw_t *o, train_state_t *s, err_t *e) {
    memset(s, 0, sizeof *s);
    st_file_t f;
    if (st_open(&f, path, e) != 0) return -1;
    int rc = -1;
    int64_t shape[1] = {(int64_t)o->n};
    if (st_read_f32(&f, "adamw.m", o->m, 1, shape, e) != 0 || st_read_f32(&f, "adamw.v", o->v, 1, shape, e) != 0)
        goto done;
    if (meta_i64(&f, "manabi.step", &s->step, e) || meta_i64(&f, "manabi.adamw_t", &o->t, e) ||
        meta_i64(&f, "manabi.tokens", &s->tokens, e))
        goto done;
    const char *rng = st_meta(&f, "manabi.loader_rng"), *pos = st_meta(&f, "manabi.loader_pos");
    if (!rng || strlen(rng) != 64 || !pos) {
        err_set(e, "%s: loader state is missing or malformed", path);
        goto done;
    }
    for (int i = 0; i < 4; i++) {
        char part[17];
        memcpy(part, rng + 16 * i, 16);
        part[16] = 0;
        s->loader.rng.s[i] = strtoull(part, NULL, 16);
    }
    if (sscanf(pos, "%" SCNd64 " %" SCNd64 " %" SCNd64, &s->loader.shard, &s->loader.pos, &s->loader.epoch) != 3) {
        err_set(e, "%s: metadata 'manabi.loader_pos' is malformed", path);
        goto done;
    }
    rc = 0;
done:
    st_close(&f);
    return rc;
}
