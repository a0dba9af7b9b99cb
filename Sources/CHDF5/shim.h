#ifndef PLMKIT_CHDF5_SHIM_H
#define PLMKIT_CHDF5_SHIM_H
// HDF5 C API (Debian libhdf5-dev, serial build). Many HDF5 "constants" are
// macros that expand to function calls or globals Swift cannot import; they
// are exposed here as static inline functions.
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

static inline unsigned plm_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned plm_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned plm_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned plm_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
// Groups, datasets, named datatypes and attributes opened through this file id.
static inline unsigned plm_H5F_OBJ_LOCAL_OBJECTS(void) {
    return H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL;
}
static inline hid_t plm_H5P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t plm_H5S_ALL(void) { return H5S_ALL; }
static inline hid_t plm_H5T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t plm_H5T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t plm_H5T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t plm_H5T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t plm_H5T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t plm_H5T_C_S1(void) { return H5T_C_S1; }
static inline hid_t plm_H5P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t plm_H5P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline herr_t plm_silence_errors(void) { return H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

// --- Added for Sources/PLMData/HDF5 -------------------------------------

// Little-endian standard file types (what h5py writes on x86/arm).
static inline hid_t plm_H5T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t plm_H5T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t plm_H5T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t plm_H5T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t plm_H5T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline size_t plm_H5T_VARIABLE(void) { return H5T_VARIABLE; }
static inline hsize_t plm_H5S_UNLIMITED(void) { return H5S_UNLIMITED; }
static inline hid_t plm_H5P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }

// A file-access property list with HDF5's own flock() locking switched off
// (PLMKit takes its own lock on a close-on-exec descriptor; see
// HDF5FileLock). H5Pset_file_locking exists from 1.10.7 and 1.12.1; with an
// older library the list is the default one and HDF5 locks as before.
// Returns a negative id on failure; the caller closes it.
static inline hid_t plm_fapl_without_locking(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
#if (H5_VERSION_GE(1, 10, 7) && !H5_VERSION_GE(1, 11, 0)) || H5_VERSION_GE(1, 12, 1)
    if (H5Pset_file_locking(fapl, 0, 1) < 0) { H5Pclose(fapl); return -1; }
#endif
    return fapl;
}

// Reclaims the memory HDF5 allocated for variable-length data read into buf.
static inline herr_t plm_vlen_reclaim(hid_t type_id, hid_t space_id, void *buf) {
#if H5_VERSION_GE(1, 12, 0)
    return H5Treclaim(type_id, space_id, H5P_DEFAULT, buf);
#else
    return H5Dvlen_reclaim(type_id, space_id, H5P_DEFAULT, buf);
#endif
}

// Error-stack walk: keeps the outermost (API-level) and the innermost
// (most specific) entries as "function: description".
typedef struct { char first[256]; char last[256]; int count; } plm_error_sink;

static herr_t plm_error_walk_cb(unsigned n, const H5E_error2_t *err, void *data) {
    plm_error_sink *sink = (plm_error_sink *)data;
    (void)n;
    if (err == NULL) { return 0; }
    char *dst = sink->count == 0 ? sink->first : sink->last;
    snprintf(dst, 256, "%s: %s", err->func_name ? err->func_name : "?", err->desc ? err->desc : "?");
    sink->count += 1;
    return 0;
}

// Copies a short summary of the current thread's HDF5 error stack into buf
// (empty string when the stack is empty) and clears the stack.
static inline void plm_error_summary(char *buf, size_t len) {
    if (buf == NULL || len == 0) { return; }
    buf[0] = '\0';
    plm_error_sink sink;
    sink.first[0] = '\0'; sink.last[0] = '\0'; sink.count = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, plm_error_walk_cb, &sink);
    H5Eclear2(H5E_DEFAULT);
    if (sink.count <= 1) { snprintf(buf, len, "%s", sink.first); }
    else { snprintf(buf, len, "%s (%s)", sink.first, sink.last); }
}

static inline void plm_error_clear(void) { H5Eclear2(H5E_DEFAULT); }

static herr_t plm_attr_count_cb(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)loc; (void)name; (void)info;
    *(hsize_t *)data += 1;
    return 0;
}

// Number of attributes on an open object, or -1 on failure.
static inline long long plm_attribute_count(hid_t obj) {
    hsize_t count = 0;
    hsize_t idx = 0;
    if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, plm_attr_count_cb, &count) < 0) { return -1; }
    return (long long)count;
}
#endif
