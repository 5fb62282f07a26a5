// BPE training benchmark.
//
//   build/bench_bpe_train [--words N] [--mean-len L] [--merges M] [--min-count C] [--seed S] [FILE]
//
// Without FILE: N distinct synthetic words (letters drawn with English frequencies, length
// 1 + geometric, mean L before duplicates are removed) with Zipf counts: the word of rank r
// occurs max(1, N / r) times, so that, as in real text, about half the words occur once.
// With FILE: the file split on ASCII whitespace, each distinct piece counted.
// Times bpe_train alone and prints merges/s, the resident memory before training and the peak.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/args.h"
#include "core/io.h"
#include "core/timing.h"
#include "tokenizer/bpe_train.h"

static uint64_t next_u64(uint64_t *state) {  // splitmix64
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *state) { return (next_u64(state) >> 11) * 0x1.0p-53; }

static double rss_mib_now(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

static double rss_mib_peak(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;  // KiB on Linux
}

// A set of distinct words (pointing into a caller-owned buffer) with their counts.
typedef struct {
    bpe_word_t *w;  // open addressing; len == UINT32_MAX marks a free slot
    size_t cap, n;
} wordset_t;

static uint64_t hash_bytes(const uint8_t *p, uint32_t n) {  // FNV-1a
    uint64_t h = 0xcbf29ce484222325ULL;
    for (uint32_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static int wordset_add(wordset_t *s, const uint8_t *p, uint32_t n, uint64_t count, int *added) {
    if (4 * (s->n + 1) > 3 * s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1 << 16;
        bpe_word_t *w = malloc(cap * sizeof *w);
        if (!w) return -1;
        for (size_t i = 0; i < cap; i++) w[i].len = UINT32_MAX;
        for (size_t i = 0; i < s->cap; i++) {
            if (s->w[i].len == UINT32_MAX) continue;
            size_t j = hash_bytes(s->w[i].bytes, s->w[i].len) & (cap - 1);
            while (w[j].len != UINT32_MAX) j = (j + 1) & (cap - 1);
            w[j] = s->w[i];
        }
        free(s->w);
        s->w = w;
        s->cap = cap;
    }
    size_t j = hash_bytes(p, n) & (s->cap - 1);
    for (; s->w[j].len != UINT32_MAX; j = (j + 1) & (s->cap - 1)) {
        if (s->w[j].len == n && memcmp(s->w[j].bytes, p, n) == 0) {
            s->w[j].count += count;
            *added = 0;
            return 0;
        }
    }
    s->w[j] = (bpe_word_t){p, n, count};
    s->n++;
    *added = 1;
    return 0;
}

// Compacts the set into a plain array of its words (in slot order).
static bpe_word_t *wordset_take(wordset_t *s, size_t *n) {
    size_t k = 0;
    for (size_t i = 0; i < s->cap; i++)
        if (s->w[i].len != UINT32_MAX) s->w[k++] = s->w[i];
    *n = k;
    return s->w;
}

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

int main(int argc, char **argv) {
    int n_words = 500000, merges = 30000, min_count = 2, seed = 1;
    float mean_len = 14;
    arg_opt_t opts[] = {
        {"words", ARG_INT, &n_words, "distinct synthetic words"},
        {"mean-len", ARG_FLOAT, &mean_len, "mean synthetic word length in bytes"},
        {"merges", ARG_INT, &merges, "merges to learn"},
        {"min-count", ARG_INT, &min_count, "stop when no pair occurs this often"},
        {"seed", ARG_INT, &seed, "synthetic data seed"},
        {0},
    };
    char *pos[1];
    int npos;
    err_t e = {0};
    if (args_parse(opts, argc - 1, argv + 1, pos, 1, &npos, &e) != 0 || n_words < 1 || merges < 1 ||
        min_count < 1 || mean_len < 1) {
        fprintf(stderr, "bench_bpe_train: %s\n",
                e.msg[0] ? e.msg : "--words, --merges, --min-count and --mean-len must be >= 1");
        fprintf(stderr, "usage: bench_bpe_train [flags] [FILE]\n");
        args_print(stderr, opts);
        return 2;
    }

    wordset_t set = {0};
    uint8_t *buf = NULL;
    size_t size = 0;
    int added;
    if (npos == 1) {
        err_t re = {0};
        if (io_read_file(pos[0], (char **)&buf, &size, &re) != 0) {
            fprintf(stderr, "bench_bpe_train: %s\n", re.msg);
            return 1;
        }
        for (size_t i = 0; i < size;) {
            while (i < size && is_space(buf[i])) i++;
            size_t j = i;
            while (j < size && !is_space(buf[j])) j++;
            if (j > i && (j - i > UINT32_MAX || wordset_add(&set, buf + i, (uint32_t)(j - i), 1, &added) != 0)) {
                fprintf(stderr, "bench_bpe_train: out of memory\n");
                return 1;
            }
            i = j;
        }
        printf("input: %s, %zu bytes\n", pos[0], size);
    } else {
        // English letter frequencies (per mille), a..z
        static const int freq[26] = {82, 15, 28, 43, 127, 22, 20, 61, 70, 2,  8,  40, 24,
                                     67, 75, 19, 1,  60, 63, 91, 28, 10, 24, 2,  20, 1};
        double cdf[26], acc = 0;
        for (int i = 0; i < 26; i++) cdf[i] = (acc += freq[i]);
        uint64_t st = (uint64_t)seed;
        double p_stop = 1.0 / mean_len;  // length = 1 + geometric: mean 1 / p_stop
        size = (size_t)(n_words * (double)mean_len * 1.5) + 4096;
        buf = malloc(size);
        if (!buf) {
            fprintf(stderr, "bench_bpe_train: out of memory\n");
            return 1;
        }
        size_t used = 0;
        for (int rank = 1; set.n < (size_t)n_words;) {
            uint8_t *p = buf + used;
            uint32_t len = 0;
            do {
                if (used + len == size) break;
                double u = uniform(&st) * acc;
                int c = 0;
                while (c < 25 && u >= cdf[c]) c++;
                p[len++] = (uint8_t)('a' + c);
            } while (uniform(&st) >= p_stop);
            if (used + len == size) break;
            uint64_t count = (uint64_t)n_words / (uint64_t)rank;
            if (wordset_add(&set, p, len, count ? count : 1, &added) != 0) {
                fprintf(stderr, "bench_bpe_train: out of memory\n");
                return 1;
            }
            if (added) {
                used += len;
                rank++;
            }
        }
        printf("input: synthetic, seed %d\n", seed);
    }
    size_t n;
    bpe_word_t *words = wordset_take(&set, &n);
    uint64_t bytes = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        bytes += words[i].len;
        total += words[i].count * words[i].len;
    }
    printf("words: %zu distinct, %.2f MB of distinct word bytes, %.2f MB counted\n", n, bytes / 1e6, total / 1e6);

    bpe_merge_t *out = malloc((size_t)merges * sizeof *out);
    if (!out) {
        fprintf(stderr, "bench_bpe_train: out of memory\n");
        return 1;
    }
    double rss_before = rss_mib_now();
    int n_out;
    double t0 = timing_now();
    if (bpe_train(words, n, merges, (uint64_t)min_count, out, &n_out, &e) != 0) {
        fprintf(stderr, "bench_bpe_train: %s\n", e.msg);
        return 1;
    }
    double dt = timing_now() - t0;
    printf("bpe_train: %d merges (asked %d, min_count %d) in %.3f s, %.0f merges/s\n", n_out, merges, min_count, dt,
           n_out / dt);
    if (n_out) printf("last merge: (%d, %d) x%llu\n", out[n_out - 1].left, out[n_out - 1].right,
                      (unsigned long long)out[n_out - 1].count);
    printf("memory: %.1f MiB resident before training, %.1f MiB peak\n", rss_before, rss_mib_peak());
    free(out);
    free(words);
    free(buf);
    return 0;
}
