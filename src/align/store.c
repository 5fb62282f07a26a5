#include "align/store.h"

#include <json-c/json.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/io.h"

struct store {
    sqlite3 *db;
    char path[1024];
};

const char *store_choice_name(store_choice_t c) {
    static const char *const names[] = {"a", "b", "tie", "both_bad"};
    return c >= STORE_A && c <= STORE_BOTH_BAD ? names[c] : "?";
}

static int fail(store_t *s, err_t *e, const char *what) {
    return err_set(e, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS comparisons ("
    " id INTEGER PRIMARY KEY,"
    " created TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),"
    " prompt TEXT NOT NULL, answer_a TEXT NOT NULL, answer_b TEXT NOT NULL,"
    " model_a TEXT NOT NULL, model_b TEXT NOT NULL,"
    " choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie', 'both_bad')),"
    " rater TEXT NOT NULL);";

store_t *store_open(const char *path, err_t *e) {
    store_t *s = calloc(1, sizeof *s);
    if (!s) return err_set(e, "out of memory"), NULL;
    snprintf(s->path, sizeof s->path, "%s", path);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        err_set(e, "%s: cannot open: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        store_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    char *msg = NULL;
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL;", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
        err_set(e, "%s: not a usable comparison store (%s): move it away or give another file", path,
                msg ? msg : "?");
        sqlite3_free(msg);
        store_close(s);
        return NULL;
    }
    // a table of that name but another shape is someone else's file
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT id, created, prompt, answer_a, answer_b, model_a, model_b, choice, rater "
                                  "FROM comparisons LIMIT 0", -1, &st, NULL) != SQLITE_OK) {
        err_set(e, "%s: its table 'comparisons' is not manabi's (%s)", path, sqlite3_errmsg(s->db));
        sqlite3_finalize(st);
        store_close(s);
        return NULL;
    }
    sqlite3_finalize(st);
    return s;
}

void store_close(store_t *s) {
    if (!s) return;
    if (s->db) sqlite3_close(s->db);
    free(s);
}

int store_add(store_t *s, const store_item_t *it, int64_t *id, err_t *e) {
    if (!it->prompt || !it->answer_a || !it->answer_b) return err_set(e, "a comparison needs a prompt and two answers");
    if (it->choice < STORE_A || it->choice > STORE_BOTH_BAD) return err_set(e, "choice %d is not a choice", it->choice);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return fail(s, e, "cannot write");
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO comparisons (prompt, answer_a, answer_b, model_a, model_b, choice, rater) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        fail(s, e, "cannot write");
        goto done;
    }
    const char *v[] = {it->prompt, it->answer_a, it->answer_b, it->model_a ? it->model_a : "", it->model_b ? it->model_b : "",
                       store_choice_name(it->choice), it->rater ? it->rater : ""};
    for (int i = 0; i < 7; i++) sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        fail(s, e, "cannot write");
        goto done;
    }
    if (id) *id = sqlite3_last_insert_rowid(s->db);
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fail(s, e, "cannot commit");
        goto done;
    }
    rc = 0;
done:
    sqlite3_finalize(st);
    if (rc) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int store_counts(store_t *s, int64_t counts[4], err_t *e) {
    memset(counts, 0, 4 * sizeof *counts);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT choice, count(*) FROM comparisons GROUP BY choice", -1, &st, NULL) != SQLITE_OK)
        return fail(s, e, "cannot read");
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        for (int c = 0; c < 4; c++)
            if (strcmp((const char *)sqlite3_column_text(st, 0), store_choice_name((store_choice_t)c)) == 0)
                counts[c] = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    return r == SQLITE_DONE ? 0 : fail(s, e, "cannot read");
}

int store_export(store_t *s, const char *path, size_t *n, err_t *e) {
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, prompt, answer_a, answer_b, choice, rater FROM comparisons "
                           "WHERE choice IN ('a', 'b') ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(s, e, "cannot read");
    io_atomic_t f;
    if (io_atomic_open(&f, path, e) != 0) {
        sqlite3_finalize(st);
        return -1;
    }
    int r, rc = 0;
    while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
        int a_won = strcmp((const char *)sqlite3_column_text(st, 4), "a") == 0;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "prompt", json_object_new_string((const char *)sqlite3_column_text(st, 1)));
        json_object_object_add(o, "chosen", json_object_new_string((const char *)sqlite3_column_text(st, a_won ? 2 : 3)));
        json_object_object_add(o, "rejected", json_object_new_string((const char *)sqlite3_column_text(st, a_won ? 3 : 2)));
        json_object_object_add(o, "id", json_object_new_int64(sqlite3_column_int64(st, 0)));
        json_object_object_add(o, "rater", json_object_new_string((const char *)sqlite3_column_text(st, 5)));
        const char *line = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        rc = io_atomic_write(&f, line, strlen(line), e) != 0 || io_atomic_write(&f, "\n", 1, e) != 0 ? -1 : 0;
        json_object_put(o);
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc == 0 && r != SQLITE_DONE) rc = fail(s, e, "cannot read");
    if (rc == 0) rc = io_atomic_commit(&f, e);
    if (rc != 0) io_atomic_abort(&f);
    return rc;
}
