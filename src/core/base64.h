// base64: RFC 4648 base64 (the standard alphabet, '=' padding), as OpenAI's
// .tiktoken rank files write token bytes.
#ifndef MANABI_CORE_BASE64_H
#define MANABI_CORE_BASE64_H

#include <stddef.h>
#include <stdint.h>

// Decodes s[0..n) into out (room for 3 n / 4 bytes).  Returns the byte count, or -1 if s is
// not valid padded base64.
long base64_decode(const char *s, size_t n, uint8_t *out);
// Encodes in[0..n) into out (room for 4 ceil(n / 3) + 1 bytes, NUL-terminated); returns the length.
size_t base64_encode(const uint8_t *in, size_t n, char *out);

#endif
