// err: how library code reports failure.
//
// Every fallible library function returns 0 on success and -1 on failure, and on failure
// fills the caller's err_t with one human-readable sentence that names the file, line,
// field or flag at fault and what to do next.  Library code never exits; only main() does.
//
//     err_t e = {0};
//     if (shard_open(&s, path, &e) != 0) { fprintf(stderr, "manabi: %s\n", e.msg); return 1; }
#ifndef MANABI_CORE_ERR_H
#define MANABI_CORE_ERR_H

typedef struct err {
    char msg[1024];
} err_t;

// Formats the message into e (if e is not NULL) and returns -1, so `return err_set(e, ...)`.
int err_set(err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Prefixes the message already in e with more context ("loading ckpt.safetensors: ...").
int err_wrap(err_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
