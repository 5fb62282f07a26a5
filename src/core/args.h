// args: one declarative flag parser for every subcommand.
//
// A command lists its flags once, as a table; the same table parses argv, reports a bad
// flag by name, and prints the usage text.
//
//     int steps = 100; const char *out = "runs/x";
//     arg_opt_t opts[] = {
//         {"steps", ARG_INT, &steps, "number of optimizer steps"},
//         {"out", ARG_STR, &out, "run directory"},
//         {0},
//     };
//     if (args_parse(opts, argc, argv, &pos, &npos, &e) != 0) ...
//
// Flags are written `--name value` or `--name=value` (a one-letter flag also `-n value`); ARG_BOOL flags take no value
// (`--resume`), and `--no-name` sets them to 0.  Anything not starting with "--" is positional.
#ifndef MANABI_CORE_ARGS_H
#define MANABI_CORE_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

typedef enum { ARG_END = 0, ARG_INT, ARG_I64, ARG_FLOAT, ARG_STR, ARG_BOOL, ARG_STRS } arg_kind_t;

// ARG_STRS: a flag that may be given several times (`--stop a --stop b`); values in order.
enum { ARG_STRS_MAX = 16 };
typedef struct arg_strs {
    const char *v[ARG_STRS_MAX];
    int n;
} arg_strs_t;

typedef struct arg_opt {
    const char *name;  // without the leading "--"
    arg_kind_t kind;
    void *dst;         // int*, int64_t*, float*, const char**, int* (bool), arg_strs_t*
    const char *help;
} arg_opt_t;

// Parses argv[0..argc) (argv[0] is NOT skipped: pass the arguments after the subcommand).
// Positional arguments are collected in order into pos (capacity max_pos).
int args_parse(arg_opt_t *opts, int argc, char **argv, char **pos, int max_pos, int *npos, err_t *e);
// Returns the option with this name, or NULL.
arg_opt_t *args_find(arg_opt_t *opts, const char *name);
// Prints "  --name VALUE   help (default: ...)" lines.
void args_print(FILE *f, const arg_opt_t *opts);

#endif
