// The subcommands of the manabi binary.  Each is thin: parse flags, call the library, report.
// Each returns the process exit status: 0 success, 1 failure, 2 bad usage.
#ifndef MANABI_CLI_CLI_H
#define MANABI_CLI_CLI_H

#include <signal.h>
#include <stdio.h>

#include "core/args.h"
#include "infer/generate.h"
#include "model/gpt.h"
#include "tokenizer/tokenizer.h"
#include "train/checkpoint.h"

int cmd_pretrain(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_sft(int argc, char **argv);
int cmd_lora(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_dpo(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_rl(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_winrate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_loss(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_tokenizer(int argc, char **argv);

// Set by SIGINT/SIGTERM once cli_catch_signals() ran.
extern volatile sig_atomic_t cli_stop;
void cli_catch_signals(void);

// Parses flags for `manabi <cmd>`; on error prints the message and the usage and returns 2,
// on --help prints the usage and returns 0, otherwise returns -1 (carry on).
int cli_parse(const char *cmd, const char *synopsis, arg_opt_t *opts, int argc, char **argv, char **pos,
              int max_pos, int *npos);
// Prints "manabi: <msg>" to stderr and returns 1.
int cli_fail(const char *msg);

// Loads a checkpoint (memory-mapped unless CLI_WRITABLE) and its tokenizer (the one it
// records, or `tokenizer`), refusing a pair that does not belong together; then the LoRA
// adapter at `adapter` (NULL: none) into m->lora, refused on another base; CLI_BF16 converts
// the weights (gpt_to_bf16).  On failure nothing is left to free; else cli_free_model.
enum { CLI_BF16 = 1, CLI_WRITABLE = 2 };
int cli_load_model(const char *ckpt, const char *tokenizer, const char *adapter, unsigned flags, gpt_t *m,
                   tok_t **tok, err_t *e);
void cli_free_model(gpt_t *m, tok_t *tok);
// The model a preference stage starts from: ckpt in memory with the fine-tuning adapter
// sft_lora (may be NULL) merged into it.
int cli_load_start(const char *ckpt, const char *tokenizer, const char *sft_lora, gpt_t *m, tok_t **tok, err_t *e);
// The metadata of a checkpoint derived from base: the tokenizer base records (or `tokenizer`)
// and tok's hash.
int cli_checkpoint_meta(const char *base, const char *tokenizer, const tok_t *tok, ckpt_meta_t *meta, err_t *e);
// Loads preference pairs and prints their counts; an error when none is usable.
struct pref_data;
int cli_load_pairs(struct pref_data *d, const tok_t *tok, const char *path, int max_len, int strict, err_t *e);
// The sampler's flags (infer/sample.h) for the arg_opt_t table of a command that generates.
#define CLI_SAMPLE_OPTS(sc)                                                                                        \
    {"temperature", ARG_FLOAT, &(sc)->temperature, "sampling temperature (0: greedy)"},                            \
        {"top-k", ARG_INT, &(sc)->top_k, "keep the k most likely tokens (0: all)"},                                \
        {"top-p", ARG_FLOAT, &(sc)->top_p, "keep the most likely tokens up to this probability, in (0, 1]"},       \
        {"min-p", ARG_FLOAT, &(sc)->min_p, "drop tokens below this fraction of the most likely one's probability"}, \
        {"repeat-penalty", ARG_FLOAT, &(sc)->repeat_penalty, "divide the logits of recent tokens by this (1: off)"}, \
        {"frequency-penalty", ARG_FLOAT, &(sc)->frequency_penalty, "subtract this per occurrence in the window"},  \
        {"presence-penalty", ARG_FLOAT, &(sc)->presence_penalty, "subtract this once a token is in the window"},   \
        {"repeat-last-n", ARG_INT, &(sc)->repeat_last_n, "tokens the penalties look back over"}

// The LoRA flags of the training commands: rank, alpha and targets (parsed by the command with
// lora_targets_parse once the model's family is known).
#define CLI_LORA_OPTS(cfg, targets)                                                                 \
    {"rank", ARG_INT, &(cfg)->rank, "LoRA rank"}, {"alpha", ARG_FLOAT, &(cfg)->alpha, "LoRA alpha (adapters scaled by alpha / rank)"}, \
        {"targets", ARG_STR, &(targets), "LoRA targets: q,k,v,o,gate,up,down (Llama), c_attn,c_proj,c_fc (GPT-2), or all"}

// One line: prefill and decode tokens/s, the weights' precision and residence, memory.
void cli_print_stats(FILE *f, const gpt_t *m, const gen_stats_t *s);

#endif
