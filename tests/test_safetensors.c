// Tests for model/safetensors: round trips, dtype conversion, the bytes Python's writer makes,
// and one rejected file per kind of corruption the reader promises to catch.
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/safetensors.h"
#include "test.h"

// Writes a file with header length `hlen_field`, header text `hdr` and `ndata` data bytes
// (0, 1, 2, ...).
static int write_raw(const char *path, uint64_t hlen_field, const char *hdr, size_t ndata) {
    size_t hl = strlen(hdr), n = 8 + hl + ndata;
    uint8_t *buf = malloc(n);
    if (!buf) return -1;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hlen_field >> (8 * i));
    memcpy(buf + 8, hdr, hl);
    for (size_t i = 0; i < ndata; i++) buf[8 + hl + i] = (uint8_t)i;
    int rc = test_write_file(path, buf, n);
    free(buf);
    return rc;
}

static int write_hdr(const char *path, const char *hdr, size_t ndata) {
    return write_raw(path, strlen(hdr), hdr, ndata);
}

// Number of entries in the scratch directory whose name contains ".tmp.".
static int count_tmp_files(void) {
    DIR *d = opendir(test_tmpdir());
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static int is_zeroed(const st_file_t *f) {
    static const st_file_t zero;
    return memcmp(f, &zero, sizeof zero) == 0;
}

// Writes `hdr` (with a correct length field) plus ndata bytes to NAME and checks that st_open
// rejects it with a message naming the file and containing `want`.
static void expect_reject(int line, const char *name, const char *hdr, size_t ndata, const char *want) {
    const char *path = test_path(name);
    if (write_hdr(path, hdr, ndata) != 0) {
        test_fail(__FILE__, line, "cannot write %s", path);
        return;
    }
    st_file_t f;
    err_t e = {{0}};
    if (st_open(&f, path, &e) == 0) {
        test_fail(__FILE__, line, "%s: st_open accepted a corrupt file", name);
        st_close(&f);
        return;
    }
    if (!strstr(e.msg, path)) test_fail(__FILE__, line, "message does not name the file: %s", e.msg);
    if (!strstr(e.msg, want)) test_fail(__FILE__, line, "message lacks \"%s\": %s", want, e.msg);
    if (!is_zeroed(&f)) test_fail(__FILE__, line, "st_file_t not zeroed after a failed open");
}
#define EXPECT_REJECT(name, hdr, ndata, want) expect_reject(__LINE__, name, hdr, ndata, want)

TEST(st_round_trip) {
    float a[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f};
    uint16_t h[3] = {0x3C00, 0xC000, 0x7BFF};
    uint16_t b[4] = {0x3F80, 0x4000, 0xBF80, 0x0000};
    int64_t l[3] = {INT64_MIN, -1, INT64_MAX};
    uint8_t u[5] = {1, 2, 3, 4, 5};  // odd size: the tensors after it start unaligned
    double d[2] = {3.141592653589793, -1e300};
    uint8_t flag[1] = {1};
    int32_t i32[2] = {-7, 7};
    st_entry_t t[] = {
        {"z.first", ST_F32, 2, {2, 3}, a},
        {"a.half", ST_F16, 1, {3}, h},
        {"m.bf16", ST_BF16, 2, {2, 2}, b},
        {"longs", ST_I64, 1, {3}, l},
        {"bytes", ST_U8, 3, {1, 5, 1}, u},
        {"dbl", ST_F64, 1, {2}, d},
        {"scalar", ST_BOOL, 0, {0}, flag},
        {"empty", ST_F32, 2, {0, 4}, NULL},
        {"ints", ST_I32, 1, {2}, i32},
        {"path/with.slash", ST_I8, 1, {0}, NULL},
    };
    int n = (int)(sizeof t / sizeof t[0]);
    const char *meta[] = {"format", "pt", "config", "{\"n_layer\": 2, \"path\": \"a/b\"}", "empty", ""};
    const char *path = test_path("rt.safetensors");
    err_t e = {{0}};
    CHECK_MSG(st_write(path, t, n, meta, 3, &e) == 0, "%s", e.msg);
    CHECK(count_tmp_files() == 0);

    st_file_t f;
    CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
    CHECK(f.n_tensors == n);
    for (int i = 0; i < n && i < f.n_tensors; i++) {
        const st_tensor_t *x = &f.tensors[i];
        CHECK_MSG(strcmp(x->name, t[i].name) == 0, "tensor %d is '%s', wrote '%s'", i, x->name, t[i].name);
        CHECK(x->dtype == t[i].dtype);
        CHECK(x->ndim == t[i].ndim);
        for (int k = 0; k < t[i].ndim; k++) CHECK(x->shape[k] == t[i].shape[k]);
        size_t bytes = (size_t)st_numel(x) * st_dtype_size(x->dtype);
        CHECK(x->end - x->begin == bytes);
        CHECK(st_find(&f, t[i].name) == x);
        if (bytes) CHECK_MSG(memcmp(st_data(&f, x), t[i].data, bytes) == 0, "data of '%s' differs", x->name);
    }
    CHECK(f.n_meta == 3);
    if (f.n_meta == 3) {
        CHECK(strcmp(f.meta_keys[0], "format") == 0 && strcmp(f.meta_keys[2], "empty") == 0);
        CHECK(strcmp(f.meta_vals[1], meta[3]) == 0);
    }
    CHECK(st_meta(&f, "format") && strcmp(st_meta(&f, "format"), "pt") == 0);
    CHECK(st_meta(&f, "empty") && strcmp(st_meta(&f, "empty"), "") == 0);
    CHECK(st_meta(&f, "missing") == NULL);
    // The data section starts 8-byte aligned in the file and the header says so.
    CHECK((f.data - (const uint8_t *)f.map) % 8 == 0);
    const char *hdr = (const char *)f.map + 8;
    CHECK(strncmp(hdr, "{\"__metadata__\":{\"format\":\"pt\",", 31) == 0);
    CHECK(strstr(hdr, "\"path/with.slash\"") != NULL);
    CHECK(f.size == (size_t)(f.data - (const uint8_t *)f.map) + 24 + 6 + 8 + 24 + 5 + 16 + 1 + 0 + 8 + 0);
    st_close(&f);
    st_close(&f);  // twice is fine
    CHECK(is_zeroed(&f));
}

TEST(st_half_and_bf16_conversion) {
    uint16_t h[] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x0400, 0x8000, 0x3555, 0x7C00, 0xFC00, 0x7E00, 0x8001};
    const float hw[] = {1.0f, -2.0f, 65504.0f, 5.9604644775390625e-8f, 6.097555160522461e-5f, 6.103515625e-5f,
                        -0.0f, 0.333251953125f};
    uint16_t b[] = {0x3F80, 0xC000, 0x4049, 0x0001, 0x7F80, 0xFF80, 0x7FC0, 0x8000};
    float f32[] = {0.1f, -3.5f};
    int32_t ints[] = {1, 2};
    st_entry_t t[] = {
        {"h", ST_F16, 2, {3, 4}, h},
        {"b", ST_BF16, 1, {8}, b},
        {"f", ST_F32, 1, {2}, f32},
        {"i", ST_I32, 1, {2}, ints},
    };
    const char *path = test_path("conv.safetensors");
    err_t e = {{0}};
    CHECK_MSG(st_write(path, t, 4, NULL, 0, &e) == 0, "%s", e.msg);
    st_file_t f;
    CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);

    float out[12];
    CHECK_MSG(st_read_f32(&f, "h", out, 2, (int64_t[]){3, 4}, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 8; i++) CHECK_NEAR(out[i], hw[i], 0);
    CHECK(signbit(out[6]));
    CHECK(isinf(out[8]) && out[8] > 0);
    CHECK(isinf(out[9]) && out[9] < 0);
    CHECK(isnan(out[10]));
    CHECK(out[11] == -5.9604644775390625e-8f);

    CHECK_MSG(st_read_f32(&f, "b", out, 1, (int64_t[]){8}, &e) == 0, "%s", e.msg);
    CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == 3.140625f);
    CHECK(out[3] > 0 && out[3] < 1e-38f);  // smallest bf16 subnormal, 2^-133
    CHECK_NEAR(out[3], ldexp(1.0, -133), 0);
    CHECK(isinf(out[4]) && out[4] > 0 && isinf(out[5]) && out[5] < 0);
    CHECK(isnan(out[6]));
    CHECK(out[7] == 0 && signbit(out[7]));

    CHECK_MSG(st_read_f32(&f, "f", out, 1, (int64_t[]){2}, &e) == 0, "%s", e.msg);
    CHECK(out[0] == 0.1f && out[1] == -3.5f);

    char want[1200];
    CHECK(st_read_f32(&f, "h", out, 2, (int64_t[]){4, 3}, &e) != 0);
    snprintf(want, sizeof want, "%s: tensor 'h' has shape [3, 4], expected [4, 3]", path);
    CHECK_MSG(strcmp(e.msg, want) == 0, "got: %s", e.msg);
    CHECK(st_read_f32(&f, "h", out, 1, (int64_t[]){12}, &e) != 0);
    snprintf(want, sizeof want, "%s: tensor 'h' has shape [3, 4], expected [12]", path);
    CHECK_MSG(strcmp(e.msg, want) == 0, "got: %s", e.msg);
    CHECK(st_read_f32(&f, "nope", out, 1, (int64_t[]){2}, &e) != 0);
    snprintf(want, sizeof want, "%s: tensor 'nope' is missing", path);
    CHECK_MSG(strcmp(e.msg, want) == 0, "got: %s", e.msg);
    CHECK(st_read_f32(&f, "i", out, 1, (int64_t[]){2}, &e) != 0);
    CHECK_MSG(strstr(e.msg, "'i'") && strstr(e.msg, "I32"), "got: %s", e.msg);
    st_close(&f);
}

// The exact bytes Python's safetensors writes for
// save_file({"weight": torch.tensor([[1., 2.], [3., 4.]])}, path, metadata={"format": "pt"}):
// compact JSON, "__metadata__" first, fields in the order dtype/shape/data_offsets, spaces up
// to a multiple of 8, the length field counting the padding.
TEST(st_python_bytes) {
    static const char hdr[] = "{\"__metadata__\":{\"format\":\"pt\"},\"weight\":{\"dtype\":\"F32\",\"shape\":[2,2],"
                              "\"data_offsets\":[0,16]}}";
    size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
    CHECK(hl == 93 && padded == 96);
    uint8_t file[8 + 96 + 16];
    memset(file, ' ', sizeof file);
    file[0] = 96;
    memset(file + 1, 0, 7);
    memcpy(file + 8, hdr, hl);
    float v[4] = {1, 2, 3, 4};
    memcpy(file + 8 + padded, v, sizeof v);
    const char *path = test_path("python.safetensors");
    CHECK(test_write_file(path, file, sizeof file) == 0);

    st_file_t f;
    err_t e = {{0}};
    CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
    float out[4] = {0};
    CHECK_MSG(st_read_f32(&f, "weight", out, 2, (int64_t[]){2, 2}, &e) == 0, "%s", e.msg);
    CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3 && out[3] == 4);
    CHECK(st_meta(&f, "format") && strcmp(st_meta(&f, "format"), "pt") == 0);
    st_close(&f);

    // Our writer produces the same bytes.
    const char *mine = test_path("mine.safetensors");
    st_entry_t t = {"weight", ST_F32, 2, {2, 2}, v};
    const char *meta[] = {"format", "pt"};
    CHECK_MSG(st_write(mine, &t, 1, meta, 1, &e) == 0, "%s", e.msg);
    uint8_t back[sizeof file + 1];
    FILE *fp = fopen(mine, "rb");
    size_t got = fp ? fread(back, 1, sizeof back, fp) : 0;
    if (fp) fclose(fp);
    CHECK(got == sizeof file && memcmp(back, file, sizeof file) == 0);
}

// Other writers need not pad the header, so the data may start at any address.
TEST(st_unaligned_data_section) {
    const char *hdr = "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}";  // 55 bytes
    const char *path = test_path("unaligned.safetensors");
    size_t hl = strlen(hdr);
    CHECK(hl % 8 != 0 && hl <= 64);
    uint8_t file[8 + 64 + 12] = {0};
    file[0] = (uint8_t)hl;
    memcpy(file + 8, hdr, hl);
    float v[3] = {-1, 0.5f, 7};
    memcpy(file + 8 + hl, v, sizeof v);
    CHECK(test_write_file(path, file, 8 + hl + 12) == 0);
    st_file_t f;
    err_t e = {{0}};
    CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
    float out[3];
    CHECK_MSG(st_read_f32(&f, "x", out, 1, (int64_t[]){3}, &e) == 0, "%s", e.msg);
    CHECK(out[0] == -1 && out[1] == 0.5f && out[2] == 7);
    st_close(&f);
}

TEST(st_zero_tensors) {
    err_t e = {{0}};
    st_file_t f;
    const char *path = test_path("none.safetensors");
    CHECK_MSG(st_write(path, NULL, 0, NULL, 0, &e) == 0, "%s", e.msg);
    CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
    CHECK(f.n_tensors == 0 && f.n_meta == 0);
    CHECK(f.size == 16);  // "{}" padded to 8
    CHECK(st_find(&f, "anything") == NULL);
    CHECK(st_meta(&f, "anything") == NULL);
    st_close(&f);

    const char *meta[] = {"k", "v"};
    CHECK_MSG(st_write(path, NULL, 0, meta, 1, &e) == 0, "%s", e.msg);
    CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
    CHECK(f.n_tensors == 0 && f.n_meta == 1);
    st_close(&f);

    // Python writes an empty metadata object when given metadata={}.
    CHECK(write_hdr(path, "{\"__metadata__\":{}}     ", 0) == 0);
    CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
    CHECK(f.n_tensors == 0 && f.n_meta == 0);
    st_close(&f);
}

TEST(st_find_missing) {
    float v[2] = {1, 2};
    st_entry_t t = {"present", ST_F32, 1, {2}, v};
    const char *path = test_path("find.safetensors");
    err_t e = {{0}};
    CHECK_MSG(st_write(path, &t, 1, NULL, 0, &e) == 0, "%s", e.msg);
    st_file_t f;
    CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
    CHECK(st_find(&f, "present") != NULL);
    CHECK(st_find(&f, "absent") == NULL);
    CHECK(st_find(&f, "") == NULL);
    CHECK(st_find(&f, "presen") == NULL);
    st_close(&f);

    st_file_t z = {0};
    st_close(&z);  // safe on a zeroed struct
    st_close(&z);
    CHECK(is_zeroed(&z));
}

TEST(st_reject_truncated) {
    float v[4] = {1, 2, 3, 4};
    st_entry_t t = {"w", ST_F32, 1, {4}, v};
    const char *path = test_path("trunc.safetensors");
    err_t e = {{0}};
    CHECK_MSG(st_write(path, &t, 1, NULL, 0, &e) == 0, "%s", e.msg);
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    st_file_t f;
    // Cut into the data, into the header, and into the length field.
    const off_t cuts[] = {sb.st_size - 1, sb.st_size - 16, 20, 8, 5, 0};
    const char *wants[] = {"lie outside the data section", "lie outside the data section", "exceeds the file size",
                           "exceeds the file size", "too short", "too short"};
    for (int i = 0; i < 6; i++) {
        CHECK(truncate(path, cuts[i]) == 0);
        e.msg[0] = 0;
        CHECK(st_open(&f, path, &e) != 0);
        CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, wants[i]), "cut %d: %s", (int)cuts[i], e.msg);
        CHECK(is_zeroed(&f));
    }
    CHECK(st_open(&f, test_path("does-not-exist.safetensors"), &e) != 0);
    CHECK_MSG(strstr(e.msg, "does-not-exist.safetensors"), "%s", e.msg);
    CHECK(st_open(&f, test_tmpdir(), &e) != 0);
    CHECK_MSG(strstr(e.msg, "not a regular file"), "%s", e.msg);
}

TEST(st_reject_header_length) {
    const char *hdr = "{}      ";
    const char *path = test_path("hlen.safetensors");
    st_file_t f;
    err_t e = {{0}};
    CHECK(write_raw(path, 1ull << 40, hdr, 0) == 0);
    CHECK(st_open(&f, path, &e) != 0);
    CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "exceeds the file size"), "%s", e.msg);
    CHECK(write_raw(path, UINT64_MAX, hdr, 0) == 0);
    CHECK(st_open(&f, path, &e) != 0);
    CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "exceeds the file size"), "%s", e.msg);

    // A header over 100 MB is refused even when the file is that large (sparse, so cheap).
    uint64_t big = 100000001;
    CHECK(write_raw(path, big, hdr, 0) == 0);
    CHECK(truncate(path, (off_t)(8 + big)) == 0);
    CHECK(st_open(&f, path, &e) != 0);
    CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "limit"), "%s", e.msg);
    CHECK(truncate(path, 0) == 0);
}

TEST(st_reject_bad_json) {
    EXPECT_REJECT("json1.st", "{\"a\": {\"dtype\": \"F32\", ", 0, "not valid JSON");
    EXPECT_REJECT("json2.st", "{\"a\": 1,}", 0, "not valid JSON");
    EXPECT_REJECT("json3.st", "{} xyz", 0, "not valid JSON");
    EXPECT_REJECT("json4.st", "", 0, "not valid JSON");
    EXPECT_REJECT("json5.st", "[1, 2]", 0, "must be a JSON object");
    EXPECT_REJECT("json6.st", "{\"a\": 5}", 0, "tensor 'a': entry must be an object");
}

TEST(st_reject_fields) {
    EXPECT_REJECT("dtype1.st", "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2,
                  "tensor 'w': unsupported dtype \"F8_E4M3\"");
    EXPECT_REJECT("dtype2.st", "{\"w\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                  "unsupported dtype \"f32\"");
    EXPECT_REJECT("dtype3.st", "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensor 'w': missing");
    EXPECT_REJECT("shape1.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
                  "tensor 'w': shape[0]");
    EXPECT_REJECT("shape2.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
                  "tensor 'w': shape[0]");
    EXPECT_REJECT("shape3.st", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
                  "9 dimensions");
    EXPECT_REJECT("shape4.st", "{\"w\":{\"dtype\":\"U8\",\"shape\":2,\"data_offsets\":[0,2]}}", 2, "\"shape\"");
    EXPECT_REJECT("shape5.st",
                  "{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
                  "overflows");
    EXPECT_REJECT("offs1.st", "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0]}}", 2, "data_offsets");
    EXPECT_REJECT("offs2.st", "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[-2,0]}}", 2,
                  "data_offsets must be integers");
    EXPECT_REJECT("offs3.st", "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,0]}}", 2,
                  "end before they begin");
    EXPECT_REJECT("offs4.st", "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[10,12]}}", 12 - 4,
                  "tensor 'w': data_offsets [10, 12] lie outside the data section (8 bytes");
    EXPECT_REJECT("offs5.st",
                  "{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[18446744073709551614,"
                  "18446744073709551615]}}",
                  2, "tensor 'w': data_offsets must be integers in [0, 2^63)");
    EXPECT_REJECT("meta1.st", "{\"__metadata__\":{\"format\":1}}", 0, "metadata 'format' must be a string");
    EXPECT_REJECT("meta2.st", "{\"__metadata__\":[\"pt\"]}", 0, "\"__metadata__\" must be an object");
    EXPECT_REJECT("meta3.st", "{\"__metadata__\":{\"a\":\"b\",\"n\":null}}", 0, "metadata 'n' must be a string");
}

TEST(st_reject_size_mismatch) {
    const char *name = "model.safetensors";
    const char *path = test_path(name);
    CHECK(write_hdr(path, "{\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,12]}}", 12) ==
          0);
    st_file_t f;
    err_t e = {{0}};
    CHECK(st_open(&f, path, &e) != 0);
    char want[1200];
    snprintf(want, sizeof want,
             "%s: tensor 'lm_head.weight': data_offsets [0, 12] do not match shape [2, 3] x F32 (24 bytes)", path);
    CHECK_MSG(strcmp(e.msg, want) == 0, "got: %s", e.msg);
    EXPECT_REJECT("size2.st", "{\"s\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
                  "tensor 's': data_offsets [0, 4] do not match shape [] x I64 (8 bytes)");
}

TEST(st_reject_layout) {
    // Overlap: b starts inside a.
    EXPECT_REJECT("overlap.st",
                  "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}",
                  12, "tensors 'a' [0, 8] and 'b' [4, 12] overlap");
    // Same range twice is an overlap too, whichever order the header lists them in.
    EXPECT_REJECT("overlap2.st",
                  "{\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                  "\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                  4, "overlap");
    // An empty tensor inside another one.
    EXPECT_REJECT("overlap3.st",
                  "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
                  "\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[3,3]}}",
                  8, "overlap");
    EXPECT_REJECT("gap.st",
                  "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                  "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}",
                  12, "data bytes [4, 8) belong to no tensor (gap before tensor 'b')");
    EXPECT_REJECT("gap2.st", "{\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8,
                  "data bytes [0, 4) belong to no tensor");
    EXPECT_REJECT("trailing.st", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 6,
                  "data section has 6 bytes but the tensors cover only 4");
    EXPECT_REJECT("trailing2.st", "{}", 3, "no tensors but the data section has 3 bytes");

    // Out-of-order entries that tile the data exactly are fine, as are empty tensors at the ends.
    const char *path = test_path("shuffled.st");
    CHECK(write_hdr(path,
                    "{\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]},"
                    "\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,8]},"
                    "\"a\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                    8) == 0);
    st_file_t f;
    err_t e = {{0}};
    CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
    CHECK(f.n_tensors == 3 && strcmp(f.tensors[0].name, "b") == 0 && strcmp(f.tensors[2].name, "a") == 0);
    const st_tensor_t *b = st_find(&f, "b");
    CHECK(b && ((const uint8_t *)st_data(&f, b))[0] == 4);
    st_close(&f);
}

TEST(st_write_rejects_bad_input) {
    float v[2] = {1, 2};
    const char *path = test_path("bad-input.safetensors");
    err_t e = {{0}};
    st_entry_t dup[] = {{"x", ST_F32, 1, {2}, v}, {"x", ST_F32, 1, {2}, v}};
    CHECK(st_write(path, dup, 2, NULL, 0, &e) != 0);
    CHECK_MSG(strstr(e.msg, "duplicate tensor name 'x'") && strstr(e.msg, path), "%s", e.msg);
    st_entry_t reserved = {"__metadata__", ST_F32, 1, {2}, v};
    CHECK(st_write(path, &reserved, 1, NULL, 0, &e) != 0);
    CHECK_MSG(strstr(e.msg, "reserved"), "%s", e.msg);
    st_entry_t neg = {"n", ST_F32, 1, {-1}, v};
    CHECK(st_write(path, &neg, 1, NULL, 0, &e) != 0);
    CHECK_MSG(strstr(e.msg, "tensor 'n'"), "%s", e.msg);
    st_entry_t nodata = {"d", ST_F32, 1, {2}, NULL};
    CHECK(st_write(path, &nodata, 1, NULL, 0, &e) != 0);
    CHECK_MSG(strstr(e.msg, "tensor 'd' has no data"), "%s", e.msg);
    st_entry_t baddims = {"d", ST_F32, 9, {2}, v};
    CHECK(st_write(path, &baddims, 1, NULL, 0, &e) != 0);
    const char *dupmeta[] = {"k", "1", "k", "2"};
    st_entry_t ok = {"ok", ST_F32, 1, {2}, v};
    CHECK(st_write(path, &ok, 1, dupmeta, 2, &e) != 0);
    CHECK_MSG(strstr(e.msg, "duplicate metadata key 'k'"), "%s", e.msg);
    struct stat sb;
    CHECK(stat(path, &sb) != 0);
    CHECK(count_tmp_files() == 0);
}

TEST(st_failed_write_leaves_nothing) {
    float v[2] = {1, 2};
    st_entry_t t = {"w", ST_F32, 1, {2}, v};
    err_t e = {{0}};
    // Fails when creating the temporary file.
    const char *missing = test_path("no/such/dir/x.safetensors");
    CHECK(st_write(missing, &t, 1, NULL, 0, &e) != 0);
    CHECK_MSG(strstr(e.msg, "no/such/dir/x.safetensors"), "%s", e.msg);
    CHECK(count_tmp_files() == 0);

    // Fails at the final rename, after everything was written: the target is a directory.
    const char *dir = test_path("a-directory");
    CHECK(mkdir(dir, 0755) == 0);
    CHECK(st_write(dir, &t, 1, NULL, 0, &e) != 0);
    CHECK_MSG(strstr(e.msg, "a-directory"), "%s", e.msg);
    CHECK(count_tmp_files() == 0);

    // A failed write keeps the previous file intact.
    const char *path = test_path("keep.safetensors");
    CHECK_MSG(st_write(path, &t, 1, NULL, 0, &e) == 0, "%s", e.msg);
    st_entry_t dup[] = {t, t};
    CHECK(st_write(path, dup, 2, NULL, 0, &e) != 0);
    st_file_t f;
    CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
    CHECK(f.n_tensors == 1);
    st_close(&f);
    CHECK(count_tmp_files() == 0);
}
