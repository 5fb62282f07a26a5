// chat: conversations and the chat template that turns them into token ids and back.
//
//     chat_t c;
//     chat_init(&c);
//     chat_add(&c, CHAT_SYSTEM, "Be brief.", 9, &e);
//     chat_add(&c, CHAT_USER, "Hi!", 3, &e);
//     int32_t *ids = NULL;
//     size_t n = 0, cap = 0;
//     if (chat_check_tokenizer(t, &e) != 0 || chat_encode(t, &c, 1, &ids, NULL, &n, &cap, &e) != 0) ...
//     ... generate from ids[0..n) until <|end|> ...
//     chat_add(&c, CHAT_ASSISTANT, answer, answer_len, &e);
//     chat_truncate(&c, 1);                                      // start over, keep the system prompt
//     free(ids);
//     chat_free(&c);
//
// The template, with no other text between the tokens (no newlines):
//
//     <|endoftext|>  then per message  <|role|> content <|end|>  [then <|assistant|>]
//
// <|role|> is <|system|>, <|user|> or <|assistant|>; the final <|assistant|> is the generation
// prompt, after which the model writes the answer and closes it with <|end|>.  Content is
// encoded as plain text (tok_encode without specials), so a message that contains the string
// "<|user|>" stays text and cannot forge a turn.  The "byte" tokenizer and manabi-trained ones
// have these five tokens; OpenAI's rank files (gpt2, cl100k, o200k) have only <|endoftext|>.
//
// On disk a conversation is JSON as TRL and OpenAI's fine-tuning files have it:
//     {"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."}, ...]}
#ifndef MANABI_TOKENIZER_CHAT_H
#define MANABI_TOKENIZER_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "tokenizer/tokenizer.h"

typedef enum { CHAT_SYSTEM = 0, CHAT_USER, CHAT_ASSISTANT, CHAT_NROLES } chat_role_t;

typedef struct chat_msg {
    chat_role_t role;
    char *content;  // len bytes, then a NUL (content may itself hold NULs); owned by the chat
    size_t len;
} chat_msg_t;

// A conversation: msgs[0..n) in order.  It owns its messages' strings.  A zeroed struct is an
// empty conversation, like one after chat_init.
typedef struct chat {
    chat_msg_t *msgs;
    int n, cap;
} chat_t;

void chat_init(chat_t *c);
// Frees every message and leaves c empty (as after chat_init); safe on a zeroed chat and twice.
void chat_free(chat_t *c);
// Appends a message with a copy of text[0..len) (text may be NULL when len is 0).  -1 with e
// when out of memory or role is not a role; c is then unchanged.
int chat_add(chat_t *c, chat_role_t role, const char *text, size_t len, err_t *e);
// Keeps the first n messages and frees the rest (nothing happens when c has n or fewer).
void chat_truncate(chat_t *c, int n);

// "system", "user", "assistant"; "?" for anything else.
const char *chat_role_name(chat_role_t r);
// The role named s.  The error names s and lists the valid roles:
// "'bot' is not a role (system, user, assistant)".
int chat_role_parse(const char *s, chat_role_t *out, err_t *e);

// 0 when t has every token of the template (<|endoftext|>, <|system|>, <|user|>,
// <|assistant|>, <|end|>); else -1 with e naming the missing ones and what to use instead.
int chat_check_tokenizer(const tok_t *t, err_t *e);

// Appends the template's ids for c to *ids, a growing malloc'ed array of capacity *cap holding
// *n ids (as tok_encode).  With add_generation_prompt, a final <|assistant|> follows.
// With mask != NULL, *mask grows beside *ids (same *n and *cap: start both NULL with
// *n = *cap = 0 and grow them only through chat_encode) and gets one byte per id: 1 for the
// tokens a supervised fine-tuning loss trains on (the content of assistant messages and the
// <|end|> that closes them), 0 for everything else, the generation prompt included.
// On failure (the tokenizer lacks a chat token, out of memory) -1 with e and *n as on entry;
// the arrays stay valid for free.
int chat_encode(const tok_t *t, const chat_t *c, int add_generation_prompt, int32_t **ids, uint8_t **mask,
                size_t *n, size_t *cap, err_t *e);

// The inverse of chat_encode: parses ids[0..n) and appends their messages to out (initialized
// or zeroed).  The leading <|endoftext|> may be missing, and the last message may be an
// assistant turn without its <|end|> (a generation prompt, or an answer cut off by a length
// limit); then *open_turn (when not NULL) is set to 1, else to 0.  A message's content is the
// bytes of its tokens.  Anything else breaks the template and gives -1 with e naming the
// position ("token 7: ...") and what was expected there; out is then as on entry.
// For every conversation c: chat_decode(chat_encode(c)) gives c back.
int chat_decode(const tok_t *t, const int32_t *ids, size_t n, chat_t *out, int *open_turn, err_t *e);

// c as one line of JSON, {"messages": [{"role": ..., "content": ...}, ...]}, without a newline.
// malloc'ed, the caller frees; NULL when out of memory (or a message is over json-c's 2 GiB).
char *chat_to_json(const chat_t *c);
// Parses json[0..len) (one JSON value, whitespace around it allowed) and appends its messages
// to c (initialized or zeroed).  It must be an object with a "messages" array whose elements
// are objects with a "role" string naming a role and a "content" string (empty content is
// accepted; other keys are ignored).  -1 with e naming the element and field at fault
// ("messages[2].role: 'bot' is not a role (system, user, assistant)"); c is then as on entry.
int chat_from_json(chat_t *c, const char *json, size_t len, err_t *e);
// A JSON value's type as error messages name it: "null", "a number", "an array", ... (json-c).
struct json_object;
const char *chat_json_kind(const struct json_object *o);
// Writes chat_to_json(c) and a newline to path, atomically (core/io.h).
int chat_save(const chat_t *c, const char *path, err_t *e);

#endif
