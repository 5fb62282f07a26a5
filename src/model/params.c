#include "model/params.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    gpt_table_t *tab;
} builder_t;

// Appends a tensor of shape (d0) or (d0, d1) after the previous one.
__attribute__((format(printf, 7, 8))) static void add(builder_t *b, gpt_role_t role, int layer, int decay, int64_t d0, int64_t d1, const char *fmt, ...) {
    gpt_tensor_t *t = &b->tab->t[b->tab->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->role = role;
    t->layer = layer;
    t->decay = decay;
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    t->offset = b->tab->total;
    b->tab->total += t->numel;
}

int gpt_table_build(gpt_table_t *tab, const gpt_config_t *c, err_t *e) {
    memset(tab, 0, sizeof *tab);
    int per_layer = 13, cap = c->n_layer * per_layer + 8;
    tab->t = calloc((size_t)cap, sizeof *tab->t);
    if (!tab->t) return err_set(e, "out of memory building the parameter table");
    builder_t b = {tab};
    int64_t V = c->vocab_size, C = c->d_model, F = c->d_ff, HS = gpt_config_head_size(c);
    int64_t QC = c->n_head * HS, KC = c->n_kv_head * HS;
    if (c->family == GPT_LLAMA) {
        add(&b, P_EMBED, -1, 0, V, C, "model.embed_tokens.weight");
        for (int i = 0; i < c->n_layer; i++) {
            add(&b, P_NORM1_W, i, 0, C, 0, "model.layers.%d.input_layernorm.weight", i);
            add(&b, P_QKV_W, i, 1, QC, C, "model.layers.%d.self_attn.q_proj.weight", i);
            add(&b, P_K_W, i, 1, KC, C, "model.layers.%d.self_attn.k_proj.weight", i);
            add(&b, P_V_W, i, 1, KC, C, "model.layers.%d.self_attn.v_proj.weight", i);
            add(&b, P_ATTO_W, i, 1, C, QC, "model.layers.%d.self_attn.o_proj.weight", i);
            add(&b, P_NORM2_W, i, 0, C, 0, "model.layers.%d.post_attention_layernorm.weight", i);
            add(&b, P_FC_W, i, 1, F, C, "model.layers.%d.mlp.gate_proj.weight", i);
            add(&b, P_UP_W, i, 1, F, C, "model.layers.%d.mlp.up_proj.weight", i);
            add(&b, P_PROJ_W, i, 1, C, F, "model.layers.%d.mlp.down_proj.weight", i);
        }
        add(&b, P_NORMF_W, -1, 0, C, 0, "model.norm.weight");
        if (!c->tie_embeddings) add(&b, P_LM_HEAD, -1, 1, V, C, "lm_head.weight");
    } else {
        add(&b, P_EMBED, -1, 0, V, C, "transformer.wte.weight");
        add(&b, P_POS, -1, 0, c->context, C, "transformer.wpe.weight");
        for (int i = 0; i < c->n_layer; i++) {
            add(&b, P_NORM1_W, i, 0, C, 0, "transformer.h.%d.ln_1.weight", i);
            add(&b, P_NORM1_B, i, 0, C, 0, "transformer.h.%d.ln_1.bias", i);
            add(&b, P_QKV_W, i, 1, C, 3 * C, "transformer.h.%d.attn.c_attn.weight", i);
            add(&b, P_QKV_B, i, 0, 3 * C, 0, "transformer.h.%d.attn.c_attn.bias", i);
            add(&b, P_ATTO_W, i, 1, C, C, "transformer.h.%d.attn.c_proj.weight", i);
            add(&b, P_ATTO_B, i, 0, C, 0, "transformer.h.%d.attn.c_proj.bias", i);
            add(&b, P_NORM2_W, i, 0, C, 0, "transformer.h.%d.ln_2.weight", i);
            add(&b, P_NORM2_B, i, 0, C, 0, "transformer.h.%d.ln_2.bias", i);
            add(&b, P_FC_W, i, 1, C, F, "transformer.h.%d.mlp.c_fc.weight", i);
            add(&b, P_FC_B, i, 0, F, 0, "transformer.h.%d.mlp.c_fc.bias", i);
            add(&b, P_PROJ_W, i, 1, F, C, "transformer.h.%d.mlp.c_proj.weight", i);
            add(&b, P_PROJ_B, i, 0, C, 0, "transformer.h.%d.mlp.c_proj.bias", i);
        }
        add(&b, P_NORMF_W, -1, 0, C, 0, "transformer.ln_f.weight");
        add(&b, P_NORMF_B, -1, 0, C, 0, "transformer.ln_f.bias");
    }
    return 0;
}

void gpt_table_free(gpt_table_t *tab) {
    if (!tab) return;
    free(tab->t);
    memset(tab, 0, sizeof *tab);
}

const gpt_tensor_t *gpt_table_find(const gpt_table_t *tab, gpt_role_t role, int layer) {
    for (int i = 0; i < tab->n; i++)
        if (tab->t[i].role == role && tab->t[i].layer == layer) return &tab->t[i];
    return NULL;
}

const gpt_tensor_t *gpt_table_find_name(const gpt_table_t *tab, const char *name) {
    for (int i = 0; i < tab->n; i++)
        if (strcmp(tab->t[i].name, name) == 0) return &tab->t[i];
    return NULL;
}
