#include "data/shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io.h"

enum { HEADER_INTS = 256, HEADER_BYTES = HEADER_INTS * 4 };

int shard_open(shard_t *s, const char *path, err_t *e) {
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_set(e, "cannot open shard %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, "shard %s is not a regular file", path);
    }
    if (st.st_size < HEADER_BYTES) {
        close(fd);
        return err_set(e, "shard %s is truncated: %lld bytes, shorter than its 1024-byte header", path,
                       (long long)st.st_size);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return err_set(e, "cannot map shard %s: %s", path, strerror(errno));
    s->map = map;
    s->map_size = (size_t)st.st_size;
    const int32_t *h = map;
    if (h[0] != SHARD_MAGIC) {
        int magic = h[0];  // read before shard_close unmaps h
        shard_close(s);
        return err_set(e, "%s is not a token shard (magic %d, expected %d)", path, magic, SHARD_MAGIC);
    }
    if (h[1] != 1 && h[1] != 2) {
        int v = h[1];
        shard_close(s);
        return err_set(e, "shard %s has version %d; this manabi reads versions 1 and 2", path, v);
    }
    s->width = h[1] == 1 ? 2 : 4;
    s->n = (uint32_t)h[2];
    uint64_t expect = HEADER_BYTES + (uint64_t)s->n * s->width;
    if ((uint64_t)st.st_size != expect) {
        long long n = (long long)s->n;  // shard_close zeroes s
        shard_close(s);
        return err_set(e, "shard %s is %s: header says %lld tokens (%llu bytes) but the file has %lld bytes", path,
                       (uint64_t)st.st_size < expect ? "truncated" : "corrupt", n, (unsigned long long)expect,
                       (long long)st.st_size);
    }
    s->tokens = (const char *)map + HEADER_BYTES;
    s->vocab_size = 0;
    s->eot = -1;
    if (h[3] == SHARD_EXT) {
        s->has_meta = 1;
        s->vocab_size = h[4];
        s->eot = h[5];
        s->tok_hash = (uint64_t)(uint32_t)h[6] | (uint64_t)(uint32_t)h[7] << 32;
        uint64_t sum = (uint64_t)(uint32_t)h[8] | (uint64_t)(uint32_t)h[9] << 32;
        if (io_fnv1a(IO_FNV_INIT, s->tokens, (size_t)s->n * s->width) != sum) {
            shard_close(s);
            return err_set(e, "shard %s is corrupt: its checksum does not match its tokens; rebuild it", path);
        }
    }
    return 0;
}

void shard_close(shard_t *s) {
    if (s && s->map) munmap(s->map, s->map_size);
    if (s) memset(s, 0, sizeof *s);
}

int shard_write(const char *path, const int32_t *tokens, int64_t n, int vocab_size, int eot, uint64_t tok_hash,
                err_t *e) {
    if (n < 0 || n > INT32_MAX) return err_set(e, "%s: %lld tokens do not fit one shard (max %d)", path, (long long)n, INT32_MAX);
    int version = vocab_size <= 65536 ? 1 : 2, width = version == 1 ? 2 : 4;
    void *buf = malloc((size_t)n * width + 1);
    if (!buf) return err_set(e, "%s: out of memory", path);
    for (int64_t i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= vocab_size) {
            free(buf);
            return err_set(e, "%s: token %d at position %lld is outside the vocabulary of %d", path, tokens[i],
                           (long long)i, vocab_size);
        }
        if (width == 2) ((uint16_t *)buf)[i] = (uint16_t)tokens[i];
        else ((uint32_t *)buf)[i] = (uint32_t)tokens[i];
    }
    int32_t h[HEADER_INTS] = {0};
    uint64_t sum = io_fnv1a(IO_FNV_INIT, buf, (size_t)n * width);
    h[0] = SHARD_MAGIC;
    h[1] = version;
    h[2] = (int32_t)n;
    h[3] = SHARD_EXT;
    h[4] = vocab_size;
    h[5] = eot;
    h[6] = (int32_t)(uint32_t)tok_hash;
    h[7] = (int32_t)(uint32_t)(tok_hash >> 32);
    h[8] = (int32_t)(uint32_t)sum;
    h[9] = (int32_t)(uint32_t)(sum >> 32);
    io_atomic_t a;
    int rc = -1;
    if (io_atomic_open(&a, path, e) == 0 && io_atomic_write(&a, h, sizeof h, e) == 0 &&
        io_atomic_write(&a, buf, (size_t)n * width, e) == 0)
        rc = io_atomic_commit(&a, e);
    else
        io_atomic_abort(&a);
    free(buf);
    return rc;
}
