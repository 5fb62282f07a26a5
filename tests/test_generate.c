// Generation (infer/generate.h) against full forward passes: greedy tokens for one prompt or
// many at once, samples sharing a prefill, the context running full (stop or slide), stop
// tokens and strings with streamed text, prefix reuse, determinism and bad input.
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "infer/generate.h"
#include "model/gpt.h"
#include "test.h"

enum { CTX = 16 };

static int make_model(gpt_t *m, gpt_family_t fam, int V, int ctx, uint64_t seed, float noise) {
    gpt_config_t cfg;
    gpt_config_preset(&cfg, fam, 2, V, ctx);
    err_t e = {{0}};
    if (gpt_init(m, &cfg, &e) != 0 || gpt_alloc_acts(m, 1, ctx, &e) != 0) {
        test_fail(__FILE__, __LINE__, "%s", e.msg);
        return -1;
    }
    rng_t r;
    rng_seed(&r, seed);
    gpt_init_weights(m, &r);
    for (size_t i = 0; i < gpt_num_params(m); i++) m->params[i] += noise * rng_normal(&r);
    return 0;
}

// Greedy continuation of seq[0..n) to `to` tokens by full forward passes over the whole sequence.
static void greedy_full(gpt_t *m, int32_t *seq, int n, int to) {
    int V = m->cfg.vocab_size;
    for (; n < to; n++) {
        gpt_forward(m, seq, NULL, NULL, 1, n);
        const float *l = gpt_logits(m) + (size_t)(n - 1) * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (l[v] > l[best]) best = v;
        seq[n] = best;
    }
}

static gen_config_t greedy(int max_new) {
    gen_config_t c;
    gen_config_default(&c);
    c.sample.temperature = 0;
    c.max_new = max_new;
    return c;
}

TEST(generate_greedy_matches_full_forward_batched) {
    for (int fam = 0; fam < 2; fam++) {
        gpt_t m;
        if (make_model(&m, fam ? GPT_GPT2 : GPT_LLAMA, 29, CTX, 3 + (uint64_t)fam, 0.1f) != 0) return;
        err_t e = {{0}};
        int32_t p[3][CTX] = {{1, 7, 3}, {5}, {2, 2, 9, 4, 11, 6}};
        int lens[3] = {3, 1, 6};
        const int32_t *prompts[3] = {p[0], p[1], p[2]};
        gen_t *g = gen_new(&m, NULL, 2, &e);  // two at a time: the three prompts go in two groups
        CHECK(g != NULL);
        gen_config_t c = greedy(8);
        gen_output_t out[3];
        rng_t r;
        rng_seed(&r, 1);
        CHECK(gen_run(g, &c, prompts, lens, 3, 1, &r, NULL, NULL, out, &e) == 0);
        for (int j = 0; j < 3; j++) {
            int32_t want[CTX];
            memcpy(want, p[j], sizeof want);
            greedy_full(&m, want, lens[j], lens[j] + 8);
            CHECK(out[j].n == 8 && out[j].finish == GEN_LENGTH && out[j].text == NULL);
            CHECK_MSG(memcmp(out[j].tokens, want + lens[j], 8 * sizeof(int32_t)) == 0, "%s prompt %d differs",
                      gpt_family_name(m.cfg.family), j);
        }
        gen_output_free(out, 3);
        gen_free(g);
        gpt_free(&m);
    }
}

// A full context either stops (GEN_CONTEXT: one token per free position plus the one sampled
// from the last) or slides on, agreeing with the full forward pass while the context lasts.
TEST(generate_context_full_stops_or_slides) {
    gpt_t m;
    if (make_model(&m, GPT_LLAMA, 29, CTX, 5, 0.5f) != 0) return;
    err_t e = {{0}};
    int32_t p[4] = {1, 7, 3, 2}, want[CTX];
    memcpy(want, p, sizeof p);
    greedy_full(&m, want, 4, CTX);
    const int32_t *pp = p;
    int len = 4;
    gen_t *g = gen_new(&m, NULL, 1, &e);
    gen_config_t c = greedy(100);
    gen_output_t out;
    rng_t r;
    rng_seed(&r, 1);
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, NULL, NULL, &out, &e) == 0);
    CHECK(out.finish == GEN_CONTEXT && out.n == CTX - 4 + 1);
    CHECK(memcmp(out.tokens, want + 4, (CTX - 4) * sizeof(int32_t)) == 0);
    gen_output_free(&out, 1);
    c.slide = 1, c.max_new = 5 * CTX;
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, NULL, NULL, &out, &e) == 0);
    CHECK(out.finish == GEN_LENGTH && out.n == 5 * CTX);
    CHECK(memcmp(out.tokens, want + 4, (CTX - 4) * sizeof(int32_t)) == 0);
    // after the first slide the model sees the most recent half and then grows it to the full
    // context again: those tokens are what full passes over that window give
    int32_t all[4 + 5 * CTX], tail[CTX];
    memcpy(all, p, sizeof p);
    memcpy(all + 4, out.tokens, (size_t)out.n * sizeof(int32_t));
    memcpy(tail, all + CTX + 1 - CTX / 2, (CTX / 2) * sizeof(int32_t));
    greedy_full(&m, tail, CTX / 2, CTX);
    CHECK(memcmp(tail + CTX / 2, all + CTX + 1, (CTX / 2) * sizeof(int32_t)) == 0);
    for (int i = 0; i < out.n; i++) CHECK(out.tokens[i] >= 0 && out.tokens[i] < 29);
    gen_output_free(&out, 1);
    // a prompt that fills the context exactly still gets the token its last logits give
    int32_t full[CTX];
    memcpy(full, want, sizeof full);
    const int32_t *fp = full;
    int flen = CTX;
    c.slide = 0;
    CHECK(gen_run(g, &c, &fp, &flen, 1, 1, &r, NULL, NULL, &out, &e) == 0);
    CHECK(out.n == 1 && out.finish == GEN_CONTEXT);
    gen_output_free(&out, 1);
    gen_free(g);
    gpt_free(&m);
}

// Samples of one prompt: the same seed gives the same answers, another seed others; samples
// differ from each other; a single sample equals the first of a batch's draws only by chance,
// so that is not asserted.
TEST(generate_samples_deterministic) {
    gpt_t m;
    if (make_model(&m, GPT_LLAMA, 29, 32, 7, 0.02f) != 0) return;
    err_t e = {{0}};
    int32_t p[2] = {1, 4};
    const int32_t *pp = p;
    int len = 2;
    gen_t *g = gen_new(&m, NULL, 4, &e);
    gen_config_t c;
    gen_config_default(&c);
    c.sample.temperature = 1.0f, c.sample.top_k = 0, c.sample.top_p = 1, c.sample.min_p = 0;
    c.max_new = 12;
    gen_output_t a[4], b[4], d[4];
    rng_t r;
    rng_seed(&r, 42);
    CHECK(gen_run(g, &c, &pp, &len, 1, 4, &r, NULL, NULL, a, &e) == 0);
    rng_seed(&r, 42);
    CHECK(gen_run(g, &c, &pp, &len, 1, 4, &r, NULL, NULL, b, &e) == 0);
    rng_seed(&r, 43);
    CHECK(gen_run(g, &c, &pp, &len, 1, 4, &r, NULL, NULL, d, &e) == 0);
    int same_seed = 1, other_seed = 1, distinct = 0;
    for (int i = 0; i < 4; i++) {
        CHECK(a[i].n == 12 && b[i].n == 12 && d[i].n == 12);
        same_seed &= memcmp(a[i].tokens, b[i].tokens, 12 * sizeof(int32_t)) == 0;
        other_seed &= memcmp(a[i].tokens, d[i].tokens, 12 * sizeof(int32_t)) == 0;
        if (i) distinct += memcmp(a[i].tokens, a[0].tokens, 12 * sizeof(int32_t)) != 0;
    }
    CHECK(same_seed && !other_seed && distinct == 3);
    gen_output_free(a, 4), gen_output_free(b, 4), gen_output_free(d, 4);
    gen_free(g);
    gpt_free(&m);
}

typedef struct {
    sb_t text[2];
    int pieces, stop_after;
} sink_t;

static int sink(int seq, const char *text, size_t len, void *ctx) {
    sink_t *s = ctx;
    sb_add(&s->text[seq], text, len);
    return s->stop_after && ++s->pieces >= s->stop_after;
}

// Stop tokens end a sequence with that token; stop strings cut the text before them and never
// stream any part of them; the streamed pieces add up to the text; the callback can stop.
TEST(generate_stops_and_streaming) {
    tok_t *tok;
    err_t e = {{0}};
    CHECK(tok_load(&tok, "byte", NULL, &e) == 0);
    gpt_t m;
    if (make_model(&m, GPT_LLAMA, tok_vocab_size(tok), 64, 9, 0.3f) != 0) return;
    int32_t p[3] = {tok_special(tok, TOK_EOT), 'H', 'i'};
    const int32_t *pp = p;
    int len = 3;
    gen_t *g = gen_new(&m, tok, 1, &e);
    gen_config_t c = greedy(40);
    gen_output_t free_run, out;
    rng_t r;
    rng_seed(&r, 1);
    sink_t s = {0};
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, sink, &s, &free_run, &e) == 0);
    CHECK(free_run.n == 40 && free_run.finish == GEN_LENGTH && free_run.text);
    CHECK(s.text[0].n == free_run.len && memcmp(s.text[0].p, free_run.text, free_run.len) == 0);
    free(s.text[0].p);

    // the 6th token as a stop token
    int32_t stop_tok = free_run.tokens[5];
    int first = 0;
    while (free_run.tokens[first] != stop_tok) first++;
    c.stop_tokens = &stop_tok, c.n_stop_tokens = 1;
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, NULL, NULL, &out, &e) == 0);
    CHECK(out.finish == GEN_STOP_TOKEN && out.n == first + 1 && out.tokens[first] == stop_tok);
    gen_output_free(&out, 1);
    c.n_stop_tokens = 0;

    // a stop string from the middle of the free run's text (bytes 10..12)
    CHECK(free_run.len > 14);
    char stop[4] = {0};
    memcpy(stop, free_run.text + 10, 3);
    const char *stops[2] = {"\x01never\x02", stop};
    size_t at = (size_t)((const char *)memmem(free_run.text, free_run.len, stop, 3) - free_run.text);
    c.stop_strings = stops, c.n_stop_strings = 2;
    memset(&s, 0, sizeof s);
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, sink, &s, &out, &e) == 0);
    CHECK(out.finish == GEN_STOP_STRING && out.len == at && memcmp(out.text, free_run.text, at) == 0);
    CHECK(s.text[0].n == at && (at == 0 || memcmp(s.text[0].p, free_run.text, at) == 0));
    gen_output_free(&out, 1);
    free(s.text[0].p);

    // the callback stops after its first piece
    c.n_stop_strings = 0;
    memset(&s, 0, sizeof s);
    s.stop_after = 1;
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, sink, &s, &out, &e) == 0);
    CHECK(out.finish == GEN_CALLER && out.n < 40 && s.pieces == 1);
    gen_output_free(&out, 1);
    free(s.text[0].p);
    gen_output_free(&free_run, 1);
    gen_free(g);
    gpt_free(&m);
    tok_free(tok);
}

// A prompt that extends what the slot holds prefills only the new tokens, and gives what a
// fresh generator gives.
TEST(generate_reuses_prefix) {
    gpt_t m;
    if (make_model(&m, GPT_LLAMA, 29, 64, 13, 0.1f) != 0) return;
    err_t e = {{0}};
    gen_t *g = gen_new(&m, NULL, 1, &e), *fresh = gen_new(&m, NULL, 1, &e);
    gen_config_t c = greedy(5);
    int32_t p[32] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int32_t *pp = p;
    int len = 8;
    gen_output_t out, out2;
    rng_t r;
    rng_seed(&r, 1);
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, NULL, NULL, &out, &e) == 0);
    CHECK(gen_stats(g)->prefill_tokens == 8 && gen_stats(g)->decode_tokens == 4);
    memcpy(p + 8, out.tokens, 5 * sizeof(int32_t));  // the answer, then three new tokens
    p[13] = 9, p[14] = 10, p[15] = 11;
    len = 16;
    gen_output_free(&out, 1);
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, NULL, NULL, &out, &e) == 0);
    // held: 8 prompt + 4 fed answer tokens; new: the 5th answer token and 3 more
    CHECK_MSG(gen_stats(g)->prefill_tokens == 8 + 4, "prefilled %lld", (long long)gen_stats(g)->prefill_tokens);
    CHECK(gen_run(fresh, &c, &pp, &len, 1, 1, &r, NULL, NULL, &out2, &e) == 0);
    CHECK(out.n == 5 && out2.n == 5 && memcmp(out.tokens, out2.tokens, 5 * sizeof(int32_t)) == 0);
    gen_output_free(&out, 1), gen_output_free(&out2, 1);
    // the same prompt again re-runs only its last token
    int64_t before = gen_stats(g)->prefill_tokens;
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, NULL, NULL, &out, &e) == 0);
    CHECK(gen_stats(g)->prefill_tokens == before + 1);
    gen_output_free(&out, 1);
    gen_free(g), gen_free(fresh);
    gpt_free(&m);
}

TEST(generate_bad_input) {
    gpt_t m;
    if (make_model(&m, GPT_LLAMA, 29, CTX, 1, 0) != 0) return;
    err_t e = {{0}};
    gen_t *g = gen_new(&m, NULL, 2, &e);
    CHECK(gen_new(&m, NULL, 0, &e) == NULL && strstr(e.msg, "at least 1"));
    gen_config_t c = greedy(4);
    int32_t p[CTX + 1] = {1, 2, 3}, bad[2] = {1, 29};
    const int32_t *pp = p, *pb = bad;
    int len = 3, zero = 0, over = CTX + 1, two = 2;
    gen_output_t out[3];
    rng_t r;
    rng_seed(&r, 1);
    CHECK(gen_run(g, &c, &pp, &zero, 1, 1, &r, NULL, NULL, out, &e) == -1 && strstr(e.msg, "empty"));
    CHECK(gen_run(g, &c, &pp, &over, 1, 1, &r, NULL, NULL, out, &e) == -1 && strstr(e.msg, "context of 16"));
    CHECK(gen_run(g, &c, &pb, &two, 1, 1, &r, NULL, NULL, out, &e) == -1 && strstr(e.msg, "token id 29"));
    CHECK(gen_run(g, &c, &pp, &len, 1, 3, &r, NULL, NULL, out, &e) == -1 && strstr(e.msg, "3 samples"));
    const char *stops[1] = {"x"};
    c.stop_strings = stops, c.n_stop_strings = 1;
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, NULL, NULL, out, &e) == -1 && strstr(e.msg, "tokenizer"));
    c.n_stop_strings = 0;
    int32_t st = 99;
    c.stop_tokens = &st, c.n_stop_tokens = 1;
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, NULL, NULL, out, &e) == -1 && strstr(e.msg, "stop token 99"));
    c.n_stop_tokens = 0;
    c.sample.top_p = 1.5f;
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, NULL, NULL, out, &e) == -1 && strstr(e.msg, "top-p"));
    c = greedy(-1);
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, NULL, NULL, out, &e) == -1 && strstr(e.msg, "max-tokens"));
    c = greedy(0);  // nothing to generate is not an error
    CHECK(gen_run(g, &c, &pp, &len, 1, 2, &r, NULL, NULL, out, &e) == 0 && out[0].n == 0 && out[1].n == 0);
    CHECK(out[0].finish == GEN_LENGTH && !strcmp(gen_finish_name(GEN_STOP_STRING), "stop_string"));
    gen_output_free(out, 2);
    gen_free(g);
    gen_free(NULL);
    gpt_free(&m);
}

// A model with more ids than its tokenizer (padded vocabularies): ids without bytes add no text.
TEST(generate_ids_past_the_tokenizer) {
    tok_t *tok;
    err_t e = {{0}};
    CHECK(tok_load(&tok, "byte", NULL, &e) == 0);
    gpt_t m;
    if (make_model(&m, GPT_LLAMA, 4096, 32, 21, 0.3f) != 0) return;
    int32_t p[2] = {tok_special(tok, TOK_EOT), 'a'};
    const int32_t *pp = p;
    int len = 2;
    gen_t *g = gen_new(&m, tok, 1, &e);
    gen_config_t c = greedy(20);
    c.sample.temperature = 1, c.sample.top_k = 0, c.sample.top_p = 1, c.sample.min_p = 0;
    gen_output_t out;
    rng_t r;
    rng_seed(&r, 2);
    CHECK(gen_run(g, &c, &pp, &len, 1, 1, &r, NULL, NULL, &out, &e) == 0 && out.n == 20);
    size_t bytes = 0;
    for (int i = 0; i < out.n; i++) {
        size_t nb;
        if (tok_token_bytes(tok, out.tokens[i], &nb)) bytes += nb;
    }
    CHECK(out.len == bytes);
    gen_output_free(&out, 1);
    gen_free(g);
    gpt_free(&m);
    tok_free(tok);
}
