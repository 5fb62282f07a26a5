// reader: streaming document readers for raw corpora, the first stage of the data pipeline.
//
//     rd_config_t c;
//     rd_config_default(&c);                 // "<|endoftext|>" delimiter, JSONL field "text"
//     c.source_field = "id";
//     rd_t *r; rd_doc_t d; err_t e = {0}; int k;
//     if (rd_open(&r, "crawl-00.jsonl.zst", &c, &e) != 0) { fprintf(stderr, "manabi: %s\n", e.msg); return -1; }
//     while ((k = rd_next(r, &d, &e)) == 1) use(d.text, d.len, d.source);  // RD_HTML, RD_MAN
//                                            // markup: to text with ex_text (data/extract.h)
//     if (k < 0) fprintf(stderr, "manabi: %s\n", e.msg);   // the documents before stay valid
//     const rd_stats_t *st = rd_stats(r);                   // skips, and where they were
//     rd_close(r);
//
// Compression is chosen by content (magic bytes), not by name: 1f 8b is gzip (zlib, concatenated
// members allowed), 28 b5 2f fd is zstd (libzstd, several frames allowed), anything else is read
// as it is.  Both decoders stream through fixed 64 KiB buffers; no file is read whole.  A
// compressed stream that ends early (a truncated download) is an error, reported by rd_next
// once every complete line before the cut has been returned; the incomplete last line or
// document is dropped, never returned.
//
// Format (RD_FMT_AUTO): by the name with any .gz/.zst removed: .jsonl, .ndjson, .json are JSONL;
// .txt is text; .html, .htm, .xhtml are HTML; .warc, .wet are WARC; a man page name (a last
// extension that is a section, [0-9n][a-z]*: .1 .3pm .n, in a directory named "man" or
// "man<section>": /usr/share/man/ja/man1/ls.1.gz) is MAN.  Otherwise by the first non-blank
// decompressed bytes (after a UTF-8 BOM): "WARC/" is WARC; "<!DOCTYPE html" or "<html" (any
// case) is HTML; a roff start (".TH", ".\"", "'\"", ".so ", ".Dd") is MAN; '{' is JSONL;
// anything else is text.
//  - Text: documents are separated by lines equal to c->delimiter (a trailing "\r" ignored).
//    A document is its lines joined by "\n" with no final "\n".  Empty documents (nothing
//    between two delimiters) are skipped and counted; a delimiter at the end of the file
//    does not start another document.  With
//    delimiter "" the whole file is one document.
//  - JSONL: one JSON object per line; the document is the string member c->text_field and,
//    when c->source_field is set and present as a string or number, doc->source its text.
//    Blank lines are ignored.  A line that is not one JSON object, lacks the field or has a
//    non-string field is skipped, counted, and its file:line recorded (the first
//    RD_MAX_LOCS of them); with c->strict, rd_next instead fails naming file and line.
//  - HTML, MAN: the whole file is one document, markup RD_HTML or RD_MAN, source the path,
//    line 1.  The reader only frames it: ex_text (data/extract.h) makes it text.  An empty
//    file is counted in empty.
//  - WARC (WARC/1.0 and 1.1, e.g. Common Crawl WARC and WET files; gzip per record is a
//    concatenation of gzip members, read as one stream): a record is a "WARC/" version line,
//    header fields up to a blank line, a block of Content-Length bytes, then blank lines.
//    Documents (source = WARC-Target-URI, line = the record's 1-based number):
//      conversion  (WET) the block is the text: markup RD_PLAIN.
//      response    when the block is an HTTP response with a 2xx status and a Content-Type
//                  of text/html or application/xhtml+xml, and no Content-Encoding other than
//                  identity: its body (status line and headers removed, "Transfer-Encoding:
//                  chunked" undone), markup RD_HTML, charset the Content-Type's charset=.
//    Every other record (warcinfo, request, metadata, resource, revisit, responses that are
//    not 2xx HTML, compressed bodies) is read past and counted in warc_skipped.  A record that
//    does not start with "WARC/", a header line without ':', or a missing or non-numeric
//    Content-Length is an error naming the file, the record number and its byte offset (in
//    the decompressed stream), strict or not: the reader cannot find the next record, so it
//    stops there; the documents before it were returned.  A file that ends inside a record
//    (header or block) is an error the same way, after every complete record.  The binary
//    check below does not apply (WARC blocks may hold images).
//
// Bounded memory: at most c->max_line bytes of a line or document are held.
//  - JSONL: a line longer than max_line is skipped (a cut JSON object cannot be parsed) and
//    counted in too_long, with its location, like a malformed line (strict fails on it too).
//  - Text: a document (or one of its lines) longer than max_line is truncated to max_line
//    bytes, backed off to a UTF-8 character boundary, the rest up to the next delimiter
//    discarded, and counted in truncated.
//  - HTML, MAN: a file longer than max_line, and WARC: a record whose Content-Length is over
//    max_line, is skipped (never cut mid-markup; a WARC block is read past in 64 KiB chunks)
//    and counted in too_long and malformed with its location (line 1, or the record number);
//    with c->strict, rd_next fails instead.
// Binary files: a NUL byte in the first 8 KiB of decompressed data marks the file binary; it
// yields no documents (rd_next returns 0 at once) and stats.binary is set to 1.
#ifndef MANABI_DATA_READER_H
#define MANABI_DATA_READER_H

#include <stddef.h>

#include "core/err.h"

typedef struct rd rd_t;  // opaque

// What a document's text is; the reader does not convert it (see data/extract.h).
typedef enum rd_markup {
    RD_PLAIN = 0,  // plain text (text files, JSONL, WARC conversion records)
    RD_HTML = 1,   // an HTML page (HTML files, WARC response records)
    RD_MAN = 2,    // roff source of a man page
} rd_markup_t;

typedef enum rd_format {
    RD_FMT_AUTO = 0,   // by extension, then by content (see above)
    RD_FMT_TEXT = 1,   // delimiter-separated plain text
    RD_FMT_JSONL = 2,  // one JSON object per line
    RD_FMT_HTML = 3,   // the whole file is one RD_HTML document
    RD_FMT_MAN = 4,    // the whole file is one RD_MAN document (roff source)
    RD_FMT_WARC = 5,   // WARC records: conversion (WET) and HTML response records
} rd_format_t;

typedef struct rd_config {
    rd_format_t format;        // RD_FMT_AUTO
    const char *delimiter;     // "<|endoftext|>"; "" = the whole file is one document
    const char *text_field;    // "text"
    const char *source_field;  // NULL: none; e.g. "id", "url", "source"
    size_t max_line;           // 16 MiB: cap on one line and one document, in bytes
    int strict;                // 0: skip and count bad JSONL lines; 1: fail at the first
} rd_config_t;

// Why a line was skipped.
typedef enum rd_skip {
    RD_SKIP_BAD_JSON = 0,    // not parseable as one JSON object
    RD_SKIP_NO_FIELD = 1,    // the object has no text field
    RD_SKIP_NOT_STRING = 2,  // the text field is not a string
    RD_SKIP_TOO_LONG = 3,    // longer than max_line (a JSONL line, an HTML/man file, a WARC record)
} rd_skip_t;

// Returns "malformed JSON", "missing text field", "text field not a string", "line too long".
const char *rd_skip_name(rd_skip_t k);

#define RD_MAX_LOCS 8

typedef struct rd_loc {
    const char *file;  // the reader's path (valid until rd_close)
    size_t line;       // 1-based line number in the decompressed stream; WARC: record number
    rd_skip_t reason;
} rd_loc_t;

// Counts over one reader's life.
typedef struct rd_stats {
    size_t documents;     // documents returned
    size_t text_bytes;    // bytes of text in those documents
    size_t bytes_in;      // decompressed bytes consumed
    size_t lines;         // lines read (the last one may lack a "\n"); WARC: header lines
    size_t malformed;     // lines or records skipped: bad_json + no_field + not_string + too_long
    size_t bad_json, no_field, not_string;  // JSONL lines
    size_t too_long;      // JSONL lines, HTML/man files, WARC records over max_line
    size_t warc_records;  // complete WARC records read, documents or not
    size_t warc_skipped;  // WARC records that are not documents (see WARC above)
    size_t truncated;     // text documents cut at max_line
    size_t empty;         // empty documents skipped (text, empty HTML/man files, WARC bodies)
    int binary;           // 1: the file was binary and skipped whole
    size_t n_locs;        // locations recorded in locs (at most RD_MAX_LOCS)
    rd_loc_t locs[RD_MAX_LOCS];  // the first skipped lines or records
} rd_stats_t;

// One document.  text and source point into buffers the reader owns, valid only until the
// next rd_next or rd_close on the same reader: copy what must outlive that.
typedef struct rd_doc {
    const char *text;    // len bytes, NUL-terminated (JSON text may also hold "\u0000")
    size_t len;
    const char *source;  // NUL-terminated, or NULL when no source field was configured or found;
                         // HTML and MAN: the path; WARC: the WARC-Target-URI (NULL if none)
    size_t line;         // line where the document starts (1-based); WARC: record number
    rd_markup_t markup;  // what text is: RD_PLAIN, RD_HTML, RD_MAN
    const char *charset; // NULL, or the HTTP charset label of a WARC response (a hint for HTML)
} rd_doc_t;

// Fills c with the defaults shown in rd_config_t.
void rd_config_default(rd_config_t *c);

// Opens path for reading (c may be NULL for the defaults; it is copied, strings included).
// Sniffs compression and format and checks for binary content.  On success *r is a reader to
// free with rd_close; on failure returns -1, *r is NULL and e names the file and the cause.
int rd_open(rd_t **r, const char *path, const rd_config_t *c, err_t *e);

// Reads the next document into *doc.  Returns 1 with a document, 0 at the end of the file,
// or -1 with e filled: the file cannot be read, a compressed stream is corrupt or truncated,
// a WARC record is malformed or cut, or (strict) a skipped line or record, with e naming
// file:line or the record.  After 0 or -1 it keeps returning the
// same; documents returned earlier are unaffected (but see rd_doc_t on their lifetime).
int rd_next(rd_t *r, rd_doc_t *doc, err_t *e);

// The reader's counts so far; valid until rd_close.
const rd_stats_t *rd_stats(const rd_t *r);

// Closes the file and frees everything; rd_close(NULL) is safe.
void rd_close(rd_t *r);

#endif
