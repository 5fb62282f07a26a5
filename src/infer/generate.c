#include "infer/generate.h"

#include <stdlib.h>
#include <string.h>

#include "core/timing.h"
#include "infer/kvcache.h"

const char *gen_finish_name(gen_finish_t f) {
    static const char *const names[] = {"length", "stop_token", "stop_string", "context", "caller"};
    return f >= GEN_LENGTH && f <= GEN_CALLER ? names[f] : "?";
}

void gen_config_default(gen_config_t *c) {
    memset(c, 0, sizeof *c);
    sample_config_default(&c->sample);
    c->max_new = 256;
}

void gen_output_free(gen_output_t *o, int n) {
    if (!o) return;
    for (int i = 0; i < n; i++) {
        free(o[i].tokens);
        free(o[i].text);
        memset(&o[i], 0, sizeof o[i]);
    }
}

// One sequence in a slot of the cache.
typedef struct seq {
    int32_t *hist;       // (hist_cap) prompt then new tokens: the penalties' window and what a slide re-runs
    size_t hist_cap;
    int n, n_prompt;
    char *text;          // (text_cap) the new tokens' bytes
    size_t len, text_cap, emitted;  // bytes so far; of them, streamed
    int active;          // has a sampled token still to run through the model
    int out;             // index into the caller's outputs
    gen_finish_t finish;
} seq_t;

struct gen {
    const gpt_t *m;
    const tok_t *tok;
    kv_cache_t cache;
    sampler_t *sampler;
    int32_t **cached;    // (S, T) the tokens each slot's cache holds, cache.pos[s] of them
    seq_t *seq;          // (S)
    gen_stats_t stats;
};

const gen_stats_t *gen_stats(const gen_t *g) { return &g->stats; }

void gen_free(gen_t *g) {
    if (!g) return;
    for (int s = 0; g->cached && s < g->cache.S; s++) free(g->cached[s]);
    for (int s = 0; g->seq && s < g->cache.S; s++) free(g->seq[s].hist), free(g->seq[s].text);
    free(g->cached);
    free(g->seq);
    kv_free(&g->cache);
    sampler_free(g->sampler);
    free(g);
}

void gen_reset(gen_t *g) {
    for (int s = 0; s < g->cache.S; s++) kv_keep(&g->cache, s, 0);
}

gen_t *gen_new(const gpt_t *m, const tok_t *tok, int max_seqs, err_t *e) {
    if (max_seqs < 1) {
        err_set(e, "a generator for %d sequences: give at least 1", max_seqs);
        return NULL;
    }
    gen_t *g = calloc(1, sizeof *g);
    if (!g) {
        err_set(e, "out of memory");
        return NULL;
    }
    g->m = m, g->tok = tok;
    int T = m->cfg.context, chunk = T < 256 ? T : 256;
    if (chunk < max_seqs) chunk = max_seqs;
    if (kv_init(&g->cache, m, max_seqs, T, chunk, e) != 0) {
        free(g);
        return NULL;
    }
    g->sampler = sampler_new(m->cfg.vocab_size);
    g->cached = calloc((size_t)max_seqs, sizeof *g->cached);
    g->seq = calloc((size_t)max_seqs, sizeof *g->seq);
    int ok = g->sampler && g->cached && g->seq;
    for (int s = 0; ok && s < max_seqs; s++) ok = (g->cached[s] = malloc((size_t)T * sizeof(int32_t))) != NULL;
    if (!ok) {
        gen_free(g);
        err_set(e, "out of memory for a generator of %d sequences", max_seqs);
        return NULL;
    }
    return g;
}

// Runs tokens[0..n) into slot s after its first `keep` cached positions; the logits of the last
// are left in the cache.
static int prefill(gen_t *g, int s, const int32_t *tokens, int n, int keep, err_t *e) {
    kv_cache_t *c = &g->cache;
    double t0 = timing_now();
    kv_keep(c, s, keep);
    for (int at = keep; at < n; at += c->chunk) {
        int k = n - at < c->chunk ? n - at : c->chunk;
        if (kv_forward(c, g->m, s, tokens + at, k, 0, e) != 0) {
            kv_keep(c, s, 0);
            return -1;
        }
    }
    memcpy(g->cached[s] + keep, tokens + keep, (size_t)(n - keep) * sizeof(int32_t));
    g->stats.prefill_tokens += n - keep;
    g->stats.prefill_s += timing_now() - t0;
    return 0;
}

// Positions of slot s that can stay for a prompt: the common prefix with what it holds, less
// one when that is all of the prompt (its last logits are needed again).
static int reusable(const gen_t *g, int s, const int32_t *p, int n) {
    int k = 0, have = g->cache.pos[s];
    while (k < have && k < n && g->cached[s][k] == p[k]) k++;
    return k == n ? n - 1 : k;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q, *cap = c;
    return 0;
}

// Longest k < strlen(stop) such that text ends with stop's first k bytes.
static size_t partial_stop(const char *text, size_t len, const char *stop) {
    size_t sl = strlen(stop);
    for (size_t k = sl - 1 < len ? sl - 1 : len; k > 0; k--)
        if (memcmp(text + len - k, stop, k) == 0) return k;
    return 0;
}

// The longest prefix of s[0..n) that does not end inside a UTF-8 character.
static size_t whole_chars(const char *s, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char b = (unsigned char)s[n - back];
        if ((b & 0xC0) == 0x80) continue;  // a continuation byte: look further back
        size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
        return need > back ? n - back : n;
    }
    return n;
}

typedef struct run {
    gen_t *g;
    const gen_config_t *c;
    rng_t *rng;
    gen_stream_fn cb;
    void *ctx;
    gen_output_t *out;
} run_t;

static void finish(run_t *r, seq_t *q, gen_finish_t why) {
    q->active = 0;
    q->finish = why;
    if (r->cb && q->len > q->emitted) r->cb(q->out, q->text + q->emitted, q->len - q->emitted, r->ctx);
    q->emitted = q->len;
}

// Appends token t (just sampled) to q, streams what became final and decides whether q goes on.
static int take(run_t *r, seq_t *q, int32_t t, err_t *e) {
    const gen_config_t *c = r->c;
    q->hist[q->n++] = t;
    for (int i = 0; i < c->n_stop_tokens; i++)
        if (t == c->stop_tokens[i]) {
            finish(r, q, GEN_STOP_TOKEN);
            return 0;
        }
    if (r->g->tok) {
        size_t nb;
        const char *b = tok_token_bytes(r->g->tok, t, &nb);
        if (!b) nb = 0;  // an id past the tokenizer's (a model with a larger vocabulary): no text
        if (grow((void **)&q->text, &q->text_cap, q->len + nb + 1, 1) != 0) return err_set(e, "out of memory");
        if (nb) memcpy(q->text + q->len, b, nb);
        size_t old = q->len;
        q->len += nb;
        q->text[q->len] = 0;
        size_t hold = 0;
        for (int i = 0; i < c->n_stop_strings; i++) {
            const char *st = c->stop_strings[i];
            size_t sl = strlen(st), from = old >= sl - 1 ? old - (sl - 1) : 0;
            char *hit = q->len > from ? memmem(q->text + from, q->len - from, st, sl) : NULL;
            if (hit) q->len = (size_t)(hit - q->text);  // within the text so far: the earliest wins
            else hold = partial_stop(q->text, q->len, st) > hold ? partial_stop(q->text, q->len, st) : hold;
        }
        if (q->len < old + nb) {  // a stop string: the text ends before it
            q->text[q->len] = 0;
            finish(r, q, GEN_STOP_STRING);
            return 0;
        }
        size_t upto = whole_chars(q->text, q->len - hold);
        if (upto > q->emitted) {
            int stop = r->cb && r->cb(q->out, q->text + q->emitted, upto - q->emitted, r->ctx);
            q->emitted = upto;
            if (stop) {
                finish(r, q, GEN_CALLER);
                return 0;
            }
        }
    }
    if (q->n - q->n_prompt >= c->max_new) finish(r, q, GEN_LENGTH);
    return 0;
}

static int sample_into(run_t *r, int s, const float *logits, err_t *e) {
    seq_t *q = &r->g->seq[s];
    int32_t t = sample_next(r->g->sampler, &r->c->sample, logits, r->g->cache.V, q->hist, q->n,
                            rng_uniform(r->rng));
    return take(r, q, t, e);
}

// Slot s is full: runs the most recent half of its sequence (its last token included) again
// and samples the next token, or stops it.
static int slide(run_t *r, int s, err_t *e) {
    seq_t *q = &r->g->seq[s];
    if (!r->c->slide) {
        finish(r, q, GEN_CONTEXT);
        return 0;
    }
    int keep = r->g->cache.T / 2 > 0 ? r->g->cache.T / 2 : 1;
    if (prefill(r->g, s, q->hist + q->n - keep, keep, 0, e) != 0) return -1;
    return sample_into(r, s, kv_logits(&r->g->cache, 0), e);
}

// Prompts [p0, p1) with n_samples each, in slots 0 ..
static int run_group(run_t *r, const int32_t *const *prompts, const int *lens, int p0, int p1, int ns, err_t *e) {
    gen_t *g = r->g;
    kv_cache_t *c = &g->cache;
    int S = (p1 - p0) * ns;
    for (int s = 0; s < S; s++) {  // the sequences' buffers
        seq_t *q = &g->seq[s];
        int j = p0 + s / ns, need = lens[j] + r->c->max_new + 1;
        if (grow((void **)&q->hist, &q->hist_cap, (size_t)need, sizeof(int32_t)) != 0)
            return err_set(e, "out of memory");
        memcpy(q->hist, prompts[j], (size_t)lens[j] * sizeof(int32_t));
        q->n = q->n_prompt = lens[j];
        q->len = q->emitted = 0;
        q->active = r->c->max_new > 0;
        q->out = p0 * ns + s;
        q->finish = GEN_LENGTH;
    }
    if (r->c->max_new > 0)
        for (int j = p0; j < p1; j++) {
            int s0 = (j - p0) * ns;
            if (prefill(g, s0, prompts[j], lens[j], reusable(g, s0, prompts[j], lens[j]), e) != 0) return -1;
            for (int k = 1; k < ns; k++) {
                kv_copy(c, s0 + k, s0);
                memcpy(g->cached[s0 + k], g->cached[s0], (size_t)c->pos[s0] * sizeof(int32_t));
            }
            // every sample draws its first token from the prompt's logits
            for (int k = 0; k < ns; k++)
                if (sample_into(r, s0 + k, kv_logits(c, c->n_logits - 1), e) != 0) return -1;
        }
    int *slots = malloc((size_t)S * sizeof(int));
    int32_t *next = malloc((size_t)S * sizeof(int32_t));
    int rc = slots && next ? 0 : err_set(e, "out of memory");
    while (rc == 0) {
        int n = 0, any = 0;
        for (int s = 0; s < S; s++)
            if (g->seq[s].active) {
                any = 1;
                if (c->pos[s] < c->T) slots[n] = s, next[n++] = g->seq[s].hist[g->seq[s].n - 1];
            }
        if (!any) break;
        double t0 = timing_now();
        if (n > 0 && (rc = kv_step(c, g->m, slots, next, n, e)) != 0) break;
        for (int i = 0; i < n && rc == 0; i++) {
            g->cached[slots[i]][c->pos[slots[i]] - 1] = next[i];
            rc = sample_into(r, slots[i], kv_logits(c, i), e);
        }
        g->stats.decode_tokens += n;
        g->stats.decode_s += timing_now() - t0;
        for (int s = 0; s < S && rc == 0; s++)
            if (g->seq[s].active && c->pos[s] == c->T) rc = slide(r, s, e);
    }
    free(slots);
    free(next);
    if (rc != 0) return -1;
    for (int s = 0; s < S; s++) {  // hand over the results
        seq_t *q = &g->seq[s];
        gen_output_t *o = &r->out[q->out];
        o->n = q->n - q->n_prompt;
        o->tokens = malloc((size_t)(o->n > 0 ? o->n : 1) * sizeof(int32_t));
        if (!o->tokens) return err_set(e, "out of memory");
        memcpy(o->tokens, q->hist + q->n_prompt, (size_t)o->n * sizeof(int32_t));
        if (g->tok) {
            o->text = malloc(q->len + 1);
            if (!o->text) return err_set(e, "out of memory");
            memcpy(o->text, q->text ? q->text : "", q->len);
            o->text[q->len] = 0;
            o->len = q->len;
        }
        o->finish = q->finish;
    }
    return 0;
}

static int check_run(const gen_t *g, const gen_config_t *c, const int32_t *const *prompts, const int *lens,
                     int n_prompts, int n_samples, err_t *e) {
    if (sample_config_check(&c->sample, e) != 0) return -1;
    if (c->max_new < 0) return err_set(e, "max-tokens %d: give a count >= 0", c->max_new);
    if (n_prompts < 0) return err_set(e, "%d prompts: give a count >= 0", n_prompts);
    if (n_samples < 1 || n_samples > g->cache.S)
        return err_set(e, "%d samples per prompt: give 1 to %d (the generator's sequences)", n_samples, g->cache.S);
    if (c->n_stop_strings > 0 && !g->tok) return err_set(e, "stop strings need a tokenizer");
    for (int i = 0; i < c->n_stop_strings; i++)
        if (!c->stop_strings[i] || !c->stop_strings[i][0]) return err_set(e, "stop string %d is empty", i + 1);
    int V = g->m->cfg.vocab_size, T = g->m->cfg.context;
    for (int i = 0; i < c->n_stop_tokens; i++)
        if (c->stop_tokens[i] < 0 || c->stop_tokens[i] >= V)
            return err_set(e, "stop token %d is not in the vocabulary (0..%d)", c->stop_tokens[i], V - 1);
    for (int j = 0; j < n_prompts; j++) {
        if (lens[j] < 1)
            return err_set(e, "prompt %d is empty: give at least one token (the sequence start)", j + 1);
        if (lens[j] > T)
            return err_set(e, "prompt %d has %d tokens, more than the model's context of %d: shorten it", j + 1,
                           lens[j], T);
        for (int t = 0; t < lens[j]; t++)
            if (prompts[j][t] < 0 || prompts[j][t] >= V)
                return err_set(e, "prompt %d: token id %d at position %d is not in the vocabulary (0..%d)", j + 1,
                               prompts[j][t], t, V - 1);
    }
    return 0;
}

int gen_run(gen_t *g, const gen_config_t *c, const int32_t *const *prompts, const int *lens, int n_prompts,
            int n_samples, rng_t *rng, gen_stream_fn cb, void *ctx, gen_output_t *out, err_t *e) {
    if (check_run(g, c, prompts, lens, n_prompts, n_samples, e) != 0) return -1;
    memset(out, 0, (size_t)n_prompts * n_samples * sizeof *out);
    run_t r = {.g = g, .c = c, .rng = rng, .cb = cb, .ctx = ctx, .out = out};
    int per = g->cache.S / n_samples;  // prompts per group
    for (int p0 = 0; p0 < n_prompts; p0 += per) {
        int p1 = p0 + per < n_prompts ? p0 + per : n_prompts;
        if (run_group(&r, prompts, lens, p0, p1, n_samples, e) != 0) {
            gen_output_free(out, n_prompts * n_samples);
            gen_reset(g);  // unknown state: forget it
            return -1;
        }
    }
    return 0;
}
