#include "train/trainable.h"

#include <string.h>

int trainable_init(trainable_t *t, gpt_t *m, const lora_config_t *lora_cfg, rng_t *rng, err_t *e) {
    memset(t, 0, sizeof *t);
    if (lora_cfg) {
        if (!(t->lora = lora_new(m, lora_cfg, rng, e)) || lora_alloc_grads(t->lora, e) != 0) {
            lora_free(t->lora);
            t->lora = NULL;
            return -1;
        }
        m->lora = t->lora;
        gpt_freeze(m, 0, 0, 1);
        t->params = t->lora->params, t->n = t->count = t->lora->total;
        return 0;
    }
    if (m->file) return err_set(e, "training every weight needs the model in memory, not memory-mapped");
    t->params = m->params, t->n = gpt_num_params(m), t->tab = &m->table;
    for (int i = 0; i < m->table.n; i++) t->count += m->table.t[i].frozen ? 0 : m->table.t[i].numel;
    return 0;
}

int trainable_grads(trainable_t *t, gpt_t *m, err_t *e) {
    t->grads = t->lora ? t->lora->grads : m->grads;
    return t->grads ? 0 : err_set(e, "every weight is frozen: nothing to train");
}

void trainable_free(trainable_t *t, gpt_t *m) {
    if (t->lora) {
        if (m->lora == t->lora) m->lora = NULL;
        lora_free(t->lora);
    }
    memset(t, 0, sizeof *t);
}
