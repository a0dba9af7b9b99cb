#ifndef PLMKIT_CHDF5_SHIM_H
#define PLMKIT_CHDF5_SHIM_H
// HDF5 C API (Debian libhdf5-dev, serial build). Many HDF5 "constants" are
// macros that expand to function calls or globals Swift cannot import; they
// are exposed here as static inline functions.
#include <hdf5.h>

static inline unsigned plm_H5F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned plm_H5F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned plm_H5F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned plm_H5F_ACC_EXCL(void) { return H5F_ACC_EXCL; }
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
#endif
