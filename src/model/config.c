#include "model/config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gpt_config_preset(gpt_config_t *c, gpt_family_t family, int depth, int vocab_size, int context) {
    memset(c, 0, sizeof *c);
    c->family = family;
    c->vocab_size = vocab_size;
    c->context = context;
    c->n_layer = depth;
    c->d_model = 64 * depth;
    c->n_head = depth;
    c->n_kv_head = depth;
    c->d_ff = family == GPT_GPT2 ? 4 * c->d_model : (8 * c->d_model / 3 + 63) / 64 * 64;
    c->tie_embeddings = 1;
    c->rope_theta = 10000.0f;
    c->norm_eps = 1e-5f;
}

int gpt_config_head_size(const gpt_config_t *c) { return c->n_head > 0 ? c->d_model / c->n_head : 0; }

int gpt_family_parse(const char *s, gpt_family_t *out, err_t *e) {
    if (strcmp(s, "llama") == 0) *out = GPT_LLAMA;
    else if (strcmp(s, "gpt2") == 0) *out = GPT_GPT2;
    else return err_set(e, "unknown model family '%s' (use llama or gpt2)", s);
    return 0;
}

const char *gpt_family_name(gpt_family_t f) { return f == GPT_GPT2 ? "gpt2" : "llama"; }

int gpt_config_validate(const gpt_config_t *c, err_t *e) {
    if (c->family != GPT_LLAMA && c->family != GPT_GPT2) return err_set(e, "model family: unknown value %d", c->family);
    if (c->vocab_size < 2 || c->vocab_size > (1 << 30)) return err_set(e, "vocab_size %d is out of range", c->vocab_size);
    if (c->context < 1 || c->context > (1 << 20)) return err_set(e, "context %d is out of range", c->context);
    if (c->n_layer < 1 || c->n_layer > 1024) return err_set(e, "n_layer %d is out of range", c->n_layer);
    if (c->d_model < 1 || c->d_model > (1 << 16)) return err_set(e, "d_model %d is out of range", c->d_model);
    if (c->n_head < 1 || c->d_model % c->n_head != 0)
        return err_set(e, "n_head %d must divide d_model %d", c->n_head, c->d_model);
    if (c->n_kv_head < 1 || c->n_head % c->n_kv_head != 0)
        return err_set(e, "n_kv_head %d must divide n_head %d", c->n_kv_head, c->n_head);
    if (c->family == GPT_GPT2 && c->n_kv_head != c->n_head)
        return err_set(e, "the gpt2 family has no grouped-query attention: n_kv_head must equal n_head");
    if (c->family == GPT_GPT2 && !c->tie_embeddings) return err_set(e, "the gpt2 family always ties its embeddings");
    if (c->family == GPT_LLAMA && gpt_config_head_size(c) % 2 != 0)
        return err_set(e, "RoPE needs an even head size, got %d", gpt_config_head_size(c));
    if (c->d_ff < 1 || c->d_ff > (1 << 20)) return err_set(e, "d_ff %d is out of range", c->d_ff);
    if (!(c->norm_eps > 0 && c->norm_eps < 1)) return err_set(e, "norm_eps %g is out of range", c->norm_eps);
    if (c->family == GPT_LLAMA && !(c->rope_theta > 1)) return err_set(e, "rope_theta %g is out of range", c->rope_theta);
    return 0;
}

char *gpt_config_to_json(const gpt_config_t *c) {
    json_object *o = json_object_new_object();
    if (!o) return NULL;
#define ADD_INT(k, v) json_object_object_add(o, k, json_object_new_int(v))
#define ADD_DBL(k, v) json_object_object_add(o, k, json_object_new_double(v))
    if (c->family == GPT_LLAMA) {
        json_object_object_add(o, "model_type", json_object_new_string("llama"));
        json_object *arch = json_object_new_array();
        json_object_array_add(arch, json_object_new_string("LlamaForCausalLM"));
        json_object_object_add(o, "architectures", arch);
        ADD_INT("vocab_size", c->vocab_size);
        ADD_INT("max_position_embeddings", c->context);
        ADD_INT("num_hidden_layers", c->n_layer);
        ADD_INT("num_attention_heads", c->n_head);
        ADD_INT("num_key_value_heads", c->n_kv_head);
        ADD_INT("hidden_size", c->d_model);
        ADD_INT("intermediate_size", c->d_ff);
        json_object_object_add(o, "tie_word_embeddings", json_object_new_boolean(c->tie_embeddings));
        ADD_DBL("rope_theta", c->rope_theta);
        ADD_DBL("rms_norm_eps", c->norm_eps);
        json_object_object_add(o, "hidden_act", json_object_new_string("silu"));
    } else {
        json_object_object_add(o, "model_type", json_object_new_string("gpt2"));
        json_object *arch = json_object_new_array();
        json_object_array_add(arch, json_object_new_string("GPT2LMHeadModel"));
        json_object_object_add(o, "architectures", arch);
        ADD_INT("vocab_size", c->vocab_size);
        ADD_INT("n_positions", c->context);
        ADD_INT("n_layer", c->n_layer);
        ADD_INT("n_head", c->n_head);
        ADD_INT("n_embd", c->d_model);
        ADD_INT("n_inner", c->d_ff);
        ADD_DBL("layer_norm_epsilon", c->norm_eps);
        json_object_object_add(o, "activation_function", json_object_new_string("gelu_new"));
        json_object_object_add(o, "tie_word_embeddings", json_object_new_boolean(1));
    }
#undef ADD_INT
#undef ADD_DBL
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

static int get_int(json_object *o, const char *key, int *out, err_t *e) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
        return err_set(e, "model config: field '%s' is missing or not an integer", key);
    *out = json_object_get_int(v);
    return 0;
}

static int get_num(json_object *o, const char *key, float *out, float def) {
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v)) {
        *out = def;
        return 0;
    }
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) return -1;
    *out = (float)json_object_get_double(v);
    return 0;
}

int gpt_config_from_json(gpt_config_t *c, const char *json, err_t *e) {
    memset(c, 0, sizeof *c);
    json_object *o = json_tokener_parse(json);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return err_set(e, "model config: not a JSON object");
    }
    int rc = -1;
    json_object *mt, *v;
    const char *type = json_object_object_get_ex(o, "model_type", &mt) ? json_object_get_string(mt) : NULL;
    if (!type) {
        err_set(e, "model config: field 'model_type' is missing");
        goto done;
    }
    if (strcmp(type, "llama") == 0) {
        c->family = GPT_LLAMA;
        if (get_int(o, "vocab_size", &c->vocab_size, e) || get_int(o, "max_position_embeddings", &c->context, e) ||
            get_int(o, "num_hidden_layers", &c->n_layer, e) || get_int(o, "num_attention_heads", &c->n_head, e) ||
            get_int(o, "hidden_size", &c->d_model, e) || get_int(o, "intermediate_size", &c->d_ff, e))
            goto done;
        c->n_kv_head = c->n_head;
        if (json_object_object_get_ex(o, "num_key_value_heads", &v) && get_int(o, "num_key_value_heads", &c->n_kv_head, e))
            goto done;
        c->tie_embeddings = json_object_object_get_ex(o, "tie_word_embeddings", &v) ? json_object_get_boolean(v) : 0;
        if (get_num(o, "rope_theta", &c->rope_theta, 10000.0f) || get_num(o, "rms_norm_eps", &c->norm_eps, 1e-6f)) {
            err_set(e, "model config: rope_theta or rms_norm_eps is not a number");
            goto done;
        }
    } else if (strcmp(type, "gpt2") == 0) {
        c->family = GPT_GPT2;
        if (get_int(o, "vocab_size", &c->vocab_size, e) || get_int(o, "n_positions", &c->context, e) ||
            get_int(o, "n_layer", &c->n_layer, e) || get_int(o, "n_head", &c->n_head, e) ||
            get_int(o, "n_embd", &c->d_model, e))
            goto done;
        c->n_kv_head = c->n_head;
        c->d_ff = 4 * c->d_model;  // HF: n_inner null means 4 * n_embd
        if (json_object_object_get_ex(o, "n_inner", &v) && !json_object_is_type(v, json_type_null) &&
            get_int(o, "n_inner", &c->d_ff, e))
            goto done;
        c->tie_embeddings = 1;
        if (get_num(o, "layer_norm_epsilon", &c->norm_eps, 1e-5f)) {
            err_set(e, "model config: layer_norm_epsilon is not a number");
            goto done;
        }
    } else {
        err_set(e, "model config: model_type '%s' is not supported (llama or gpt2)", type);
        goto done;
    }
    rc = gpt_config_validate(c, e);
done:
    json_object_put(o);
    return rc;
}

const char *gpt_config_difference(const gpt_config_t *a, const gpt_config_t *b) {
    if (a->family != b->family) return "family";
    if (a->vocab_size != b->vocab_size) return "vocab_size";
    if (a->context != b->context) return "context";
    if (a->n_layer != b->n_layer) return "n_layer";
    if (a->n_head != b->n_head) return "n_head";
    if (a->n_kv_head != b->n_kv_head) return "n_kv_head";
    if (a->d_model != b->d_model) return "d_model";
    if (a->d_ff != b->d_ff) return "d_ff";
    if (a->tie_embeddings != b->tie_embeddings) return "tie_embeddings";
    if (a->family == GPT_LLAMA && a->rope_theta != b->rope_theta) return "rope_theta";
    if (a->norm_eps != b->norm_eps) return "norm_eps";
    return NULL;
}

int gpt_config_equal(const gpt_config_t *a, const gpt_config_t *b) { return gpt_config_difference(a, b) == NULL; }
