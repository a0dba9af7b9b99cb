#ifndef PLMKIT_COPENBLAS_SHIM_H
#define PLMKIT_COPENBLAS_SHIM_H
// cblas + OpenBLAS extensions (thread control, core name) and the LAPACK
// symmetric eigensolvers, all from Debian's libopenblas-dev.
#include <cblas.h>

// LAPACK (Fortran calling convention; every argument by pointer).
void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda,
             float *w, float *work, const int *lwork, int *iwork, const int *liwork, int *info);
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info);
void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
             const int *lda, const double *vl, const double *vu, const int *il, const int *iu,
             const double *abstol, int *m, double *w, double *z, const int *ldz, int *isuppz,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info);
#endif
