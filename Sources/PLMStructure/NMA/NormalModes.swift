// Normal modes of an elastic network: the non-zero eigenpairs of the GNM
// Kirchhoff matrix or the ANM Hessian, and SeqDance's split of the modes into
// three frequency clusters.

/// Which elastic network model produced a set of modes.
public enum ElasticNetworkModel: String, Sendable, Codable {
    /// Gaussian network model: isotropic, N x N Kirchhoff, one zero mode.
    case gnm = "GNM"
    /// Anisotropic network model: 3N x 3N Hessian, six zero modes.
    case anm = "ANM"

    /// Degrees of freedom per atom.
    public var dimensionsPerAtom: Int { self == .gnm ? 1 : 3 }
    /// Zero modes of a connected network (global translation, and rotation for ANM).
    public var expectedZeroModes: Int { self == .gnm ? 1 : 6 }
}

/// The non-zero normal modes of one elastic network, slowest first.
public struct NormalModes: Sendable {
    /// GNM or ANM.
    public let model: ElasticNetworkModel
    /// Number of atoms N.
    public let atomCount: Int
    /// Eigenvalues above the zero threshold, ascending [M].
    public let eigenvalues: [Double]
    /// Eigenvectors, column-major [dimension, M] (dimension = N for GNM, 3N for ANM,
    /// ANM rows ordered x0, y0, z0, x1, ...): mode k is `eigenvectors[k*dimension ..< (k+1)*dimension]`.
    public let eigenvectors: [Double]
    /// Eigenvalues below the threshold that were dropped (1 for a connected GNM, 6 for ANM;
    /// more when the network falls apart into pieces farther than the cut-off from each other).
    public let zeroModeCount: Int

    /// Rows of each eigenvector.
    public var dimension: Int { atomCount * model.dimensionsPerAtom }
    /// Number of non-zero modes M.
    public var count: Int { eigenvalues.count }

    /// ProDy's `ZERO`: eigenvalues below it are zero modes (`solveEig(..., zeros=False)`).
    public static let zeroThreshold = 1e-6

    /// Computes every non-zero mode of a GNM or ANM on C-alpha coordinates (Angstrom).
    /// Equivalent to ProDy `buildKirchhoff`/`buildHessian(coords, cutoff, gamma)` followed by
    /// `calcModes(n_modes=None)` (all modes, zero modes removed).
    public static func compute(_ model: ElasticNetworkModel, coordinates xyz: [SIMD3<Double>],
                               springs: SteppedSpringConstants = .seqDance,
                               driver: SymmetricEigenDriver = .dsyevd) throws -> NormalModes {
        let minimum = model == .gnm ? 2 : 3
        guard xyz.count >= minimum else { throw NMAError.tooFewResidues(count: xyz.count, minimum: minimum) }
        let matrix = model == .gnm ? try ElasticNetwork.kirchhoff(xyz, springs: springs)
                                   : try ElasticNetwork.hessian(xyz, springs: springs)
        let dim = xyz.count * model.dimensionsPerAtom
        var eig = try SymmetricEigensolver.decompose(consume matrix, order: dim, driver: driver)
        // Ascending order, so the zero modes are the first ones (ProDy counts values < ZERO,
        // which for a positive semi-definite matrix are exactly the leading ones).
        let zeros = eig.values.prefix { $0 < zeroThreshold }.count
        guard zeros < dim else { throw NMAError.noModes(model: model.rawValue, zeroModes: zeros, order: dim) }
        eig.values.removeFirst(zeros)
        eig.vectors.removeFirst(zeros * dim)  // in place: the buffer is uniquely owned
        return NormalModes(model: model, atomCount: xyz.count, eigenvalues: eig.values,
                           eigenvectors: eig.vectors, zeroModeCount: zeros)
    }
}

/// SeqDance's split of modes (ascending eigenvalues) into three frequency clusters of about
/// equal share of the total fluctuation.
///
/// `w = (1/lambda) / sum(1/lambda)`, `cs = cumsum(w)`, `i1 = argmin |cs - 1/3|`,
/// `i2 = argmin |cs - (1 + cs[i1]) / 2|` (first index on ties, like `np.argmin`);
/// clusters `0...i1`, `i1+1...i2`, `i2+1..<M`. Cluster 0 holds the slowest modes.
public struct ModeClusters: Sendable, Equatable {
    /// The three index ranges (may be empty for very small systems).
    public let ranges: [Range<Int>]
    /// `i1` and `i2` of the formula.
    public let boundaries: (Int, Int)

    public static func == (a: ModeClusters, b: ModeClusters) -> Bool { a.ranges == b.ranges }

    /// Splits `eigenvalues` (ascending, all > 0).
    public init(eigenvalues: [Double]) {
        let m = eigenvalues.count
        guard m > 0 else {
            ranges = [0 ..< 0, 0 ..< 0, 0 ..< 0]
            boundaries = (-1, -1)
            return
        }
        var total = 0.0
        for v in eigenvalues { total += 1 / v }
        var cs = [Double](repeating: 0, count: m)
        var acc = 0.0
        // numpy: contri = (1/eval) / (1/eval).sum(); cumsum(contri) — divide first, then accumulate.
        for k in 0 ..< m {
            acc += (1 / eigenvalues[k]) / total
            cs[k] = acc
        }
        func argmin(_ target: Double) -> Int {
            var best = 0, bestValue = abs(cs[0] - target)
            for k in 1 ..< max(m, 1) where abs(cs[k] - target) < bestValue {
                best = k
                bestValue = abs(cs[k] - target)
            }
            return best
        }
        let i1 = argmin(1.0 / 3.0)
        let i2 = argmin(0.5 * (1 + cs[i1]))
        boundaries = (i1, i2)
        // np.arange(i1+1, i2+1) is empty when i2 <= i1.
        ranges = [0 ..< i1 + 1, (i1 + 1) ..< max(i1 + 1, i2 + 1), max(i1 + 1, i2 + 1) ..< max(m, i2 + 1)]
    }
}
