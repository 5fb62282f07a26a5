#include "tokenizer/chat.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"

static const char *const role_names[CHAT_NROLES] = {"system", "user", "assistant"};
// The special token that opens a message of each role.
static const tok_special_t role_token[CHAT_NROLES] = {TOK_SYSTEM, TOK_USER, TOK_ASSISTANT};

void chat_init(chat_t *c) { memset(c, 0, sizeof *c); }

void chat_free(chat_t *c) {
    if (!c) return;
    chat_truncate(c, 0);
    free(c->msgs);
    chat_init(c);
}

int chat_add(chat_t *c, chat_role_t role, const char *text, size_t len, err_t *e) {
    if ((int)role < 0 || role >= CHAT_NROLES) return err_set(e, "chat role %d is not a role", (int)role);
    if (len == SIZE_MAX) return err_set(e, "out of memory");
    if (c->n == c->cap) {
        if (c->cap > INT_MAX / 2) return err_set(e, "too many messages (%d)", c->n);
        int nc = c->cap ? 2 * c->cap : 8;
        chat_msg_t *m = realloc(c->msgs, sizeof *m * (size_t)nc);
        if (!m) return err_set(e, "out of memory");
        c->msgs = m;
        c->cap = nc;
    }
    char *s = malloc(len + 1);
    if (!s) return err_set(e, "out of memory copying a message of %zu bytes", len);
    if (len) memcpy(s, text, len);
    s[len] = 0;
    c->msgs[c->n++] = (chat_msg_t){.role = role, .content = s, .len = len};
    return 0;
}

void chat_truncate(chat_t *c, int n) {
    if (n < 0) n = 0;
    while (c->n > n) free(c->msgs[--c->n].content);
}

const char *chat_role_name(chat_role_t r) { return (int)r >= 0 && r < CHAT_NROLES ? role_names[r] : "?"; }

int chat_role_parse(const char *s, chat_role_t *out, err_t *e) {
    for (int r = 0; r < CHAT_NROLES; r++)
        if (strcmp(s, role_names[r]) == 0) {
            *out = (chat_role_t)r;
            return 0;
        }
    return err_set(e, "'%.100s' is not a role (system, user, assistant)", s);
}

static const char *const special_names[TOK_NSPECIAL] = {"<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>",
                                                         "<|end|>"};

int chat_check_tokenizer(const tok_t *t, err_t *e) {
    char missing[128] = "";
    for (int s = 0; s < TOK_NSPECIAL; s++)
        if (tok_special(t, (tok_special_t)s) < 0)
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s", missing[0] ? ", " : "",
                     special_names[s]);
    if (!missing[0]) return 0;
    return err_set(e,
                   "tokenizer %s has no %s, which the chat template needs; use a tokenizer trained by 'manabi "
                   "tokenizer train' (its special tokens include the chat roles) or 'byte'",
                   tok_name(t), missing);
}

// Makes room for need ids (and mask bytes) in both arrays; *cap grows only when both did.
static int grow(int32_t **ids, uint8_t **mask, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 256;
    while (nc < need) nc *= 2;
    int32_t *p = realloc(*ids, nc * sizeof *p);
    if (!p) return -1;
    *ids = p;
    if (mask) {
        uint8_t *q = realloc(*mask, nc);
        if (!q) return -1;
        *mask = q;
    }
    *cap = nc;
    return 0;
}

int chat_encode(const tok_t *t, const chat_t *c, int add_generation_prompt, int32_t **ids, uint8_t **mask,
                size_t *n, size_t *cap, err_t *e) {
    if (chat_check_tokenizer(t, e) != 0) return -1;
    const size_t n0 = *n;
    const int32_t end = tok_special(t, TOK_END);
    int32_t *tmp = NULL;  // one message's content ids
    size_t tn = 0, tcap = 0;
    int rc = -1;
    if (grow(ids, mask, cap, *n + 1) != 0) goto oom;
    if (mask) (*mask)[*n] = 0;
    (*ids)[(*n)++] = tok_special(t, TOK_EOT);
    for (int i = 0; i < c->n; i++) {
        const chat_msg_t *m = &c->msgs[i];
        uint8_t train = m->role == CHAT_ASSISTANT;
        tn = 0;
        if (tok_encode(t, m->content, m->len, 0, &tmp, &tn, &tcap, e) != 0) {
            err_wrap(e, "message %d (%s)", i, chat_role_name(m->role));
            goto done;
        }
        if (grow(ids, mask, cap, *n + tn + 2) != 0) goto oom;
        if (mask) {
            (*mask)[*n] = 0;
            memset(*mask + *n + 1, train, tn + 1);
        }
        (*ids)[(*n)++] = tok_special(t, role_token[m->role]);
        if (tn) memcpy(*ids + *n, tmp, tn * sizeof *tmp);
        *n += tn;
        (*ids)[(*n)++] = end;
    }
    if (add_generation_prompt) {
        if (grow(ids, mask, cap, *n + 1) != 0) goto oom;
        if (mask) (*mask)[*n] = 0;
        (*ids)[(*n)++] = tok_special(t, TOK_ASSISTANT);
    }
    rc = 0;
    goto done;
oom:
    err_set(e, "out of memory encoding a conversation of %d messages", c->n);
done:
    free(tmp);
    if (rc != 0) *n = n0;
    return rc;
}

// A token as an error message shows it: a special's string, or a text token's id and bytes
// (printable ASCII as is, the rest as \xNN, cut after 16 bytes).
static const char *describe(const tok_t *t, int32_t id, char *buf, size_t size) {
    size_t len;
    const char *b = tok_token_bytes(t, id, &len);
    if (!b) {
        snprintf(buf, size, "id %d, which is not a token of %s (%d ids)", (int)id, tok_name(t), tok_vocab_size(t));
        return buf;
    }
    if (tok_token_nbytes(t, id) == 0) {
        snprintf(buf, size, "%.*s", (int)len, b);
        return buf;
    }
    size_t k = (size_t)snprintf(buf, size, "text token %d '", (int)id);
    for (size_t i = 0; i < len && i < 16 && k + 8 < size; i++) {
        unsigned char ch = (unsigned char)b[i];
        k += (size_t)(ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'' ? snprintf(buf + k, size - k, "%c", ch)
                                                                          : snprintf(buf + k, size - k, "\\x%02x", ch));
    }
    snprintf(buf + k, size - k, "%s'", len > 16 ? "..." : "");
    return buf;
}

int chat_decode(const tok_t *t, const int32_t *ids, size_t n, chat_t *out, int *open_turn, err_t *e) {
    if (open_turn) *open_turn = 0;
    if (chat_check_tokenizer(t, e) != 0) return -1;
    const int32_t eot = tok_special(t, TOK_EOT), end = tok_special(t, TOK_END);
    const int n0 = out->n;
    char *buf = NULL, what[128];
    size_t blen = 0, bcap = 0, i = ids && n > 0 && ids[0] == eot ? 1 : 0;
    int rc = 0, open = 0;
    while (rc == 0 && i < n) {
        int role = -1;
        for (int r = 0; r < CHAT_NROLES; r++)
            if (ids[i] == tok_special(t, role_token[r])) role = r;
        if (role < 0) {
            rc = err_set(e, "token %zu: %s where a message should begin (with <|system|>, <|user|> or <|assistant|>)%s",
                         i, describe(t, ids[i], what, sizeof what),
                         ids[i] == eot ? "; <|endoftext|> may only come first" : "");
            break;
        }
        size_t start = i++;
        blen = 0;
        for (; i < n && ids[i] != end; i++) {
            size_t len;
            const char *b = tok_token_bytes(t, ids[i], &len);
            if (!b || tok_token_nbytes(t, ids[i]) == 0) {
                rc = err_set(e, "token %zu: %s inside the %s message begun at token %zu (is its <|end|> missing?)", i,
                             describe(t, ids[i], what, sizeof what), role_names[role], start);
                break;
            }
            if (blen + len > bcap) {
                size_t nc = bcap ? bcap : 256;
                while (nc < blen + len) nc *= 2;
                char *nb = realloc(buf, nc);
                if (!nb) {
                    rc = err_set(e, "out of memory decoding a conversation of %zu tokens", n);
                    break;
                }
                buf = nb;
                bcap = nc;
            }
            memcpy(buf + blen, b, len);
            blen += len;
        }
        if (rc != 0) break;
        if (i == n) {
            if (role != CHAT_ASSISTANT) {
                rc = err_set(e, "token %zu: the sequence ends inside the %s message begun at token %zu (no <|end|>; "
                                "only an assistant turn may be left open)",
                             n, role_names[role], start);
                break;
            }
            open = 1;
        } else {
            i++;  // its <|end|>
        }
        rc = chat_add(out, (chat_role_t)role, buf, blen, e);
    }
    free(buf);
    if (rc != 0) {
        chat_truncate(out, n0);
        return -1;
    }
    if (open_turn) *open_turn = open;
    return 0;
}

char *chat_to_json(const chat_t *c) {
    json_object *root = json_object_new_object(), *arr = json_object_new_array();
    char *s = NULL;
    if (!root || !arr || json_object_object_add(root, "messages", arr) != 0) {
        json_object_put(arr);
        goto done;
    }
    for (int i = 0; i < c->n; i++) {
        const chat_msg_t *m = &c->msgs[i];
        if (m->len > INT_MAX) goto done;  // json-c's strings are at most 2 GiB
        json_object *o = json_object_new_object(), *role = json_object_new_string(chat_role_name(m->role)),
                    *content = json_object_new_string_len(m->content, (int)m->len);
        int ok = o && role && content;
        if (ok) ok = json_object_object_add(o, "role", role) == 0 ? (role = NULL, 1) : 0;
        if (ok) ok = json_object_object_add(o, "content", content) == 0 ? (content = NULL, 1) : 0;
        if (ok) ok = json_object_array_add(arr, o) == 0 ? (o = NULL, 1) : 0;
        json_object_put(o);
        json_object_put(role);
        json_object_put(content);
        if (!ok) goto done;
    }
    const char *js = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (js) s = strdup(js);
done:
    json_object_put(root);
    return s;
}

static int all_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') return 0;
    return 1;
}

const char *chat_json_kind(const struct json_object *o) {
    switch (json_object_get_type(o)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_double:
    case json_type_int: return "a number";
    case json_type_object: return "an object";
    case json_type_array: return "an array";
    case json_type_string: return "a string";
    }
    return "of an unknown type";
}

// The message at index i of a "messages" array, appended to c.
static int add_json_message(chat_t *c, json_object *o, size_t i, err_t *e) {
    json_object *role, *content;
    if (!json_object_is_type(o, json_type_object))
        return err_set(e, "messages[%zu] is %s, expected an object with \"role\" and \"content\"", i,
                       chat_json_kind(o));
    if (!json_object_object_get_ex(o, "role", &role)) return err_set(e, "messages[%zu].role is missing", i);
    if (!json_object_is_type(role, json_type_string))
        return err_set(e, "messages[%zu].role is %s, expected a string (system, user, assistant)", i,
                       chat_json_kind(role));
    chat_role_t r = CHAT_USER;
    if (chat_role_parse(json_object_get_string(role), &r, e) != 0) return err_wrap(e, "messages[%zu].role", i);
    if (!json_object_object_get_ex(o, "content", &content)) return err_set(e, "messages[%zu].content is missing", i);
    if (!json_object_is_type(content, json_type_string))
        return err_set(e, "messages[%zu].content is %s, expected a string", i,
                       chat_json_kind(content));
    return chat_add(c, r, json_object_get_string(content), (size_t)json_object_get_string_len(content), e);
}

int chat_from_json(chat_t *c, const char *json, size_t len, err_t *e) {
    if (len > INT_MAX) return err_set(e, "a conversation of %zu bytes is too long for JSON (2 GiB at most)", len);
    if (all_blank(json, len)) return err_set(e, "no JSON value (the text is empty)");
    json_tokener *tk = json_tokener_new();
    if (!tk) return err_set(e, "out of memory");
    json_object *root = json_tokener_parse_ex(tk, json, (int)len), *msgs;
    enum json_tokener_error je = json_tokener_get_error(tk);
    size_t end = json_tokener_get_parse_end(tk);
    if (!root && je == json_tokener_continue) {  // a number at the very end: a NUL tells json-c it is complete
        root = json_tokener_parse_ex(tk, "", 1);
        je = json_tokener_get_error(tk);
    }
    const int n0 = c->n;
    int rc = -1;
    if (!root || je != json_tokener_success) {
        err_set(e, "not valid JSON: %s at byte %zu", json_tokener_error_desc(je), end);
        goto done;
    }
    if (!all_blank(json + end, len - end)) {
        err_set(e, "not valid JSON: text after the value at byte %zu", end);
        goto done;
    }
    if (!json_object_is_type(root, json_type_object)) {
        err_set(e, "expected a JSON object {\"messages\": [...]}, got %s", chat_json_kind(root));
        goto done;
    }
    if (!json_object_object_get_ex(root, "messages", &msgs)) {
        err_set(e, "no \"messages\" field (expected {\"messages\": [{\"role\": ..., \"content\": ...}, ...]})");
        goto done;
    }
    if (!json_object_is_type(msgs, json_type_array)) {
        err_set(e, "\"messages\" is %s, expected an array", chat_json_kind(msgs));
        goto done;
    }
    size_t nm = json_object_array_length(msgs);
    for (size_t i = 0; i < nm; i++)
        if (add_json_message(c, json_object_array_get_idx(msgs, i), i, e) != 0) {
            chat_truncate(c, n0);
            goto done;
        }
    rc = 0;
done:
    json_object_put(root);
    json_tokener_free(tk);
    return rc;
}

int chat_save(const chat_t *c, const char *path, err_t *e) {
    char *js = chat_to_json(c);
    if (!js) return err_set(e, "%s: out of memory writing the conversation as JSON", path);
    io_atomic_t a = {0};
    int rc = io_atomic_open(&a, path, e) == 0 && io_atomic_write(&a, js, strlen(js), e) == 0 &&
                     io_atomic_write(&a, "\n", 1, e) == 0 && io_atomic_commit(&a, e) == 0
                 ? 0
                 : -1;
    io_atomic_abort(&a);
    free(js);
    return rc;
}
