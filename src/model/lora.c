#include "model/lora.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/io.h"
#include "core/mem.h"
#include "kernels/kernels.h"
#include "model/safetensors.h"

// The targets of each family: bit, short name, PEFT module suffix, fused weight, slice.
typedef struct target {
    unsigned bit;
    const char *name;    // short name on the command line
    const char *module;  // PEFT's module suffix (target_modules)
    gpt_role_t role;
} target_t;

static const target_t llama_targets[] = {
    {LORA_Q, "q", "self_attn.q_proj", P_QKV_W},   {LORA_K, "k", "self_attn.k_proj", P_QKV_W},
    {LORA_V, "v", "self_attn.v_proj", P_QKV_W},   {LORA_O, "o", "self_attn.o_proj", P_ATTO_W},
    {LORA_GATE, "gate", "mlp.gate_proj", P_FC_W}, {LORA_UP, "up", "mlp.up_proj", P_FC_W},
    {LORA_DOWN, "down", "mlp.down_proj", P_PROJ_W},
};
static const target_t gpt2_targets[] = {
    {LORA_Q, "c_attn", "attn.c_attn", P_QKV_W},
    {LORA_O, "attn.c_proj", "attn.c_proj", P_ATTO_W},
    {LORA_UP, "c_fc", "mlp.c_fc", P_FC_W},
    {LORA_DOWN, "mlp.c_proj", "mlp.c_proj", P_PROJ_W},
};

static const target_t *family_targets(gpt_family_t f, int *n) {
    *n = f == GPT_LLAMA ? 7 : 4;
    return f == GPT_LLAMA ? llama_targets : gpt2_targets;
}

int lora_targets_parse(const char *s, gpt_family_t family, unsigned *out, err_t *e) {
    int n;
    const target_t *t = family_targets(family, &n);
    char names[160] = "";
    for (int i = 0; i < n; i++) snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", t[i].name);
    *out = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "all") == 0) {
            for (int i = 0; i < n; i++) *out |= t[i].bit;
            continue;
        }
        size_t len = strlen(tok);
        if (family == GPT_LLAMA && len > 5 && strcmp(tok + len - 5, "_proj") == 0) tok[len - 5] = 0;  // q_proj -> q
        unsigned bit = 0;
        for (int i = 0; i < n; i++)
            if (strcmp(tok, t[i].name) == 0 || strcmp(tok, t[i].module) == 0) bit = t[i].bit;
        if (family == GPT_GPT2 && strcmp(tok, "c_proj") == 0) bit = LORA_O | LORA_DOWN;  // as PEFT matches it
        if (!bit)
            return err_set(e, "LoRA target '%s' is not a layer of a %s model (give some of: %s, or all)", tok,
                           gpt_family_name(family), names);
        *out |= bit;
    }
    if (!*out) return err_set(e, "no LoRA targets given (give some of: %s, or all)", names);
    return 0;
}

void lora_free(lora_t *l) {
    if (!l) return;
    free(l->ad);
    mem_free(l->params);
    mem_free(l->grads);
    free(l);
}

uint64_t lora_base_hash(const gpt_t *m) { return XXH3_64bits(m->params, m->table.total * sizeof(float)); }

lora_t *lora_new(const gpt_t *m, const lora_config_t *c, rng_t *rng, err_t *e) {
    if (c->rank < 1) return err_set(e, "LoRA rank %d: give at least 1", c->rank), NULL;
    if (!(c->alpha > 0)) return err_set(e, "LoRA alpha %g: give a positive number", c->alpha), NULL;
    if (!(c->dropout >= 0 && c->dropout < 1)) return err_set(e, "LoRA dropout %g: give a value in [0, 1)", c->dropout), NULL;
    int nt;
    const target_t *tt = family_targets(m->cfg.family, &nt);
    unsigned known = 0;
    for (int i = 0; i < nt; i++) known |= tt[i].bit;
    if (!c->targets || (c->targets & ~known))
        return err_set(e, "LoRA targets 0x%x: not all are layers of a %s model", c->targets,
                       gpt_family_name(m->cfg.family)), NULL;
    gpt_dims_t d = gpt_dims(&m->cfg);
    lora_t *l = calloc(1, sizeof *l);
    if (!l) return err_set(e, "out of memory"), NULL;
    l->cfg = *c;
    l->scale = c->alpha / (float)c->rank;
    l->ad = calloc((size_t)d.L * nt, sizeof *l->ad);
    if (!l->ad) {
        lora_free(l);
        return err_set(e, "out of memory"), NULL;
    }
    int r = c->rank;
    for (int layer = 0; layer < d.L; layer++)
        for (int i = 0; i < nt; i++) {
            if (!(c->targets & tt[i].bit)) continue;
            lora_adapter_t *a = &l->ad[l->n++];
            a->layer = layer, a->role = tt[i].role, a->in = d.C, a->row0 = 0;
            switch (tt[i].bit) {
            case LORA_Q: a->rows = d.llama ? d.NH * d.HS : d.QKV; break;
            case LORA_K: a->row0 = d.NH * d.HS, a->rows = d.NKV * d.HS; break;
            case LORA_V: a->row0 = (d.NH + d.NKV) * d.HS, a->rows = d.NKV * d.HS; break;
            case LORA_O: a->rows = d.C; break;
            case LORA_GATE: a->rows = d.F; break;
            case LORA_UP: a->row0 = d.llama ? d.F : 0, a->rows = d.F; break;
            case LORA_DOWN: a->rows = d.C, a->in = d.F; break;
            }
            snprintf(a->module, sizeof a->module, "%s.%d.%s", d.llama ? "model.layers" : "transformer.h", layer,
                     tt[i].module);
            a->a = l->total, l->total += (size_t)r * a->in;
            a->b = l->total, l->total += (size_t)a->rows * r;
        }
    l->params = mem_alloc(l->total * sizeof(float));
    if (!l->params) {
        err_set(e, "out of memory for %zu LoRA parameters", l->total);
        lora_free(l);
        return NULL;
    }
    if (rng)  // A ~ U(-1/sqrt(in), 1/sqrt(in)) (PEFT: kaiming_uniform_ with a = sqrt(5)); B = 0
        for (int k = 0; k < l->n; k++) {
            lora_adapter_t *a = &l->ad[k];
            float bound = 1.0f / sqrtf((float)a->in);
            for (size_t j = 0; j < (size_t)r * a->in; j++) l->params[a->a + j] = bound * (2.0f * (float)rng_uniform(rng) - 1.0f);
        }
    l->base_hash = lora_base_hash(m);
    return l;
}

int lora_alloc_grads(lora_t *l, err_t *e) {
    if (!l->grads && !(l->grads = mem_alloc(l->total * sizeof(float))))
        return err_set(e, "out of memory for LoRA gradients");
    return 0;
}

void lora_zero_grad(lora_t *l) {
    if (l->grads) memset(l->grads, 0, l->total * sizeof(float));
}

static int max_in(const lora_t *l) {
    int in = 0;
    for (int k = 0; k < l->n; k++) in = l->ad[k].in > in ? l->ad[k].in : in;
    return in;
}

size_t lora_scratch_floats(const lora_t *l, int N) { return (size_t)N * max_in(l) + 2 * (size_t)N * l->cfg.rank; }

// Whether dropout keeps input (row, col) of adapter k this step.
static inline int keeps(const lora_t *l, int k, int row, int col, int in) {
    uint64_t z = l->seed ^ ((uint64_t)k << 40) ^ ((uint64_t)row * (uint64_t)in + (uint64_t)col);
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0) >= l->cfg.dropout;
}

static int dropping(const lora_t *l) { return l->training && l->cfg.dropout > 0; }

// The adapter's input: inp itself, or with dropout a masked, rescaled copy in xd (N, in).
static const float *adapter_input(const lora_t *l, int k, const float *inp, int N, float *xd) {
    if (!dropping(l)) return inp;
    int in = l->ad[k].in;
    float keep = 1.0f / (1.0f - l->cfg.dropout);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++)
        for (int j = 0; j < in; j++)
            xd[(size_t)i * in + j] = keeps(l, k, i, j, in) ? inp[(size_t)i * in + j] * keep : 0.0f;
    return xd;
}

void lora_forward(const lora_t *l, int layer, gpt_role_t role, float *out, const float *inp, int N, int OC,
                  float *scratch) {
    int r = l->cfg.rank;
    float *xd = scratch, *u = scratch + (size_t)N * max_in(l);
    for (int k = 0; k < l->n; k++) {
        const lora_adapter_t *a = &l->ad[k];
        if (a->layer != layer || a->role != role) continue;
        const float *x = adapter_input(l, k, inp, N, xd);
        matmul_gemm(0, 1, N, r, a->in, 1.0f, x, a->in, l->params + a->a, a->in, 0.0f, u, r);         // u = x A^T
        matmul_gemm(0, 1, N, a->rows, r, l->scale, u, r, l->params + a->b, r, 1.0f, out + a->row0, OC);  // += s u B^T
    }
}

void lora_backward(lora_t *l, int layer, gpt_role_t role, float *dinp, const float *dout, const float *inp, int N,
                   int OC, float *scratch) {
    int r = l->cfg.rank;
    float *xd = scratch, *u = scratch + (size_t)N * max_in(l), *du = u + (size_t)N * r;
    for (int k = 0; k < l->n; k++) {
        const lora_adapter_t *a = &l->ad[k];
        if (a->layer != layer || a->role != role) continue;
        const float *x = adapter_input(l, k, inp, N, xd), *A = l->params + a->a, *B = l->params + a->b;
        const float *dy = dout + a->row0;
        matmul_gemm(0, 0, N, r, a->rows, l->scale, dy, OC, B, r, 0.0f, du, r);      // du = s dy B
        if (l->grads) {
            matmul_gemm(0, 1, N, r, a->in, 1.0f, x, a->in, A, a->in, 0.0f, u, r);    // u = x A^T again
            matmul_gemm(1, 0, a->rows, r, N, l->scale, dy, OC, u, r, 1.0f, l->grads + a->b, r);    // dB += s dy^T u
            matmul_gemm(1, 0, r, a->in, N, 1.0f, du, r, x, a->in, 1.0f, l->grads + a->a, a->in);  // dA += du^T x
        }
        if (!dinp) continue;
        if (!dropping(l)) {
            matmul_gemm(0, 0, N, a->in, r, 1.0f, du, r, A, a->in, 1.0f, dinp, a->in);  // dinp += du A
            continue;
        }
        matmul_gemm(0, 0, N, a->in, r, 1.0f, du, r, A, a->in, 0.0f, xd, a->in);  // d(dropped input)
        float keep = 1.0f / (1.0f - l->cfg.dropout);
        int in = a->in;
#pragma omp parallel for schedule(static)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < in; j++)
                if (keeps(l, k, i, j, in)) dinp[(size_t)i * in + j] += xd[(size_t)i * in + j] * keep;
    }
}

// ---- files -------------------------------------------------------------------------------

static char *config_json(const lora_t *l, const gpt_t *base, int peft) {
    int nt;
    const target_t *tt = family_targets(base->cfg.family, &nt);
    json_object *o = json_object_new_object(), *mods = json_object_new_array();
    for (int i = 0; i < nt; i++)
        if (l->cfg.targets & tt[i].bit)
            json_object_array_add(mods, json_object_new_string(base->cfg.family == GPT_LLAMA ? strchr(tt[i].module, '.') + 1
                                                                                         : tt[i].module));
    if (peft) {
        json_object_object_add(o, "peft_type", json_object_new_string("LORA"));
        json_object_object_add(o, "task_type", json_object_new_string("CAUSAL_LM"));
    }
    json_object_object_add(o, "r", json_object_new_int(l->cfg.rank));
    json_object_object_add(o, "lora_alpha", json_object_new_double(l->cfg.alpha));
    json_object_object_add(o, "lora_dropout", json_object_new_double(l->cfg.dropout));
    json_object_object_add(o, "target_modules", mods);
    if (peft) {
        json_object_object_add(o, "bias", json_object_new_string("none"));
        json_object_object_add(o, "fan_in_fan_out", json_object_new_boolean(base->cfg.family == GPT_GPT2));
        json_object_object_add(o, "inference_mode", json_object_new_boolean(1));
    }
    char *s = strdup(json_object_to_json_string_ext(o, peft ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

int lora_save(const lora_t *l, const gpt_t *base, const char *path, const char *json_path, err_t *e) {
    st_entry_t *ents = calloc((size_t)l->n * 2, sizeof *ents);
    char (*names)[160] = calloc((size_t)l->n * 2, sizeof *names);
    char *cfg = gpt_config_to_json(&base->cfg), *lj = config_json(l, base, 0), *pj = NULL, hash[32];
    int rc = -1;
    if (!ents || !names || !cfg || !lj) {
        err_set(e, "out of memory");
        goto done;
    }
    for (int k = 0; k < l->n; k++) {
        const lora_adapter_t *a = &l->ad[k];
        snprintf(names[2 * k], sizeof names[0], "base_model.model.%s.lora_A.weight", a->module);
        snprintf(names[2 * k + 1], sizeof names[0], "base_model.model.%s.lora_B.weight", a->module);
        ents[2 * k] = (st_entry_t){.name = names[2 * k], .dtype = ST_F32, .ndim = 2, .shape = {l->cfg.rank, a->in},
                                   .data = l->params + a->a};
        ents[2 * k + 1] = (st_entry_t){.name = names[2 * k + 1], .dtype = ST_F32, .ndim = 2,
                                       .shape = {a->rows, l->cfg.rank}, .data = l->params + a->b};
    }
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)l->base_hash);
    const char *kv[] = {"format", "pt", "manabi.lora", lj, "manabi.config", cfg, "manabi.base_hash", hash};
    if (st_write(path, ents, 2 * l->n, kv, 4, e) != 0) goto done;
    if (json_path) {
        if (!(pj = config_json(l, base, 1))) {
            err_set(e, "out of memory");
            goto done;
        }
        io_atomic_t f;
        if (io_atomic_open(&f, json_path, e) != 0) goto done;
        if (io_atomic_write(&f, pj, strlen(pj), e) != 0 || io_atomic_write(&f, "\n", 1, e) != 0 ||
            io_atomic_commit(&f, e) != 0) {
            io_atomic_abort(&f);
            goto done;
        }
    }
    rc = 0;
done:
    free(ents), free(names), free(cfg), free(lj), free(pj);
    return rc;
}

lora_t *lora_load(const char *path, const gpt_t *m, err_t *e) {
    st_file_t f;
    if (st_open(&f, path, e) != 0) return NULL;
    lora_t *l = NULL;
    json_object *o = NULL;
    const char *lj = st_meta(&f, "manabi.lora"), *cj = st_meta(&f, "manabi.config"), *hj = st_meta(&f, "manabi.base_hash");
    gpt_config_t bc;
    if (!lj || !cj || !hj) {
        err_set(e, "%s: not a manabi LoRA adapter (no manabi.lora / manabi.config / manabi.base_hash metadata)", path);
        goto done;
    }
    if (gpt_config_from_json(&bc, cj, e) != 0) {
        err_wrap(e, "%s", path);
        goto done;
    }
    const char *diff = gpt_config_difference(&bc, &m->cfg);
    if (diff) {
        err_set(e, "%s was made for another model: its base differs in %s", path, diff);
        goto done;
    }
    if (strtoull(hj, NULL, 16) != lora_base_hash(m)) {
        err_set(e, "%s was trained on a base model with other weights than this checkpoint's: give the base it was "
                   "trained on", path);
        goto done;
    }
    o = json_tokener_parse(lj);
    json_object *jr, *ja, *jd, *jt;
    if (!o || !json_object_object_get_ex(o, "r", &jr) || !json_object_object_get_ex(o, "lora_alpha", &ja) ||
        !json_object_object_get_ex(o, "lora_dropout", &jd) || !json_object_object_get_ex(o, "target_modules", &jt) ||
        !json_object_is_type(jt, json_type_array)) {
        err_set(e, "%s: metadata manabi.lora is malformed", path);
        goto done;
    }
    lora_config_t c = {.rank = json_object_get_int(jr), .alpha = (float)json_object_get_double(ja),
                       .dropout = (float)json_object_get_double(jd)};
    for (size_t i = 0; i < json_object_array_length(jt); i++) {
        unsigned bits;
        if (lora_targets_parse(json_object_get_string(json_object_array_get_idx(jt, i)), m->cfg.family, &bits, e) != 0) {
            err_wrap(e, "%s", path);
            goto done;
        }
        c.targets |= bits;
    }
    if (!(l = lora_new(m, &c, NULL, e))) {
        err_wrap(e, "%s", path);
        goto done;
    }
    for (int k = 0; k < l->n; k++) {
        const lora_adapter_t *a = &l->ad[k];
        char name[160];
        int64_t sa[2] = {c.rank, a->in}, sb[2] = {a->rows, c.rank};
        snprintf(name, sizeof name, "base_model.model.%s.lora_A.weight", a->module);
        if (st_read_f32(&f, name, l->params + a->a, 2, sa, e) != 0) goto fail;
        snprintf(name, sizeof name, "base_model.model.%s.lora_B.weight", a->module);
        if (st_read_f32(&f, name, l->params + a->b, 2, sb, e) != 0) goto fail;
    }
    if (f.n_tensors != 2 * l->n) {
        err_set(e, "%s holds %d tensors, %d expected for its targets", path, f.n_tensors, 2 * l->n);
        goto fail;
    }
    goto done;
fail:
    lora_free(l);
    l = NULL;
done:
    json_object_put(o);
    st_close(&f);
    return l;
}

int lora_merge(const lora_t *l, gpt_t *m, err_t *e) {
    if (m->file) return err_set(e, "cannot merge into a memory-mapped model: load it with ckpt_load_model");
    gpt_dims_t d = gpt_dims(&m->cfg);
    size_t most = 0;
    for (int k = 0; k < l->n; k++) most = (size_t)l->ad[k].rows * l->ad[k].in > most ? (size_t)l->ad[k].rows * l->ad[k].in : most;
    float *delta = malloc(most * sizeof(float));
    if (!delta) return err_set(e, "out of memory");
    for (int k = 0; k < l->n; k++) {
        const lora_adapter_t *a = &l->ad[k];
        const gpt_layer_t *w = &m->w.layers[a->layer];
        float *W = a->role == P_QKV_W ? w->qkv_w : a->role == P_ATTO_W ? w->atto_w : a->role == P_FC_W ? w->fc_w : w->proj_w;
        int OC = a->role == P_QKV_W ? d.QKV : a->role == P_FC_W ? d.FH : d.C;
        // delta (rows, in) = scale * B A
        matmul_gemm(0, 0, a->rows, a->in, l->cfg.rank, l->scale, l->params + a->b, l->cfg.rank, l->params + a->a,
                    a->in, 0.0f, delta, a->in);
        for (int o = 0; o < a->rows; o++)
            for (int i = 0; i < a->in; i++) {
                size_t at = d.layout == W_OUT_IN ? (size_t)(a->row0 + o) * a->in + i : (size_t)i * OC + a->row0 + o;
                W[at] += delta[(size_t)o * a->in + i];
            }
    }
    free(delta);
    return 0;
}
