// manabi chat: a conversation with a model over the chat template (tokenizer/chat.h).
//
// Interactive when standard input is a terminal (or with --interactive): each line is a user
// turn, answers stream; /reset, /save FILE, /system TEXT, /quit.  Otherwise (a pipe, a file,
// --once) all of standard input is one user message and the answer is printed once, for
// scripts.
//
// The conversation is kept in the KV cache between turns (the generator reuses the common
// prefix), so a turn costs its own tokens only.  When the history no longer fits the context
// with room for an answer, the oldest turns are dropped (the system prompt stays).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/io.h"
#include "infer/utf8out.h"
#include "tokenizer/chat.h"

typedef struct session {
    const gpt_t *m;
    const tok_t *tok;
    gen_t *g;
    gen_config_t gc;
    rng_t rng;
    chat_t chat;
    int n_system;   // leading messages that /reset keeps (0 or 1)
    int32_t *ids;   // the encoded conversation
    size_t n_ids, cap_ids;
} session_t;

static void write_stdout(const char *s, size_t n, void *ctx) {
    (void)ctx;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
}

static int stream(int seq, const char *text, size_t len, void *ctx) {
    (void)seq;
    utf8out_push(ctx, text, len);
    return cli_stop != 0;  // Ctrl-C ends this answer
}

// Encodes the conversation with the assistant's opening, dropping the oldest turns after the
// system prompt until it leaves room for max_new tokens.  -1 when even the last message alone
// does not fit.
static int encode_fitting(session_t *s, err_t *e) {
    int T = s->m->cfg.context, room = s->gc.max_new < T / 2 ? s->gc.max_new : T / 2;
    for (;;) {
        s->n_ids = 0;
        if (chat_encode(s->tok, &s->chat, 1, &s->ids, NULL, &s->n_ids, &s->cap_ids, e) != 0) return -1;
        if ((int)s->n_ids + room <= T) return 0;
        if (s->chat.n - s->n_system <= 1)
            return err_set(e, "the message is %zu tokens, too long for the context of %d with room for an answer: "
                              "shorten it", s->n_ids, T);
        // drop the oldest message after the system prompt
        chat_msg_t drop = s->chat.msgs[s->n_system];
        free(drop.content);
        memmove(&s->chat.msgs[s->n_system], &s->chat.msgs[s->n_system + 1],
                (size_t)(s->chat.n - s->n_system - 1) * sizeof drop);
        s->chat.n--;
    }
}

// One user turn: prints the answer as it comes and adds it to the conversation.
static int turn(session_t *s, const char *text, size_t len, err_t *e) {
    if (chat_add(&s->chat, CHAT_USER, text, len, e) != 0) return -1;
    if (encode_fitting(s, e) != 0) {
        chat_truncate(&s->chat, s->chat.n - 1);
        return -1;
    }
    utf8out_t u;
    utf8out_init(&u, write_stdout, NULL);
    gen_output_t out;
    const int32_t *p = s->ids;
    int n = (int)s->n_ids;
    cli_stop = 0;
    if (gen_run(s->g, &s->gc, &p, &n, 1, 1, &s->rng, stream, &u, &out, e) != 0) {
        chat_truncate(&s->chat, s->chat.n - 1);
        return -1;
    }
    utf8out_flush(&u);
    putchar('\n');
    cli_stop = 0;
    int rc = chat_add(&s->chat, CHAT_ASSISTANT, out.text, out.len, e);
    gen_output_free(&out, 1);
    return rc;
}

static void help(void) {
    printf("commands: /reset (forget the conversation, keep the system prompt), /save FILE (write it as JSON),\n"
           "          /system TEXT (set the system prompt and reset), /quit (or Ctrl-D); Ctrl-C stops an answer\n");
}

// Runs a command line ("/..."); returns 1 to quit.
static int command(session_t *s, char *line) {
    err_t e = {0};
    char *arg = strchr(line, ' ');
    if (arg) *arg++ = 0;
    if (strcmp(line, "/quit") == 0 || strcmp(line, "/exit") == 0) return 1;
    if (strcmp(line, "/reset") == 0) {
        chat_truncate(&s->chat, s->n_system);
        printf("(conversation reset)\n");
    } else if (strcmp(line, "/save") == 0) {
        if (!arg || !*arg) printf("usage: /save FILE\n");
        else if (chat_save(&s->chat, arg, &e) != 0) printf("error: %s\n", e.msg);
        else printf("(saved %d messages to %s)\n", s->chat.n, arg);
    } else if (strcmp(line, "/system") == 0) {
        chat_truncate(&s->chat, 0);
        s->n_system = 0;
        if (arg && *arg) {
            if (chat_add(&s->chat, CHAT_SYSTEM, arg, strlen(arg), &e) != 0) printf("error: %s\n", e.msg);
            else s->n_system = 1;
        }
        printf("(system prompt %s; conversation reset)\n", s->n_system ? "set" : "removed");
    } else {
        help();
    }
    return 0;
}

static int interactive(session_t *s) {
    printf("manabi chat, context %d tokens. Type a message; /help for commands.\n", s->m->cfg.context);
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        printf("> ");
        fflush(stdout);
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0) {  // Ctrl-D
            putchar('\n');
            break;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) continue;
        if (line[0] == '/') {
            if (command(s, line)) break;
            continue;
        }
        err_t e = {0};
        if (turn(s, line, (size_t)n, &e) != 0) printf("error: %s\n", e.msg);
    }
    free(line);
    return 0;
}

int cmd_chat(int argc, char **argv) {
    const char *ckpt = NULL, *system = NULL, *tokenizer = NULL, *adapter = NULL;
    int seed = 42, bf16 = 0, stats = 0, once = 0, repl = 0;
    session_t s = {0};
    gen_config_default(&s.gc);
    sample_config_t *sc = &s.gc.sample;
    arg_opt_t opts[] = {
        {"ckpt", ARG_STR, &ckpt, "checkpoint (.safetensors) trained with the chat tokens"},
        {"system", ARG_STR, &system, "system prompt"},
        {"once", ARG_BOOL, &once, "answer standard input as one message and exit (the default when it is not a terminal)"},
        {"interactive", ARG_BOOL, &repl, "read turns and commands line by line even when standard input is not a terminal"},
        {"max-tokens", ARG_INT, &s.gc.max_new, "most tokens per answer"},
        CLI_SAMPLE_OPTS(sc),
        {"seed", ARG_INT, &seed, "random seed"},
        {"bf16", ARG_BOOL, &bf16, "run with the weights rounded to bfloat16"},
        {"stats", ARG_BOOL, &stats, "print tokens/s and memory to stderr at the end"},
        {"lora", ARG_STR, &adapter, "a LoRA adapter (adapter.safetensors from manabi sft) on the checkpoint, unmerged"},
        {"tokenizer", ARG_STR, &tokenizer, "tokenizer (default: the one the checkpoint records)"},
        {0},
    };
    char *pos[1];
    int npos, rc = cli_parse("chat", "--ckpt CKPT [--system TEXT] [--once | --interactive] [options]", opts, argc, argv,
                             pos, 0, &npos);
    if (rc >= 0) return rc;
    if (!ckpt) return cli_fail("chat: --ckpt is required");
    err_t ce = {0};
    if (sample_config_check(sc, &ce) != 0) {
        fprintf(stderr, "manabi: --%s\n", ce.msg);
        return 2;
    }
    if (s.gc.max_new < 1) return cli_fail("--max-tokens must be >= 1");
    if (once && repl) return cli_fail("chat: give --once or --interactive, not both");
    err_t e = {0};
    gpt_t m;
    tok_t *tok = NULL;
    char *input = NULL;
    rc = 1;
    if (cli_load_model(ckpt, tokenizer, adapter, bf16 ? CLI_BF16 : 0, &m, &tok, &e) != 0) return cli_fail(e.msg);
    s.m = &m, s.tok = tok;
    chat_init(&s.chat);
    if (chat_check_tokenizer(tok, &e) != 0) goto done;
    if (!(s.g = gen_new(&m, tok, 1, &e))) goto done;
    // An answer ends at its end-of-turn token, or where the model starts another turn.
    int32_t stops[] = {tok_special(tok, TOK_END), tok_special(tok, TOK_EOT), tok_special(tok, TOK_USER),
                       tok_special(tok, TOK_SYSTEM), tok_special(tok, TOK_ASSISTANT)};
    s.gc.stop_tokens = stops, s.gc.n_stop_tokens = 5;
    rng_seed(&s.rng, (uint64_t)seed);
    if (system && *system) {
        if (chat_add(&s.chat, CHAT_SYSTEM, system, strlen(system), &e) != 0) goto done;
        s.n_system = 1;
    }
    cli_catch_signals();
    if (once || (!repl && !isatty(STDIN_FILENO))) {
        size_t len;
        if (io_read_file("-", &input, &len, &e) != 0) goto done;
        while (len > 0 && (input[len - 1] == '\n' || input[len - 1] == '\r')) input[--len] = 0;
        if (len == 0) {
            err_set(&e, "chat: standard input is empty: give the message to answer");
            goto done;
        }
        if (turn(&s, input, len, &e) != 0) goto done;
    } else {
        interactive(&s);
    }
    if (stats) cli_print_stats(stderr, &m, gen_stats(s.g));
    rc = 0;
done:
    if (rc) cli_fail(e.msg);
    free(input);
    free(s.ids);
    chat_free(&s.chat);
    gen_free(s.g);
    cli_free_model(&m, tok);
    return rc;
}
