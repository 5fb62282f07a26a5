// io: files written atomically, whole-file reads, directories.
//
// Every file manabi writes for later use (checkpoints, shards, tokenizers) goes through
// io_atomic_*: data goes to "PATH.tmp.<pid>", is fsync'ed, then renamed over PATH and the
// directory fsync'ed.  A crash or an error leaves either the old file or the new one, never
// a half-written one.
#ifndef MANABI_CORE_IO_H
#define MANABI_CORE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

typedef struct io_atomic {
    FILE *f;
    char path[4096];
    char tmp[4096 + 32];
} io_atomic_t;

int io_atomic_open(io_atomic_t *a, const char *path, err_t *e);
int io_atomic_write(io_atomic_t *a, const void *p, size_t n, err_t *e);
// Flushes, fsyncs, renames into place.  On failure the temporary file is removed.
int io_atomic_commit(io_atomic_t *a, err_t *e);
// Closes and removes the temporary file; safe to call after commit or on a zeroed struct.
void io_atomic_abort(io_atomic_t *a);

// Reads a whole file ("-": standard input) into a malloc'ed buffer (NUL-terminated; *len
// excludes the NUL).  The caller frees *out.
int io_read_file(const char *path, char **out, size_t *len, err_t *e);
// Creates a directory and its parents (like mkdir -p).
int io_mkdir_p(const char *path, err_t *e);
int io_exists(const char *path);

// 64-bit FNV-1a, continued from h (start with IO_FNV_INIT).  Used as a content checksum.
#define IO_FNV_INIT 0xcbf29ce484222325ULL
uint64_t io_fnv1a(uint64_t h, const void *p, size_t n);

#endif
