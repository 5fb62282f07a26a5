// The shared flag parser.
#include <string.h>

#include "core/args.h"
#include "test.h"

TEST(args_flags_positionals_and_errors) {
    const char *t = NULL;
    int n = 1, on = 1;
    float x = 0;
    arg_opt_t opts[] = {{"t", ARG_STR, &t, "tokenizer"}, {"steps", ARG_INT, &n, "steps"},
                        {"lr", ARG_FLOAT, &x, "lr"},     {"tie", ARG_BOOL, &on, "tie"}, {0}};
    char *argv[] = {"-t", "byte", "--steps=7", "file.txt", "--lr", "0.5", "--no-tie", "-"};
    char *pos[4];
    int npos;
    err_t e = {0};
    CHECK(args_parse(opts, 8, argv, pos, 4, &npos, &e) == 0);
    CHECK(t && strcmp(t, "byte") == 0 && n == 7 && x == 0.5f && on == 0);
    CHECK(npos == 2 && strcmp(pos[0], "file.txt") == 0 && strcmp(pos[1], "-") == 0);  // "-" is stdin
    char *bad1[] = {"--steps", "abc"}, *bad2[] = {"--nope"}, *bad3[] = {"--steps"}, *bad4[] = {"-q"};
    CHECK(args_parse(opts, 2, bad1, pos, 4, &npos, &e) != 0 && strstr(e.msg, "--steps"));
    CHECK(args_parse(opts, 1, bad2, pos, 4, &npos, &e) != 0 && strstr(e.msg, "--nope"));
    CHECK(args_parse(opts, 1, bad3, pos, 4, &npos, &e) != 0 && strstr(e.msg, "needs a value"));
    CHECK(args_parse(opts, 1, bad4, pos, 0, &npos, &e) != 0 && strstr(e.msg, "-q"));  // no flag "q"
}

// A repeatable flag collects its values in order, up to ARG_STRS_MAX.
TEST(args_repeated_strings) {
    arg_strs_t stops = {0};
    arg_opt_t opts[] = {{"stop", ARG_STRS, &stops, "stop"}, {0}};
    char *argv[] = {"--stop", "a", "--stop=\n\n", "--stop", ""};
    char *pos[1];
    int npos;
    err_t e = {0};
    CHECK(args_parse(opts, 5, argv, pos, 0, &npos, &e) == 0);
    CHECK(stops.n == 3 && !strcmp(stops.v[0], "a") && !strcmp(stops.v[1], "\n\n") && !strcmp(stops.v[2], ""));
    char *many[2 * (ARG_STRS_MAX + 1)];
    for (int i = 0; i <= ARG_STRS_MAX; i++) many[2 * i] = "--stop", many[2 * i + 1] = "x";
    stops.n = 0;
    CHECK(args_parse(opts, 2 * (ARG_STRS_MAX + 1), many, pos, 0, &npos, &e) != 0 && strstr(e.msg, "at most 16"));
}
