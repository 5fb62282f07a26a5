// utf8: decoding one code point, for the text scanners of the data pipeline.
#ifndef MANABI_CORE_UTF8_H
#define MANABI_CORE_UTF8_H

#include <stddef.h>
#include <stdint.h>

// Decodes the code point at s[*i] (*i < len) and advances *i.  A malformed, overlong,
// surrogate or truncated sequence is U+FFFD and consumes one byte, so every byte is visited
// and the scan never stops early.
static inline uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i) {
    uint32_t b = s[*i];
    if (b < 0x80) {
        (*i)++;
        return b;
    }
    int n = b >= 0xF0 && b < 0xF5 ? 3 : b >= 0xE0 && b < 0xF0 ? 2 : b >= 0xC2 && b < 0xE0 ? 1 : -1;
    if (n < 0 || *i + (size_t)n >= len) {
        (*i)++;
        return 0xFFFD;
    }
    uint32_t cp = b & (0x3F >> n);
    for (int k = 1; k <= n; k++) {
        uint32_t cb = s[*i + k];
        if ((cb & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = cp << 6 | (cb & 0x3F);
    }
    static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return 0xFFFD;
    }
    *i += (size_t)n + 1;
    return cp;
}

#endif
