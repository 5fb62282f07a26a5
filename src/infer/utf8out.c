#include "infer/utf8out.h"

static const char replacement[] = "\xEF\xBF\xBD";  // U+FFFD

void utf8out_init(utf8out_t *u, utf8out_write_fn write, void *ctx) {
    u->have = u->need = 0;
    u->write = write;
    u->ctx = ctx;
}

// Length of the sequence a lead byte starts, or 0 if it cannot start one.
static int seq_len(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

// Whether c may be the second byte after lead (RFC 3629 table: no overlongs, surrogates or
// code points above U+10FFFF).
static int second_ok(unsigned char lead, unsigned char c) {
    if (lead == 0xE0) return c >= 0xA0 && c <= 0xBF;
    if (lead == 0xED) return c >= 0x80 && c <= 0x9F;
    if (lead == 0xF0) return c >= 0x90 && c <= 0xBF;
    if (lead == 0xF4) return c >= 0x80 && c <= 0x8F;
    return c >= 0x80 && c <= 0xBF;
}

void utf8out_push(utf8out_t *u, const char *bytes, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)bytes[i];
        if (u->have > 0) {
            int ok = u->have == 1 ? second_ok(u->buf[0], c) : (c >= 0x80 && c <= 0xBF);
            if (ok) {
                u->buf[u->have++] = c;
                if (u->have == u->need) {
                    u->write((const char *)u->buf, (size_t)u->have, u->ctx);
                    u->have = 0;
                }
                continue;
            }
            u->write(replacement, 3, u->ctx);  // the unfinished sequence; c starts afresh
            u->have = 0;
        }
        int len = seq_len(c);
        if (len == 1) u->write((const char *)&bytes[i], 1, u->ctx);
        else if (len == 0) u->write(replacement, 3, u->ctx);
        else {
            u->buf[0] = c;
            u->have = 1;
            u->need = len;
        }
    }
}

void utf8out_flush(utf8out_t *u) {
    if (u->have > 0) u->write(replacement, 3, u->ctx);
    u->have = 0;
}
