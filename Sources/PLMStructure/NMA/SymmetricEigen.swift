import COpenBLAS

/// LAPACK routine used for the dense symmetric eigenproblems of NMA.
///
/// Both compute every eigenpair in Double. `dsyevd` (divide and conquer, the
/// default) took 10-25% less CPU time than `dsyevr` for the ANM Hessians of
/// 500-800 residue proteins with Debian's OpenBLAS (docs/FEATURES.md) but needs ~3n^2 doubles (in place + a 2n^2 workspace);
/// `dsyevr` (MRRR) needs ~2n^2 (input + eigenvectors). SciPy's `eigh` (hence
/// ProDy) uses `dsyevr`.
public enum SymmetricEigenDriver: String, Sendable, CaseIterable, Codable {
    /// Divide and conquer (`dsyevd`), eigenvectors overwrite the input.
    case dsyevd
    /// Multiple relatively robust representations (`dsyevr`, RANGE = 'A').
    case dsyevr
}

/// Eigenvalues (ascending) and eigenvectors of a real symmetric matrix.
public struct SymmetricEigendecomposition: Sendable {
    /// Matrix order n.
    public let order: Int
    /// Eigenvalues in ascending order [n].
    public var values: [Double]
    /// Eigenvectors, column-major [n, n]: vector k is `vectors[k*n ..< (k+1)*n]`, unit norm.
    public var vectors: [Double]
}

/// Dense symmetric eigensolver over LAPACK (`dsyevd_` / `dsyevr_` from OpenBLAS).
public enum SymmetricEigensolver {
    /// Decomposes the symmetric matrix `matrix` [n, n] (only the lower triangle in
    /// column-major order, i.e. the upper triangle in row-major order, is read).
    /// Consumes `matrix` (its storage is reused for the eigenvectors by `dsyevd`).
    public static func decompose(_ matrix: consuming [Double], order n: Int,
                                 driver: SymmetricEigenDriver = .dsyevd) throws -> SymmetricEigendecomposition {
        precondition(matrix.count == n * n, "matrix has \(matrix.count) values, expected \(n)x\(n)")
        guard n > 0 else { return SymmetricEigendecomposition(order: 0, values: [], vectors: []) }
        guard n <= 46_000 else { throw NMAError.tooLarge(order: n) }  // 32-bit LAPACK indices
        switch driver {
        case .dsyevd: return try syevd(consume matrix, n)
        case .dsyevr: return try syevr(consume matrix, n)
        }
    }

    private static func syevd(_ a: consuming [Double], _ n: Int) throws -> SymmetricEigendecomposition {
        var a = a
        var jobz = Int8(UInt8(ascii: "V")), uplo = Int8(UInt8(ascii: "L"))
        var nn = Int32(n), lda = Int32(n), info: Int32 = 0
        var w = [Double](repeating: 0, count: n)
        // Workspace query.
        var lwork: Int32 = -1, liwork: Int32 = -1
        var wq: Double = 0
        var iwq: Int32 = 0
        a.withUnsafeMutableBufferPointer { ap in
            dsyevd_(&jobz, &uplo, &nn, ap.baseAddress, &lda, &w, &wq, &lwork, &iwq, &liwork, &info)
        }
        guard info == 0 else { throw NMAError.lapackFailed(routine: "dsyevd", info: Int(info)) }
        lwork = Int32(wq.rounded(.up))
        liwork = iwq
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        a.withUnsafeMutableBufferPointer { ap in
            dsyevd_(&jobz, &uplo, &nn, ap.baseAddress, &lda, &w, &work, &lwork, &iwork, &liwork, &info)
        }
        guard info == 0 else { throw NMAError.lapackFailed(routine: "dsyevd", info: Int(info)) }
        return SymmetricEigendecomposition(order: n, values: w, vectors: a)
    }

    private static func syevr(_ a: consuming [Double], _ n: Int) throws -> SymmetricEigendecomposition {
        var a = a
        var jobz = Int8(UInt8(ascii: "V")), range = Int8(UInt8(ascii: "A")), uplo = Int8(UInt8(ascii: "L"))
        var nn = Int32(n), lda = Int32(n), ldz = Int32(n), info: Int32 = 0, m: Int32 = 0
        var vl = 0.0, vu = 0.0, il: Int32 = 1, iu = Int32(n)
        var abstol = 0.0  // LAPACK's default tolerance (eps * |T|); MRRR ignores it for all eigenvalues
        var w = [Double](repeating: 0, count: n)
        var z = [Double](repeating: 0, count: n * n)
        var isuppz = [Int32](repeating: 0, count: 2 * n)
        var lwork: Int32 = -1, liwork: Int32 = -1
        var wq: Double = 0
        var iwq: Int32 = 0
        a.withUnsafeMutableBufferPointer { ap in
            z.withUnsafeMutableBufferPointer { zp in
                dsyevr_(&jobz, &range, &uplo, &nn, ap.baseAddress, &lda, &vl, &vu, &il, &iu, &abstol, &m,
                        &w, zp.baseAddress, &ldz, &isuppz, &wq, &lwork, &iwq, &liwork, &info)
            }
        }
        guard info == 0 else { throw NMAError.lapackFailed(routine: "dsyevr", info: Int(info)) }
        lwork = Int32(wq.rounded(.up))
        liwork = iwq
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        a.withUnsafeMutableBufferPointer { ap in
            z.withUnsafeMutableBufferPointer { zp in
                dsyevr_(&jobz, &range, &uplo, &nn, ap.baseAddress, &lda, &vl, &vu, &il, &iu, &abstol, &m,
                        &w, zp.baseAddress, &ldz, &isuppz, &work, &lwork, &iwork, &liwork, &info)
            }
        }
        guard info == 0 else { throw NMAError.lapackFailed(routine: "dsyevr", info: Int(info)) }
        guard Int(m) == n else { throw NMAError.lapackFailed(routine: "dsyevr (found \(m) of \(n) eigenvalues)", info: 0) }
        return SymmetricEigendecomposition(order: n, values: w, vectors: z)
    }
}

/// OpenBLAS's thread count, which LAPACK calls here run on. Process-wide: OpenBLAS has one
/// setting for all caller threads. When several threads each run their own eigenproblem,
/// set it to 1 first (they would otherwise oversubscribe the cores).
public enum LAPACKThreads {
    /// Current OpenBLAS thread count.
    public static var count: Int { Int(openblas_get_num_threads()) }
    /// Sets the OpenBLAS thread count (>= 1). Only when it changes: changing it
    /// while another thread is inside a threaded LAPACK/BLAS call can corrupt
    /// that call's result (seen as wrong NMA eigenvectors in concurrent tests).
    public static func set(_ n: Int) {
        precondition(n >= 1, "thread count must be >= 1")
        if openblas_get_num_threads() != Int32(n) { openblas_set_num_threads(Int32(n)) }
    }
}
