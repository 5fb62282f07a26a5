#include "core/io.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int io_atomic_open(io_atomic_t *a, const char *path, err_t *e) {
    memset(a, 0, sizeof *a);
    if (strlen(path) >= sizeof a->path) return err_set(e, "%s: path too long", path);
    snprintf(a->path, sizeof a->path, "%s", path);
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp.%d", path, (int)getpid());
    a->f = fopen(a->tmp, "wb");
    if (!a->f) return err_set(e, "cannot create %s: %s", a->tmp, strerror(errno));
    return 0;
}

int io_atomic_write(io_atomic_t *a, const void *p, size_t n, err_t *e) {
    if (n && fwrite(p, 1, n, a->f) != n) {
        err_set(e, "writing %s: %s (is the disk full?)", a->tmp, strerror(errno));
        io_atomic_abort(a);
        return -1;
    }
    return 0;
}

static void fsync_dir_of(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    int fd = open(dirname(buf), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int io_atomic_commit(io_atomic_t *a, err_t *e) {
    if (!a->f) return err_set(e, "%s: file is not open", a->path);
    int bad = fflush(a->f) != 0 || fsync(fileno(a->f)) != 0;
    int saved = errno;
    if (fclose(a->f) != 0) bad = 1;
    a->f = NULL;
    if (bad) {
        remove(a->tmp);
        return err_set(e, "writing %s: %s (is the disk full?)", a->path, strerror(saved));
    }
    if (rename(a->tmp, a->path) != 0) {
        saved = errno;
        remove(a->tmp);
        return err_set(e, "cannot rename %s to %s: %s", a->tmp, a->path, strerror(saved));
    }
    fsync_dir_of(a->path);
    return 0;
}

void io_atomic_abort(io_atomic_t *a) {
    if (a->f) {
        fclose(a->f);
        a->f = NULL;
        remove(a->tmp);
    }
}

int io_read_file(const char *path, char **out, size_t *len, err_t *e) {
    *out = NULL;
    int std = strcmp(path, "-") == 0;
    FILE *f = std ? stdin : fopen(path, "rb");
    if (!f) return err_set(e, "cannot open %s: %s", path, strerror(errno));
    if (std) path = "standard input";
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        if (!std) fclose(f);
        return err_set(e, "%s: out of memory", path);
    }
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                if (!std) fclose(f);
                return err_set(e, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    if (!std) fclose(f);
    if (bad) {
        free(buf);
        return err_set(e, "reading %s: %s", path, strerror(errno));
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return 0;
}

int io_mkdir_p(const char *path, err_t *e) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return err_set(e, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return err_set(e, "cannot create directory %s: %s", buf, strerror(errno));
            *p = c;
            if (c == 0) break;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return err_set(e, "%s exists and is not a directory", path);
    return 0;
}

int io_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

uint64_t io_fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
