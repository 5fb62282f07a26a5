// The subcommands of the manabi binary.  Each is thin: parse flags, call the library, report.
// Each returns the process exit status: 0 success, 1 failure, 2 bad usage.
#ifndef MANABI_CLI_CLI_H
#define MANABI_CLI_CLI_H

#include <signal.h>

#include "core/args.h"

int cmd_pretrain(int argc, char **argv);
int cmd_sample(int argc, char **argv);
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

#endif
