// safetensors: reading (memory-mapped) and writing (atomically) Hugging Face's tensor files.
//
// Format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N,
// N bytes of JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
// ..., "__metadata__": {"key": "string value", ...}}, then the raw little-endian data.
// Offsets are relative to the byte after the header.
//
// The reader validates everything before handing out a pointer: the header parses, every
// dtype is known, shape x dtype size == end - begin, offsets lie inside the file, tensors do
// not overlap and cover the data section exactly.  Errors name the file and the tensor.
#ifndef MANABI_MODEL_SAFETENSORS_H
#define MANABI_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef enum { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL } st_dtype_t;

#define ST_MAX_DIMS 8

typedef struct st_tensor {
    char *name;
    st_dtype_t dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t begin, end;  // byte range within the data section
} st_tensor_t;

typedef struct st_file {
    char path[4096];
    void *map;        // the whole file, read-only
    size_t size;
    const uint8_t *data;  // start of the data section
    st_tensor_t *tensors;
    int n_tensors;
    char **meta_keys, **meta_vals;
    int n_meta;
} st_file_t;

// Opens and validates path.  On success the caller must st_close(f).
int st_open(st_file_t *f, const char *path, err_t *e);
// Unmaps and frees; safe on a zeroed or already-closed struct.
void st_close(st_file_t *f);
// Gives the mapping's resident pages back to the kernel; they are read from the file again
// when touched.  (For a caller that has copied what it needs.)
void st_release(st_file_t *f);
const st_tensor_t *st_find(const st_file_t *f, const char *name);
// The __metadata__ value for key, or NULL.  Owned by f.
const char *st_meta(const st_file_t *f, const char *key);
const void *st_data(const st_file_t *f, const st_tensor_t *t);
int64_t st_numel(const st_tensor_t *t);
size_t st_dtype_size(st_dtype_t d);
const char *st_dtype_name(st_dtype_t d);
// Copies tensor `name` into dst as float32, converting from F32/F16/BF16.  Fails with a message
// naming the tensor if it is missing or its shape differs from shape[0..ndim).
int st_read_f32(const st_file_t *f, const char *name, float *dst, int ndim, const int64_t *shape, err_t *e);

typedef struct st_entry {
    const char *name;
    st_dtype_t dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
} st_entry_t;

// Writes the tensors (in the order given) and metadata pairs meta[2i], meta[2i+1] to path
// atomically (temporary file, fsync, rename).  The data section starts 8-byte aligned;
// tensors follow each other without gaps, as the format requires.
int st_write(const char *path, const st_entry_t *t, int n, const char *const *meta, int n_meta, err_t *e);

#endif
