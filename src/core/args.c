#include "core/args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

arg_opt_t *args_find(arg_opt_t *opts, const char *name) {
    for (arg_opt_t *o = opts; o->kind != ARG_END; o++)
        if (strcmp(o->name, name) == 0) return o;
    return NULL;
}

static int set_value(arg_opt_t *o, const char *v, err_t *e) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case ARG_INT: {
        long x = strtol(v, &end, 10);
        if (*v == 0 || *end || errno || x < -2147483647L || x > 2147483647L)
            return err_set(e, "--%s: expected an integer, got '%s'", o->name, v);
        *(int *)o->dst = (int)x;
        break;
    }
    case ARG_I64: {
        long long x = strtoll(v, &end, 10);
        if (*v == 0 || *end || errno) return err_set(e, "--%s: expected an integer, got '%s'", o->name, v);
        *(int64_t *)o->dst = x;
        break;
    }
    case ARG_FLOAT: {
        float x = strtof(v, &end);
        if (*v == 0 || *end || errno || !isfinite(x))
            return err_set(e, "--%s: expected a finite number, got '%s'", o->name, v);
        *(float *)o->dst = x;
        break;
    }
    case ARG_STR: *(const char **)o->dst = v; break;
    case ARG_STRS: {
        arg_strs_t *l = o->dst;
        if (l->n == ARG_STRS_MAX) return err_set(e, "--%s: at most %d of them", o->name, ARG_STRS_MAX);
        l->v[l->n++] = v;
        break;
    }
    default: return err_set(e, "--%s: internal error: bad flag kind", o->name);
    }
    return 0;
}

int args_parse(arg_opt_t *opts, int argc, char **argv, char **pos, int max_pos, int *npos, err_t *e) {
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        char dashed[4];
        if (a[0] == '-' && a[1] && a[1] != '-' && !a[2]) {  // "-t": the one-letter flag "t", if there is one
            char letter[2] = {a[1], 0};
            if (args_find(opts, letter)) {
                snprintf(dashed, sizeof dashed, "--%c", a[1]);
                a = dashed;
            }
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
            if (*npos >= max_pos) return err_set(e, "unexpected argument '%s'", a);
            pos[(*npos)++] = argv[i];
            continue;
        }
        char name[128];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (len >= sizeof name) return err_set(e, "flag '%s' is too long", a);
        memcpy(name, a + 2, len);
        name[len] = 0;
        arg_opt_t *o = args_find(opts, name);
        if (!o && strncmp(name, "no-", 3) == 0) {
            arg_opt_t *b = args_find(opts, name + 3);
            if (b && b->kind == ARG_BOOL && !eq) {
                *(int *)b->dst = 0;
                continue;
            }
        }
        if (!o) return err_set(e, "unknown flag --%s", name);
        if (o->kind == ARG_BOOL) {
            if (eq) return err_set(e, "--%s takes no value", name);
            *(int *)o->dst = 1;
            continue;
        }
        const char *v;
        if (eq) v = eq + 1;
        else if (i + 1 < argc) v = argv[++i];
        else return err_set(e, "--%s needs a value", name);
        if (set_value(o, v, e) != 0) return -1;
    }
    return 0;
}

void args_print(FILE *f, const arg_opt_t *opts) {
    for (const arg_opt_t *o = opts; o->kind != ARG_END; o++) {
        char lhs[64], def[96] = "";
        switch (o->kind) {
        case ARG_INT: snprintf(lhs, sizeof lhs, "--%s N", o->name); snprintf(def, sizeof def, " (default %d)", *(int *)o->dst); break;
        case ARG_I64: snprintf(lhs, sizeof lhs, "--%s N", o->name); snprintf(def, sizeof def, " (default %lld)", (long long)*(int64_t *)o->dst); break;
        case ARG_FLOAT: snprintf(lhs, sizeof lhs, "--%s X", o->name); snprintf(def, sizeof def, " (default %g)", *(float *)o->dst); break;
        case ARG_STR:
            snprintf(lhs, sizeof lhs, "--%s S", o->name);
            if (*(const char **)o->dst) snprintf(def, sizeof def, " (default %s)", *(const char **)o->dst);
            break;
        case ARG_BOOL: snprintf(lhs, sizeof lhs, "--%s", o->name); break;
        case ARG_STRS: snprintf(lhs, sizeof lhs, "--%s S", o->name); snprintf(def, sizeof def, " (repeatable)"); break;
        default: break;
        }
        fprintf(f, "  %-24s %s%s\n", lhs, o->help, def);
    }
}
