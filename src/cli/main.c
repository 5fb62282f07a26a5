// manabi: train GPT-style language models, from raw text to a chat model, in C.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/cpu.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command_t;

static const command_t commands[] = {
    {"tokenizer", cmd_tokenizer, "train a BPE tokenizer; encode, decode, inspect, export (byte, BPE, .tiktoken)"},
    {"data", cmd_data, "prepare training data: 'manabi data shards' tokenizes text into shards"},
    {"pretrain", cmd_pretrain, "pre-train a model by next-token prediction on token shards"},
    {"generate", cmd_generate, "continue prompts from a checkpoint (sampling, stops, several samples or prompts)"},
    {"chat", cmd_chat, "talk with a model over the chat template (interactive, or one answer to stdin)"},
    {"sft", cmd_sft, "fine-tune a checkpoint on examples (LoRA adapters, or every weight)"},
    {"lora", cmd_lora, "'manabi lora merge': fold an adapter into its base checkpoint"},
    {"rm", cmd_rm, "train a reward model on preference pairs (the trunk + a scalar head, Bradley-Terry loss)"},
    {"compare", cmd_compare, "a person compares two models' answers; choices go into a SQLite store ('compare export' for DPO)"},
    {"rl", cmd_rl, "reinforcement learning (GRPO) with a programmatic reward or a reward model"},
    {"winrate", cmd_winrate, "how often a reward model prefers one model's answers to another's"},
    {"dpo", cmd_dpo, "learn preferred answers from preference pairs (Direct Preference Optimization)"},
    {"eval", cmd_eval, "held-out loss and answer accuracy (exact, contained) of a checkpoint on examples"},
    {"loss", cmd_loss, "mean next-token loss and bits per byte of a checkpoint over shards"},
    {"info", cmd_info, "show a checkpoint's config, parameter count, step and loss"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

volatile sig_atomic_t cli_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    cli_stop = 1;
}

void cli_catch_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_fail(const char *msg) {
    fprintf(stderr, "manabi: %s\n", msg);
    return 1;
}

int cli_parse(const char *cmd, const char *synopsis, arg_opt_t *opts, int argc, char **argv, char **pos,
              int max_pos, int *npos) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: manabi %s %s\n\noptions:\n", cmd, synopsis);
            args_print(stdout, opts);
            return 0;
        }
    err_t e = {0};
    if (args_parse(opts, argc, argv, pos, max_pos, npos, &e) != 0) {
        fprintf(stderr, "manabi %s: %s\nusage: manabi %s %s (see 'manabi help %s')\n", cmd, e.msg, cmd, synopsis,
                cmd);
        return 2;
    }
    return -1;
}

static void usage(FILE *f) {
    fprintf(f, "manabi: train GPT-style language models in C\n\nusage: manabi <command> [options]\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-10s %s\n", "help", "this list, or 'manabi help <command>' for a command's options");
}

// When nobody chose OpenBLAS's kernels (OPENBLAS_CORETYPE unset) and it fell back to slower
// ones than this CPU supports, run again once with the right core type: OpenBLAS reads the
// variable only while it loads, before main.
static void pick_blas_kernels(char **argv) {
    const char *better = getenv("OPENBLAS_CORETYPE") ? NULL : cpu_blas_better_core();
    if (!better) return;
    setenv("OPENBLAS_CORETYPE", better, 1);
    execv("/proc/self/exe", argv);  // returns only on failure: carry on with what we have
}

int main(int argc, char **argv) {
    pick_blas_kernels(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc > 2)
            for (int i = 0; i < NCOMMANDS; i++)
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *help[] = {"--help"};
                    return commands[i].fn(1, help);
                }
        if (argc > 2) {
            fprintf(stderr, "manabi: unknown command '%s'\n", argv[2]);
            usage(stderr);
            return 2;
        }
        usage(stdout);
        return 0;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "manabi: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
