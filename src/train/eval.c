#include "train/eval.h"

#include <math.h>

eval_result_t eval_loss(gpt_t *m, loader_t *l, const tok_t *tok, int B, int max_batches, int32_t *inputs,
                        int32_t *targets) {
    eval_result_t r = {0};
    int T = l->T;
    loader_rewind(l);
    int64_t epoch0 = l->st.epoch;
    // One pass: every full window of T+1 tokens (stride T) of every shard.
    int64_t windows = 0;
    for (int i = 0; i < l->n_shards; i++) windows += (l->shards[i].n - 1) / T;
    int64_t batches = (windows + B - 1) / B;
    if (max_batches > 0 && batches > max_batches) batches = max_batches;
    double loss_sum = 0, text_loss = 0;
    for (int64_t bi = 0; bi < batches; bi++) {
        int b = (int)((bi + 1) * B <= windows ? B : windows - bi * B);
        loader_next(l, inputs, targets, b);
        gpt_forward(m, inputs, targets, NULL, b, T);
        const float *losses = m->acts.losses;
        for (int i = 0; i < b * T; i++) {
            loss_sum += losses[i];
            int nb = tok_token_nbytes(tok, targets[i]);
            if (nb > 0) {
                text_loss += losses[i];
                r.bytes += nb;
            }
        }
        r.tokens += (int64_t)b * T;
    }
    l->st.epoch = epoch0;
    loader_rewind(l);
    r.loss = r.tokens ? loss_sum / r.tokens : NAN;
    r.bpb = r.bytes ? text_loss / (log(2.0) * r.bytes) : NAN;
    return r;
}
