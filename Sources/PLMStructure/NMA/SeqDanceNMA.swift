import COpenBLAS

// SeqDance's normal-mode features for one structure (docs SEQDANCE.md,
// "Feature definitions (one structure -> NMA)"):
//
//   nma_res_k[i]     = sum over GNM modes m in cluster k of v_m[i]^2 / lambda_m
//   nma_pair_k[i,j]  = C_ij / sqrt(C_ii C_jj), C_ij = trace of the 3x3 block (i, j) of
//                      sum over ANM modes m in cluster k of v_m v_m^T / lambda_m
//
// Cost: the ANM eigenproblem (3N x 3N, all eigenpairs) dominates; the
// covariances are `dsyrk` updates C += B^T B with B [3K, N] gathered from the
// eigenvectors (K <= 256 modes per update, so B stays small), i.e. ~9 N^3
// flops in total instead of the ~27 N^3 of forming the 3N x 3N covariance as
// SeqDance does. Memory per protein: about 3 (3N)^2 doubles during the ANM
// eigensolve with dsyevd (1.9 GB at N = 3000), 2 (3N)^2 with dsyevr.
//
// Threads: this code never spawns threads itself; LAPACK/BLAS run on however
// many threads OpenBLAS is set to (`openblas_set_num_threads`). Callers that
// process many proteins at once should set OpenBLAS to 1 thread and run
// proteins in parallel (what `plm prepare nma` does).

/// SeqDance NMA features of one protein (N C-alpha atoms), in residue space.
public struct NMAFeatures: Sendable {
    /// Number of residues N.
    public let length: Int
    /// GNM fluctuations per cluster, row-major [N, 3]: `residue[i*3 + k]` = nma_res_(k+1) of residue i.
    public var residue: [Double]
    /// ANM correlations per cluster, row-major [N, N, 3]: `pair[(i*N + j)*3 + k]` = nma_pair_(k+1)(i, j).
    public var pair: [Double]
    /// GNM eigenvalues (ascending, non-zero) [N - zero modes].
    public var gnmEigenvalues: [Double]
    /// ANM eigenvalues (ascending, non-zero) [3N - zero modes].
    public var anmEigenvalues: [Double]
    /// The GNM mode clusters.
    public var gnmClusters: ModeClusters
    /// The ANM mode clusters.
    public var anmClusters: ModeClusters
    /// Zero modes dropped (GNM, ANM): (1, 6) for a connected network.
    public var zeroModes: (gnm: Int, anm: Int)

    /// Residue features of cluster k (0, 1, 2) as [N].
    public func residueChannel(_ k: Int) -> [Double] { (0 ..< length).map { residue[$0 * 3 + k] } }
    /// Pair features of cluster k as row-major [N, N].
    public func pairChannel(_ k: Int) -> [Double] { (0 ..< length * length).map { pair[$0 * 3 + k] } }
}

/// SeqDance's NMA feature computation (GNM + ANM, stepped springs, three frequency clusters).
public enum SeqDanceNMA {
    /// Options; the defaults are SeqDance's.
    public struct Options: Sendable, Equatable {
        /// Spring constants and cut-off (default: SeqDance's stepped constants, 15 A).
        public var springs: SteppedSpringConstants = .seqDance
        /// LAPACK driver for both eigenproblems.
        public var driver: SymmetricEigenDriver = .dsyevd
        public init(springs: SteppedSpringConstants = .seqDance, driver: SymmetricEigenDriver = .dsyevd) {
            self.springs = springs
            self.driver = driver
        }
    }

    /// Computes the features from C-alpha coordinates (Angstrom), one per residue.
    /// Throws `NMAError` for fewer than 3 atoms, coincident atoms, LAPACK failures, or when a
    /// cluster ends up empty (SeqDance would store NaN there).
    public static func features(caCoordinates xyz: [SIMD3<Double>], options: Options = Options()) throws -> NMAFeatures {
        guard xyz.count >= 3 else { throw NMAError.tooFewResidues(count: xyz.count, minimum: 3) }
        let gnm = try NormalModes.compute(.gnm, coordinates: xyz, springs: options.springs, driver: options.driver)
        let gnmClusters = ModeClusters(eigenvalues: gnm.eigenvalues)
        try checkClusters(gnmClusters, gnm)
        let residue = gnmFluctuations(gnm, clusters: gnmClusters)

        let anm = try NormalModes.compute(.anm, coordinates: xyz, springs: options.springs, driver: options.driver)
        let anmClusters = ModeClusters(eigenvalues: anm.eigenvalues)
        try checkClusters(anmClusters, anm)
        let pair = anmCorrelations(anm, clusters: anmClusters)

        return NMAFeatures(length: xyz.count, residue: residue, pair: pair,
                           gnmEigenvalues: gnm.eigenvalues, anmEigenvalues: anm.eigenvalues,
                           gnmClusters: gnmClusters, anmClusters: anmClusters,
                           zeroModes: (gnm.zeroModeCount, anm.zeroModeCount))
    }

    private static func checkClusters(_ c: ModeClusters, _ modes: NormalModes) throws {
        for (k, r) in c.ranges.enumerated() where r.isEmpty {
            throw NMAError.emptyModeCluster(model: modes.model.rawValue, cluster: k, modes: modes.count)
        }
    }

    /// GNM mean-square fluctuations per cluster: [N, 3], `sum_{m in cluster} v_m[i]^2 / lambda_m`.
    public static func gnmFluctuations(_ modes: NormalModes, clusters: ModeClusters) -> [Double] {
        precondition(modes.model == .gnm, "GNM modes expected")
        let n = modes.atomCount
        var out = [Double](repeating: 0, count: n * 3)
        modes.eigenvectors.withUnsafeBufferPointer { v in
            modes.eigenvalues.withUnsafeBufferPointer { lam in
                for (k, range) in clusters.ranges.enumerated() {
                    for m in range {
                        let inv = 1 / lam[m]
                        let col = m * n
                        for i in 0 ..< n {
                            let x = v[col + i]
                            out[i * 3 + k] += x * x * inv
                        }
                    }
                }
            }
        }
        return out
    }

    /// ANM residue cross-correlations per cluster: [N, N, 3].
    /// For cluster k: `C = sum_{m} (v_m / sqrt(lambda_m)) (v_m / sqrt(lambda_m))^T` reduced to N x N by
    /// 3x3 block traces, then `C_ij / sqrt(C_ii C_jj)`.
    public static func anmCorrelations(_ modes: NormalModes, clusters: ModeClusters) -> [Double] {
        precondition(modes.model == .anm, "ANM modes expected")
        let n = modes.atomCount, dim = 3 * n
        var out = [Double](repeating: 0, count: n * n * 3)
        var cov = [Double](repeating: 0, count: n * n)
        let chunk = 256
        var gather = [Double](repeating: 0, count: 3 * chunk * n)
        for (k, range) in clusters.ranges.enumerated() where !range.isEmpty {
            // Modes in chunks of `chunk` keep the gathered matrix small ([3*chunk, N]) for large N.
            var first = true
            for lo in stride(from: range.lowerBound, to: range.upperBound, by: chunk) {
                let modesInChunk = min(chunk, range.upperBound - lo), rows = 3 * modesInChunk
                // B [3K, N] column-major: B[(3q + a), i] = v_{lo+q}[3i + a] / sqrt(lambda_{lo+q}).
                // Then C += B^T B accumulates the N x N block-trace covariance.
                gather.withUnsafeMutableBufferPointer { bp in
                    modes.eigenvectors.withUnsafeBufferPointer { v in
                        for q in 0 ..< modesInChunk {
                            let m = lo + q
                            let s = 1 / modes.eigenvalues[m].squareRoot()
                            let col = m * dim
                            for i in 0 ..< n {
                                let dst = i * rows + 3 * q, src = col + 3 * i
                                bp[dst] = v[src] * s
                                bp[dst + 1] = v[src + 1] * s
                                bp[dst + 2] = v[src + 2] * s
                            }
                        }
                    }
                }
                // C (column-major N x N, upper triangle) (+)= B^T B.
                gather.withUnsafeBufferPointer { bp in
                    cov.withUnsafeMutableBufferPointer { cp in
                        cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, Int32(n), Int32(rows),
                                    1.0, bp.baseAddress, Int32(rows), first ? 0.0 : 1.0, cp.baseAddress, Int32(n))
                    }
                }
                first = false
            }
            cov.withUnsafeBufferPointer { c in
                out.withUnsafeMutableBufferPointer { o in
                    // Column-major upper: C(i, j) with i <= j sits at c[j*n + i].
                    for j in 0 ..< n {
                        let cjj = c[j * n + j]
                        for i in 0 ... j {
                            let r = c[j * n + i] / (c[i * n + i] * cjj).squareRoot()
                            o[(i * n + j) * 3 + k] = r
                            o[(j * n + i) * 3 + k] = r
                        }
                    }
                }
            }
        }
        return out
    }
}
