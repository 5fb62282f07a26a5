// safetensors: see safetensors.h for the format and the contracts.
//
// The reader maps the whole file and validates the header completely before st_open returns, so
// every later accessor (st_data, st_read_f32) may trust begin/end without further checks.  The
// writer builds the header with json-c, which keeps object keys in insertion order, so the file
// lists "__metadata__" first and the tensors in the caller's order, like Python's writer.
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io.h"

// The format stores data little-endian and st_data hands out the raw bytes, so callers on a
// big-endian host would see byte-swapped values.  manabi targets x86-64 and aarch64 only.
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors.c assumes a little-endian host");

// Larger headers are almost certainly corrupt, and the Python library uses the same bound.
#define ST_MAX_HEADER (100u * 1000u * 1000u)
#define ST_META_KEY "__metadata__"

static const char *const dtype_names[] = {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"};
static const size_t dtype_sizes[] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1};
#define ST_N_DTYPES ((int)(sizeof dtype_names / sizeof dtype_names[0]))

size_t st_dtype_size(st_dtype_t d) {
    return (int)d >= 0 && (int)d < ST_N_DTYPES ? dtype_sizes[d] : 0;
}

const char *st_dtype_name(st_dtype_t d) {
    return (int)d >= 0 && (int)d < ST_N_DTYPES ? dtype_names[d] : "?";
}

// Returns 0 and sets *d if name is one of the dtypes above (case-sensitive, as in the spec).
static int dtype_parse(const char *name, st_dtype_t *d) {
    for (int i = 0; i < ST_N_DTYPES; i++)
        if (strcmp(name, dtype_names[i]) == 0) {
            *d = (st_dtype_t)i;
            return 0;
        }
    return -1;
}

int64_t st_numel(const st_tensor_t *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

// Byte size of shape x dtype, or -1 if a dimension is negative or the product overflows uint64.
static int shape_bytes(int ndim, const int64_t *shape, st_dtype_t d, uint64_t *out) {
    uint64_t n = st_dtype_size(d);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(n, (uint64_t)shape[i], &n)) return -1;
    }
    *out = n;
    return 0;
}

// Formats "[a, b, c]" into buf (truncated if needed); returns buf for use inside err_set.
static const char *fmt_shape(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
    return buf;
}

// ---------------------------------------------------------------------------------------------
// Reading

void st_release(st_file_t *f) {
    if (f && f->map) madvise(f->map, f->size, MADV_DONTNEED);
}

void st_close(st_file_t *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->size);
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    memset(f, 0, sizeof *f);
}

// Reads a JSON integer in [0, INT64_MAX].  json-c clamps larger values to INT64_MAX when read
// as int64, so those are told apart through the uint64 reading.
static int get_nonneg_int(json_object *v, int64_t *out) {
    if (!v || json_object_get_type(v) != json_type_int) return -1;
    int64_t x = json_object_get_int64(v);
    if (x < 0 || (x == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)) return -1;
    *out = x;
    return 0;
}

static int parse_metadata(st_file_t *f, const char *path, json_object *meta, err_t *e) {
    if (json_object_get_type(meta) != json_type_object)
        return err_set(e, "%s: \"__metadata__\" must be an object of strings, got %s", path,
                       json_type_to_name(json_object_get_type(meta)));
    int n = json_object_object_length(meta);
    if (n == 0) return 0;
    f->meta_keys = calloc((size_t)n, sizeof *f->meta_keys);
    f->meta_vals = calloc((size_t)n, sizeof *f->meta_vals);
    if (!f->meta_keys || !f->meta_vals) return err_set(e, "%s: out of memory reading metadata", path);
    json_object_object_foreach(meta, key, val) {
        if (json_object_get_type(val) != json_type_string)
            return err_set(e, "%s: metadata '%s' must be a string, got %s", path, key,
                           json_type_to_name(json_object_get_type(val)));
        // n_meta counts fully-owned pairs so st_close frees exactly what was allocated.
        char *k = strdup(key), *v = strdup(json_object_get_string(val));
        if (!k || !v) {
            free(k);
            free(v);
            return err_set(e, "%s: out of memory reading metadata", path);
        }
        f->meta_keys[f->n_meta] = k;
        f->meta_vals[f->n_meta] = v;
        f->n_meta++;
    }
    return 0;
}

// Fills t from one header entry and checks it on its own (dtype, shape, size, range).
// data_size is the length of the data section.
static int parse_tensor(st_tensor_t *t, const char *path, const char *name, json_object *v, uint64_t data_size,
                        err_t *e) {
    if (json_object_get_type(v) != json_type_object)
        return err_set(e, "%s: tensor '%s': entry must be an object, got %s", path, name,
                       json_type_to_name(json_object_get_type(v)));

    json_object *jd = NULL, *js = NULL, *jo = NULL;
    if (!json_object_object_get_ex(v, "dtype", &jd) || json_object_get_type(jd) != json_type_string)
        return err_set(e, "%s: tensor '%s': missing or non-string \"dtype\"", path, name);
    const char *dname = json_object_get_string(jd);
    if (dtype_parse(dname, &t->dtype) != 0)
        return err_set(e, "%s: tensor '%s': unsupported dtype \"%s\" (expected one of F32 F16 BF16 F64 I64 I32 "
                       "I16 I8 U8 BOOL)", path, name, dname);

    if (!json_object_object_get_ex(v, "shape", &js) || json_object_get_type(js) != json_type_array)
        return err_set(e, "%s: tensor '%s': missing or non-array \"shape\"", path, name);
    size_t nd = json_object_array_length(js);
    if (nd > ST_MAX_DIMS)
        return err_set(e, "%s: tensor '%s': shape has %zu dimensions, at most %d are supported", path, name, nd,
                       ST_MAX_DIMS);
    t->ndim = (int)nd;
    for (size_t i = 0; i < nd; i++)
        if (get_nonneg_int(json_object_array_get_idx(js, i), &t->shape[i]) != 0)
            return err_set(e, "%s: tensor '%s': shape[%zu] is not an integer in [0, 2^63)", path, name, i);

    if (!json_object_object_get_ex(v, "data_offsets", &jo) || json_object_get_type(jo) != json_type_array ||
        json_object_array_length(jo) != 2)
        return err_set(e, "%s: tensor '%s': \"data_offsets\" must be an array [begin, end]", path, name);
    int64_t b, en;
    if (get_nonneg_int(json_object_array_get_idx(jo, 0), &b) != 0 ||
        get_nonneg_int(json_object_array_get_idx(jo, 1), &en) != 0)
        return err_set(e, "%s: tensor '%s': data_offsets must be integers in [0, 2^63)", path, name);
    t->begin = (uint64_t)b;
    t->end = (uint64_t)en;
    if (t->begin > t->end)
        return err_set(e, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin", path,
                       name, t->begin, t->end);

    char sbuf[256];
    uint64_t bytes;
    if (shape_bytes(t->ndim, t->shape, t->dtype, &bytes) != 0)
        return err_set(e, "%s: tensor '%s': shape %s x %s overflows", path, name,
                       fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape), dname);
    if (t->end - t->begin != bytes)
        return err_set(e, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] do not match shape %s x %s (%" PRIu64
                       " bytes)", path, name, t->begin, t->end, fmt_shape(sbuf, sizeof sbuf, t->ndim, t->shape), dname,
                       bytes);
    if (t->end > data_size)
        return err_set(e, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] lie outside the data section (%"
                       PRIu64 " bytes; is the file truncated?)", path, name, t->begin, t->end, data_size);
    return 0;
}

static int cmp_by_range(const void *pa, const void *pb) {
    const st_tensor_t *a = *(const st_tensor_t *const *)pa, *b = *(const st_tensor_t *const *)pb;
    if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    return 0;
}

// Checks that the tensors tile [0, data_size) exactly: no overlap, no gap, nothing left over.
// Python's library rejects the same files, and a hole or overlap usually means a corrupt header.
static int check_coverage(const st_file_t *f, const char *path, uint64_t data_size, err_t *e) {
    if (f->n_tensors == 0) {
        if (data_size != 0)
            return err_set(e, "%s: header lists no tensors but the data section has %" PRIu64 " bytes", path,
                           data_size);
        return 0;
    }
    const st_tensor_t **order = malloc((size_t)f->n_tensors * sizeof *order);
    if (!order) return err_set(e, "%s: out of memory", path);
    for (int i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, cmp_by_range);

    int rc = 0;
    uint64_t pos = 0;
    const st_tensor_t *prev = NULL;
    for (int i = 0; i < f->n_tensors && rc == 0; i++) {
        const st_tensor_t *t = order[i];
        if (t->begin < pos)
            rc = err_set(e, "%s: tensors '%s' [%" PRIu64 ", %" PRIu64 "] and '%s' [%" PRIu64 ", %" PRIu64 "] overlap",
                         path, prev->name, prev->begin, prev->end, t->name, t->begin, t->end);
        else if (t->begin > pos)
            rc = err_set(e, "%s: data bytes [%" PRIu64 ", %" PRIu64 ") belong to no tensor (gap before tensor '%s')",
                         path, pos, t->begin, t->name);
        pos = t->end;
        prev = t;
    }
    if (rc == 0 && pos != data_size)
        rc = err_set(e, "%s: data section has %" PRIu64 " bytes but the tensors cover only %" PRIu64
                     " (trailing bytes after tensor '%s')", path, data_size, pos, prev->name);
    free(order);
    return rc;
}

// Parses and validates the header JSON (hdr, n bytes) into f.  On failure f holds whatever was
// allocated so far, for st_close.
static int parse_header(st_file_t *f, const char *path, const char *hdr, size_t n, uint64_t data_size, err_t *e) {
    int rc = -1;
    json_object *root = NULL;
    json_tokener *tok = json_tokener_new();
    if (!tok) return err_set(e, "%s: out of memory", path);
    // Strict mode rejects trailing commas and garbage after the object but allows the trailing
    // spaces writers use to pad the header.
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    root = json_tokener_parse_ex(tok, hdr, (int)n);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    if (!root) {
        if (jerr == json_tokener_continue)
            err_set(e, "%s: header is not valid JSON: it ends before the JSON is complete", path);
        else
            err_set(e, "%s: header is not valid JSON: %s at byte %zu", path, json_tokener_error_desc(jerr),
                    json_tokener_get_parse_end(tok));
        goto done;
    }
    for (size_t i = json_tokener_get_parse_end(tok); i < n; i++)
        if (hdr[i] != ' ' && hdr[i] != '\t' && hdr[i] != '\n' && hdr[i] != '\r') {
            err_set(e, "%s: header is not valid JSON: unexpected data after the object at byte %zu", path, i);
            goto done;
        }
    if (json_object_get_type(root) != json_type_object) {
        err_set(e, "%s: header must be a JSON object, got %s", path, json_type_to_name(json_object_get_type(root)));
        goto done;
    }

    // json-c keeps the last of duplicate keys; a duplicate with a different range then shows up
    // as a gap in check_coverage, one with the same range is harmless.
    json_object *meta = NULL;
    int has_meta = json_object_object_get_ex(root, ST_META_KEY, &meta);
    int n_entries = json_object_object_length(root) - (has_meta ? 1 : 0);
    if (has_meta && parse_metadata(f, path, meta, e) != 0) goto done;
    if (n_entries > 0) {
        f->tensors = calloc((size_t)n_entries, sizeof *f->tensors);
        if (!f->tensors) {
            err_set(e, "%s: out of memory for %d tensors", path, n_entries);
            goto done;
        }
    }
    // Tensors keep header order, so callers iterating f->tensors see the writer's order.
    json_object_object_foreach(root, key, val) {
        if (strcmp(key, ST_META_KEY) == 0) continue;
        st_tensor_t *t = &f->tensors[f->n_tensors];
        if (parse_tensor(t, path, key, val, data_size, e) != 0) goto done;
        if (!(t->name = strdup(key))) {
            err_set(e, "%s: out of memory", path);
            goto done;
        }
        f->n_tensors++;
    }
    rc = check_coverage(f, path, data_size, e);
done:
    json_object_put(root);
    json_tokener_free(tok);
    return rc;
}

int st_open(st_file_t *f, const char *path, err_t *e) {
    memset(f, 0, sizeof *f);
    size_t plen = strlen(path);
    if (plen >= sizeof f->path) return err_set(e, "%s: path too long", path);
    memcpy(f->path, path, plen + 1);

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(e, "cannot open %s: %s", path, strerror(errno));
    int rc = -1;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        err_set(e, "cannot stat %s: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        err_set(e, "%s: not a regular file", path);
        goto done;
    }
    if (sb.st_size < 8) {
        err_set(e, "%s: file is %lld bytes, too short for a safetensors header (truncated?)", path,
                (long long)sb.st_size);
        goto done;
    }
    void *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        err_set(e, "cannot map %s: %s", path, strerror(errno));
        goto done;
    }
    f->map = map;
    f->size = (size_t)sb.st_size;

    const uint8_t *p = f->map;
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)p[i] << (8 * i);
    if (hlen > f->size - 8) {
        err_set(e, "%s: header length %" PRIu64 " exceeds the file size (%zu bytes; truncated or not a safetensors "
                "file?)", path, hlen, f->size);
        goto done;
    }
    if (hlen > ST_MAX_HEADER) {
        err_set(e, "%s: header length %" PRIu64 " exceeds the %u-byte limit", path, hlen, ST_MAX_HEADER);
        goto done;
    }
    f->data = p + 8 + hlen;
    if (parse_header(f, path, (const char *)p + 8, (size_t)hlen, f->size - 8 - hlen, e) != 0) goto done;
    rc = 0;
done:
    // The mapping stays valid after the descriptor is closed.
    close(fd);
    if (rc != 0) st_close(f);
    return rc;
}

// Linear: models have a few hundred tensors and lookups happen once, at load time.
const st_tensor_t *st_find(const st_file_t *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *st_meta(const st_file_t *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

const void *st_data(const st_file_t *f, const st_tensor_t *t) {
    return f->data + t->begin;
}

// IEEE 754 binary16 -> binary32, exact for every input (normals, subnormals, zeros, inf, NaN).
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);  // inf, or NaN with its payload kept
    } else if (exp != 0) {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {
        // Subnormal half: value = mant * 2^-24.  Shift the leading 1 up to the implicit bit;
        // every half subnormal is a normal float.
        exp = 127 - 15 + 1;
        while (!(mant & 0x400u)) {
            mant <<= 1;
            exp--;
        }
        bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

// bfloat16 is the upper half of a binary32, so the conversion is exact.
static float bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

int st_read_f32(const st_file_t *f, const char *name, float *dst, int ndim, const int64_t *shape, err_t *e) {
    const st_tensor_t *t = st_find(f, name);
    if (!t) return err_set(e, "%s: tensor '%s' is missing", f->path, name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char have[256], want[256];
        return err_set(e, "%s: tensor '%s' has shape %s, expected %s", f->path, name,
                       fmt_shape(have, sizeof have, t->ndim, t->shape),
                       fmt_shape(want, sizeof want, ndim < 0 ? 0 : ndim > ST_MAX_DIMS ? ST_MAX_DIMS : ndim, shape));
    }
    // The data section need not be aligned for the element type (the header length is arbitrary
    // in files from other writers), so elements are loaded with memcpy.
    const uint8_t *src = st_data(f, t);
    size_t n = (size_t)st_numel(t);
    switch (t->dtype) {
    case ST_F32:
        if (n) memcpy(dst, src, n * sizeof(float));
        return 0;
    case ST_F16:
    case ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, sizeof h);
            dst[i] = t->dtype == ST_F16 ? half_to_float(h) : bf16_to_float(h);
        }
        return 0;
    default:
        return err_set(e, "%s: tensor '%s' has dtype %s, expected F32, F16 or BF16", f->path, name,
                       st_dtype_name(t->dtype));
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

// Adds val under key, taking ownership of val even on failure (json-c leaves it to the caller).
static int obj_add(json_object *obj, const char *key, json_object *val) {
    if (!val) return -1;
    if (json_object_object_add(obj, key, val) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

static int arr_add(json_object *arr, json_object *val) {
    if (!val) return -1;
    if (json_object_array_add(arr, val) != 0) {
        json_object_put(val);
        return -1;
    }
    return 0;
}

// Builds {"dtype": .., "shape": [..], "data_offsets": [begin, end]}, or NULL when out of memory.
static json_object *tensor_json(const st_entry_t *t, uint64_t begin, uint64_t end) {
    json_object *o = json_object_new_object(), *shape = json_object_new_array(), *offs = json_object_new_array();
    int bad = !o || !shape || !offs;
    for (int i = 0; !bad && i < t->ndim; i++) bad = arr_add(shape, json_object_new_int64(t->shape[i])) != 0;
    if (!bad) bad = arr_add(offs, json_object_new_int64((int64_t)begin)) != 0 ||
                    arr_add(offs, json_object_new_int64((int64_t)end)) != 0;
    if (bad) {
        json_object_put(o);
        json_object_put(shape);
        json_object_put(offs);
        return NULL;
    }
    // obj_add consumes its value whatever happens, so shape/offs must not be put again below.
    bad = obj_add(o, "dtype", json_object_new_string(st_dtype_name(t->dtype))) != 0;
    if (obj_add(o, "shape", shape) != 0) bad = 1;
    if (obj_add(o, "data_offsets", offs) != 0) bad = 1;
    if (bad) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

int st_write(const char *path, const st_entry_t *t, int n, const char *const *meta, int n_meta, err_t *e) {
    int rc = -1;
    json_object *root = NULL;
    io_atomic_t a = {0};
    uint64_t *sizes = NULL;

    if (n < 0 || n_meta < 0 || (n > 0 && !t) || (n_meta > 0 && !meta))
        return err_set(e, "%s: invalid tensor or metadata list", path);
    if (n > 0 && !(sizes = malloc((size_t)n * sizeof *sizes))) return err_set(e, "%s: out of memory", path);
    if (!(root = json_object_new_object())) {
        err_set(e, "%s: out of memory", path);
        goto done;
    }

    if (n_meta > 0) {
        json_object *m = json_object_new_object();
        if (obj_add(root, ST_META_KEY, m) != 0) {
            err_set(e, "%s: out of memory", path);
            goto done;
        }
        for (int i = 0; i < n_meta; i++) {
            const char *k = meta[2 * i], *v = meta[2 * i + 1];
            if (!k || !v) {
                err_set(e, "%s: metadata pair %d has a NULL key or value", path, i);
                goto done;
            }
            if (json_object_object_get_ex(m, k, NULL)) {
                err_set(e, "%s: duplicate metadata key '%s'", path, k);
                goto done;
            }
            if (obj_add(m, k, json_object_new_string(v)) != 0) {
                err_set(e, "%s: out of memory", path);
                goto done;
            }
        }
    }

    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const st_entry_t *x = &t[i];
        if (!x->name) {
            err_set(e, "%s: tensor %d has no name", path, i);
            goto done;
        }
        if (strcmp(x->name, ST_META_KEY) == 0) {
            err_set(e, "%s: tensor name '%s' is reserved for metadata", path, x->name);
            goto done;
        }
        if (json_object_object_get_ex(root, x->name, NULL)) {
            err_set(e, "%s: duplicate tensor name '%s'", path, x->name);
            goto done;
        }
        if (st_dtype_size(x->dtype) == 0) {
            err_set(e, "%s: tensor '%s': invalid dtype %d", path, x->name, (int)x->dtype);
            goto done;
        }
        if (x->ndim < 0 || x->ndim > ST_MAX_DIMS) {
            err_set(e, "%s: tensor '%s': ndim %d is outside [0, %d]", path, x->name, x->ndim, ST_MAX_DIMS);
            goto done;
        }
        char sbuf[256];
        if (shape_bytes(x->ndim, x->shape, x->dtype, &sizes[i]) != 0 ||
            __builtin_add_overflow(off, sizes[i], &off) || off > (uint64_t)INT64_MAX) {
            err_set(e, "%s: tensor '%s': shape %s is negative or too large", path, x->name,
                    fmt_shape(sbuf, sizeof sbuf, x->ndim, x->shape));
            goto done;
        }
        if (sizes[i] > 0 && !x->data) {
            err_set(e, "%s: tensor '%s' has no data", path, x->name);
            goto done;
        }
        if (obj_add(root, x->name, tensor_json(x, off - sizes[i], off)) != 0) {
            err_set(e, "%s: out of memory", path);
            goto done;
        }
    }

    // Compact output with unescaped '/', matching the bytes Python's writer produces.
    const char *hdr = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!hdr) {
        err_set(e, "%s: out of memory", path);
        goto done;
    }
    size_t hlen = strlen(hdr), pad = (8 - hlen % 8) % 8;
    if (hlen + pad > ST_MAX_HEADER) {
        err_set(e, "%s: header would be %zu bytes, over the %u-byte limit readers accept", path, hlen + pad,
                ST_MAX_HEADER);
        goto done;
    }
    // Padding the header with spaces (valid JSON whitespace) puts the data section at a multiple
    // of 8 bytes from the start of the file, so an mmap'ed F32/F64 tensor starting at an aligned
    // offset is aligned in memory too.
    uint8_t lenbuf[8];
    uint64_t total = hlen + pad;
    for (int i = 0; i < 8; i++) lenbuf[i] = (uint8_t)(total >> (8 * i));
    static const char spaces[] = "       ";  // pad is at most 7

    if (io_atomic_open(&a, path, e) != 0) goto done;
    if (io_atomic_write(&a, lenbuf, sizeof lenbuf, e) != 0 || io_atomic_write(&a, hdr, hlen, e) != 0 ||
        io_atomic_write(&a, spaces, pad, e) != 0)
        goto done;
    for (int i = 0; i < n; i++)
        if (io_atomic_write(&a, t[i].data, (size_t)sizes[i], e) != 0) goto done;
    if (io_atomic_commit(&a, e) != 0) goto done;
    rc = 0;
done:
    // Safe after a commit or a failed write: both leave a.f NULL and the temporary file removed.
    io_atomic_abort(&a);
    json_object_put(root);
    free(sizes);
    return rc;
}
