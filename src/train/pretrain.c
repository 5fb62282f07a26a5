#include "train/pretrain.h"

#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cpu.h"
#include "core/io.h"
#include "core/timing.h"
#include "data/loader.h"
#include "model/gpt.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"
#include "train/eval.h"

void pretrain_defaults(pretrain_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->tokenizer = "byte";
    gpt_config_preset(&o->model, GPT_LLAMA, 4, 0, 256);
    o->B = 8;
    o->T = 256;
    o->steps = 200;
    o->lr = (lr_schedule_t){.kind = LR_COSINE, .lr = 3e-3f, .min_lr = 3e-4f, .warmup = 20, .decay_frac = 0.2f};
    o->beta1 = 0.9f;
    o->beta2 = 0.95f;
    o->eps = 1e-8f;
    o->weight_decay = 0.1f;
    o->grad_clip = 1.0f;
    o->seed = 1337;
    o->random_batches = 1;
    o->val_every = 50;
    o->val_batches = 20;
    o->ckpt_every = 100;
    o->keep = 2;
    o->threads = 1;
}

static void fmt_duration(char *buf, size_t n, double s) {
    if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s / 60) % 60);
}

// The newest step in dir with both a weights file and its state, or -1.
static int64_t latest_checkpoint(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int64_t best = -1;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        long long step;
        char tail[32];
        if (sscanf(ent->d_name, "ckpt_%lld.%31s", &step, tail) == 2 && strcmp(tail, "safetensors") == 0) {
            char st[4200];
            snprintf(st, sizeof st, "%s/ckpt_%08lld.state", dir, step);
            if (io_exists(st) && step > best) best = step;
        }
    }
    closedir(d);
    return best;
}

static void ckpt_paths(const char *dir, int64_t step, char *w, char *s, size_t n) {
    snprintf(w, n, "%s/ckpt_%08" PRId64 ".safetensors", dir, step);
    snprintf(s, n, "%s/ckpt_%08" PRId64 ".state", dir, step);
}

// Removes all but the newest `keep` checkpoints (weights and state).
static void prune_checkpoints(const char *dir, int keep) {
    if (keep <= 0) return;
    int64_t steps[4096];
    int n = 0;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *ent;
    while ((ent = readdir(d)) && n < 4096) {
        long long step;
        char tail[32];
        if (sscanf(ent->d_name, "ckpt_%lld.%31s", &step, tail) == 2 && strcmp(tail, "safetensors") == 0)
            steps[n++] = step;
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        int newer = 0;
        for (int j = 0; j < n; j++) newer += steps[j] > steps[i];
        if (newer >= keep) {
            char w[4200], s[4200];
            ckpt_paths(dir, steps[i], w, s, sizeof w);
            remove(w);
            remove(s);
        }
    }
}

typedef struct run {
    const pretrain_opts_t *o;
    tok_t *tok;
    gpt_t model;
    adamw_t opt;
    loader_t train, val;
    int has_val;
    train_state_t st;
    int32_t *inputs, *targets;
    float *weights;
    FILE *metrics;
    double last_loss;
    int has_loss;
} run_t;

static int save_checkpoint(run_t *r, err_t *e) {
    char w[4200], s[4200];
    ckpt_paths(r->o->out_dir, r->st.step, w, s, sizeof w);
    ckpt_meta_t meta = {.tok_hash = tok_hash(r->tok), .step = r->st.step, .has_loss = r->has_loss,
                        .loss = r->last_loss};
    // The spec that loads the tokenizer again: a file as an absolute path.
    char *abs = io_exists(r->o->tokenizer) ? realpath(r->o->tokenizer, NULL) : NULL;
    snprintf(meta.tokenizer, sizeof meta.tokenizer, "%s", abs ? abs : r->o->tokenizer);
    free(abs);
    r->st.loader = r->train.st;
    // Weights first, state second: a checkpoint counts only once its state exists.
    if (ckpt_save_model(w, &r->model, &meta, e) != 0 || ckpt_save_state(s, &r->opt, &r->st, e) != 0) return -1;
    // latest.safetensors: a symlink to the newest weights, replaced atomically.
    char link[4200], tmp[4300];
    snprintf(link, sizeof link, "%s/latest.safetensors", r->o->out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", link, (int)getpid());
    const char *base = strrchr(w, '/') ? strrchr(w, '/') + 1 : w;
    remove(tmp);
    if (symlink(base, tmp) == 0 && rename(tmp, link) != 0) remove(tmp);
    prune_checkpoints(r->o->out_dir, r->o->keep);
    printf("checkpoint %s\n", w);
    return 0;
}

static int setup(run_t *r, err_t *e) {
    const pretrain_opts_t *o = r->o;
    if (tok_load(&r->tok, o->tokenizer, NULL, e) != 0) return -1;
    if (io_mkdir_p(o->out_dir, e) != 0) return -1;
    int64_t resume_step = o->resume ? latest_checkpoint(o->out_dir) : -1;
    if (o->resume && resume_step < 0) printf("no checkpoint in %s: starting a new run\n", o->out_dir);
    ckpt_meta_t meta;
    char w[4200], s[4200];
    if (resume_step >= 0 || o->init_from) {
        if (resume_step >= 0) ckpt_paths(o->out_dir, resume_step, w, s, sizeof w);
        else snprintf(w, sizeof w, "%s", o->init_from);
        if (ckpt_load_model(w, &r->model, &meta, e) != 0) return -1;
        if (meta.tok_hash && meta.tok_hash != tok_hash(r->tok))
            return err_set(e, "%s was trained with tokenizer '%s', not '%s' (--tokenizer)", w, meta.tokenizer,
                           o->tokenizer);
        // A resumed run continues the model its flags describe; --init-from takes the file's.
        // The context may differ: --seq-len is checked against the checkpoint's below.
        gpt_config_t want = o->model;
        if (want.vocab_size == 0) want.vocab_size = tok_vocab_size(r->tok);
        want.context = r->model.cfg.context;
        const char *diff = resume_step >= 0 ? gpt_config_difference(&r->model.cfg, &want) : NULL;
        if (diff)
            return err_set(e, "%s has another model (its %s differs from the one the flags describe): resume with "
                              "the model flags of the original run (see %s/config.json), or use a new --out",
                           w, diff, o->out_dir);
    } else {
        gpt_config_t c = o->model;
        if (c.vocab_size == 0) c.vocab_size = tok_vocab_size(r->tok);
        if (gpt_init(&r->model, &c, e) != 0) return -1;
        rng_t init;
        rng_seed(&init, o->seed);
        gpt_init_weights(&r->model, &init);
    }
    const gpt_config_t *c = &r->model.cfg;
    if (c->vocab_size < tok_vocab_size(r->tok)) {
        if (resume_step >= 0 || o->init_from)
            return err_set(e, "%s: the model's vocabulary (%d) is smaller than that of tokenizer '%s' (%d)", w,
                           c->vocab_size, o->tokenizer, tok_vocab_size(r->tok));
        return err_set(e, "--vocab %d is smaller than the vocabulary of tokenizer '%s' (%d)", c->vocab_size,
                       o->tokenizer, tok_vocab_size(r->tok));
    }
    if (o->T > c->context) return err_set(e, "--seq-len %d is longer than the model's context %d", o->T, c->context);
    if (gpt_alloc_train(&r->model, o->B, o->T, e) != 0) return -1;
    if (adamw_init(&r->opt, gpt_num_params(&r->model), o->beta1, o->beta2, o->eps, o->weight_decay, e) != 0)
        return -1;
    uint64_t th = tok_hash(r->tok);
    if (loader_open(&r->train, o->train_data, o->T, o->random_batches, o->seed + 1, c->vocab_size, th, e) != 0)
        return err_wrap(e, "--train");
    if (o->val_data && *o->val_data) {
        if (loader_open(&r->val, o->val_data, o->T, 0, 0, c->vocab_size, th, e) != 0) return err_wrap(e, "--val");
        r->has_val = 1;
    }
    if (resume_step >= 0) {
        if (ckpt_load_state(s, &r->opt, &r->st, e) != 0) return -1;
        if (r->st.loader.shard >= r->train.n_shards)
            return err_set(e, "%s: its data position does not fit the shards of --train", s);
        r->train.st = r->st.loader;
        printf("resuming %s at step %" PRId64 "\n", w, r->st.step);
    }
    size_t N = (size_t)o->B * o->T;
    r->inputs = malloc(N * sizeof(int32_t));
    r->targets = malloc(N * sizeof(int32_t));
    r->weights = malloc(N * sizeof(float));
    if (!r->inputs || !r->targets || !r->weights) return err_set(e, "out of memory");
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", o->out_dir);
    char *cj = gpt_config_to_json(c);
    io_atomic_t a;
    int rc = cj && io_atomic_open(&a, path, e) == 0 && io_atomic_write(&a, cj, strlen(cj), e) == 0 &&
                     io_atomic_write(&a, "\n", 1, e) == 0 && io_atomic_commit(&a, e) == 0
                 ? 0
                 : -1;
    free(cj);
    if (rc != 0) return -1;
    snprintf(path, sizeof path, "%s/metrics.jsonl", o->out_dir);
    r->metrics = fopen(path, resume_step >= 0 ? "a" : "w");
    if (!r->metrics) return err_set(e, "cannot write %s", path);
    return 0;
}

static void teardown(run_t *r) {
    if (r->metrics) fclose(r->metrics);
    free(r->inputs);
    free(r->targets);
    free(r->weights);
    loader_close(&r->train);
    loader_close(&r->val);
    adamw_free(&r->opt);
    gpt_free(&r->model);
    tok_free(r->tok);
}

static void validate(run_t *r) {
    eval_result_t v = eval_loss(&r->model, &r->val, r->tok, r->o->B, r->o->val_batches, r->inputs, r->targets);
    printf("step %" PRId64 " | val loss %.4f | val bpb %.4f | %" PRId64 " tokens\n", r->st.step, v.loss, v.bpb,
           v.tokens);
    fprintf(r->metrics, "{\"step\":%" PRId64 ",\"val_loss\":%.6f,\"val_bpb\":%.6f,\"val_tokens\":%" PRId64 "}\n",
            r->st.step, v.loss, v.bpb, v.tokens);
    fflush(r->metrics);
}

int pretrain_run(const pretrain_opts_t *o, err_t *e) {
    run_t r = {.o = o};
    int rc = -1;
    if (setup(&r, e) != 0) goto done;
    int64_t micro = (int64_t)o->B * o->T, bt = o->batch_tokens ? o->batch_tokens : micro;
    if (bt % micro != 0) {
        err_set(e, "--batch-tokens %" PRId64 " must be a multiple of batch x seq-len = %" PRId64, bt, micro);
        goto done;
    }
    int accum = (int)(bt / micro);
    for (int64_t i = 0; i < micro; i++) r.weights[i] = 1.0f / (float)bt;
    lr_schedule_t sched = o->lr;
    sched.total = o->steps;
    double peak = cpu_measure_peak_flops(o->threads);
    double flops_tok = gpt_flops_per_token(&r.model.cfg, o->T);
    printf("model: %s, %zu parameters, %d layers, width %d, %d heads | step: %d x %d x %d = %" PRId64
           " tokens | peak %.0f GFLOP/s (%s, %d threads)\n",
           gpt_family_name(r.model.cfg.family), gpt_num_params(&r.model), r.model.cfg.n_layer, r.model.cfg.d_model,
           r.model.cfg.n_head, accum, o->B, o->T, bt, peak / 1e9, cpu_fma_isa(), o->threads);
    fflush(stdout);
    int64_t done_here = 0;
    double t_start = timing_now(), dt_sum = 0;
    int end = PRETRAIN_DONE;
    while (r.st.step < o->steps) {
        if (o->stop && *o->stop) {
            end = PRETRAIN_STOPPED;
            break;
        }
        if (r.has_val && o->val_every > 0 && r.st.step % o->val_every == 0) validate(&r);
        double t0 = timing_now();
        gpt_zero_grad(&r.model);
        double loss = 0;
        for (int k = 0; k < accum; k++) {
            loader_next(&r.train, r.inputs, r.targets, o->B);
            loss += gpt_forward(&r.model, r.inputs, r.targets, r.weights, o->B, o->T);
            gpt_backward(&r.model);
        }
        double norm = grad_norm(r.model.grads, gpt_num_params(&r.model));
        if (!isfinite(loss) || !isfinite(norm)) {
            double bad = isfinite(loss) ? norm : loss;
            err_set(e, "step %" PRId64 ": the %s is %s; stopping without saving (the last good checkpoint in %s "
                       "is kept). Try a lower --lr or a smaller --grad-clip",
                    r.st.step + 1, isfinite(loss) ? "gradient norm" : "loss", isnan(bad) ? "NaN" : "infinite",
                    o->out_dir);
            goto done;
        }
        float lr = lr_at(&sched, r.st.step);
        adamw_update(&r.opt, &r.model.table, r.model.params, r.model.grads, lr, clip_scale(norm, o->grad_clip));
        r.st.step++;
        r.st.tokens += bt;
        done_here++;
        r.last_loss = loss;
        r.has_loss = 1;
        double dt = timing_now() - t0;
        if (done_here > 1) dt_sum += dt;  // the first step pays page faults and warm-up
        double avg = done_here > 1 ? dt_sum / (done_here - 1) : dt;
        double tps = bt / dt, mfu = flops_tok * tps / peak;
        char eta[32];
        fmt_duration(eta, sizeof eta, avg * (o->steps - r.st.step));
        printf("step %5" PRId64 "/%" PRId64 " | loss %.4f | lr %.2e | norm %.3f | %.0f tok/s | MFU %.1f%% | %.0f ms | ETA %s\n",
               r.st.step, o->steps, loss, lr, norm, tps, 100 * mfu, dt * 1e3, eta);
        fflush(stdout);
        fprintf(r.metrics,
                "{\"step\":%" PRId64 ",\"loss\":%.9g,\"lr\":%.6g,\"grad_norm\":%.6f,\"tokens\":%" PRId64
                ",\"tokens_per_s\":%.1f,\"mfu\":%.4f,\"step_ms\":%.2f}\n",
                r.st.step, loss, lr, norm, r.st.tokens, tps, mfu, dt * 1e3);
        fflush(r.metrics);
        int last = r.st.step == o->steps || (o->stop_after && done_here >= o->stop_after);
        if ((o->ckpt_every > 0 && r.st.step % o->ckpt_every == 0) || last)
            if (save_checkpoint(&r, e) != 0) goto done;
        if (last && r.st.step < o->steps) {
            end = PRETRAIN_STOPPED;
            break;
        }
    }
    if (end == PRETRAIN_STOPPED) {
        int by_signal = !(o->stop_after && done_here >= o->stop_after);
        if (by_signal && save_checkpoint(&r, e) != 0) goto done;  // --stop-after saved it already
        printf("stopped at step %" PRId64 "%s; continue with --resume\n", r.st.step,
               by_signal ? " by a signal" : " (--stop-after)");
    } else {
        if (r.has_val) validate(&r);
        if (done_here == 0 && save_checkpoint(&r, e) != 0) goto done;
        char d[32];
        fmt_duration(d, sizeof d, timing_now() - t_start);
        printf("done: %" PRId64 " steps in %s\n", r.st.step, d);
    }
    rc = end;
done:
    teardown(&r);
    return rc;
}
