#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretok.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

// tiktoken's patterns (tiktoken_ext/openai_public.py), with one change: where they say \s,
// Rust's regex means the Unicode White_Space property, which PCRE2's \s does not match
// exactly (it misses U+0085 and, from its horizontal-space list, takes U+180E).  So the
// White_Space set is spelled out as WS.
#define WS "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
static const char gpt2_pattern[] =
    "'(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])|[" WS "]+";
static const char cl100k_pattern[] =
    "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}+|\\p{N}{1,3}| ?[^" WS "\\p{L}\\p{N}]++[\\r\\n]*|"
    "[" WS "]*[\\r\\n]|[" WS "]+(?![^" WS "])|[" WS "]+";
static const char o200k_pattern[] =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "\\p{N}{1,3}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n/]*|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+";
#undef WS

struct pretok {
    char *regex;
    pcre2_code *code;  // read-only once compiled: one pretok_t serves every thread
};

const char *pretok_builtin(const char *name) {
    if (strcmp(name, "gpt2") == 0) return gpt2_pattern;
    if (strcmp(name, "cl100k") == 0 || strcmp(name, "cl100k_base") == 0) return cl100k_pattern;
    if (strcmp(name, "o200k") == 0 || strcmp(name, "o200k_base") == 0) return o200k_pattern;
    return NULL;
}

int pretok_new(pretok_t **out, const char *pattern, err_t *e) {
    *out = NULL;
    const char *rx = pretok_builtin(pattern) ? pretok_builtin(pattern) : pattern;
    pretok_t *p = calloc(1, sizeof *p);
    if (!p || !(p->regex = strdup(rx))) {
        free(p);
        return err_set(e, "out of memory");
    }
    int code;
    PCRE2_SIZE off;
    p->code = pcre2_compile((PCRE2_SPTR)rx, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF,
                            &code, &off, NULL);
    if (!p->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        err_set(e, "split pattern: %s at offset %zu of '%s'", (char *)msg, (size_t)off, rx);
        pretok_free(p);
        return -1;
    }
    pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
    *out = p;
    return 0;
}

void pretok_free(pretok_t *p) {
    if (!p) return;
    pcre2_code_free(p->code);
    free(p->regex);
    free(p);
}

const char *pretok_regex(const pretok_t *p) { return p->regex; }

int pretok_split(const pretok_t *p, const char *text, size_t len, pretok_cb cb, void *ctx, err_t *e) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->code, NULL);
    if (!md) return err_set(e, "out of memory");
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t pos = 0;
    int rc = 0;
    while (pos < len) {
        int m = pcre2_match(p->code, (PCRE2_SPTR)text, len, pos, 0, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) {  // the rest matches nothing: one last piece
            cb(text, pos, len, ctx);
            break;
        }
        if (m < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(m, msg, sizeof msg);
            rc = err_set(e, "splitting text at byte %zu: %s", pos, (char *)msg);
            break;
        }
        size_t s = ov[0], t = ov[1];
        if (s > pos && cb(text, pos, s, ctx)) break;  // text no alternative matches (invalid UTF-8)
        if (t == s) t = s + 1;  // an empty match: take one byte so that the loop advances
        if (cb(text, s, t, ctx)) break;
        pos = t;
    }
    pcre2_match_data_free(md);
    return rc;
}
