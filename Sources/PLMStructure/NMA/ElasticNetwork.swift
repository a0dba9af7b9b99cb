// Elastic network models on C-alpha atoms: the GNM Kirchhoff matrix and the
// ANM Hessian, with spring constants that step down with distance.
//
// Matches ProDy's `GNM.buildKirchhoff` / `ANM.buildHessian` with a custom
// `gamma(dist2)` function (the one SeqDance passes), with one documented
// difference: ProDy's GNM finds pairs with its KD-tree, whose distances carry
// float32 rounding (~1e-5 A^2 in dist2), while this code uses the exact
// float64 squared distance for both models. Only pairs within ~1e-5 A^2 of a
// step boundary (16, 100, 225) could differ; none occur in the reference
// structures (checked by scripts/reference/nma/make_fixtures.py).

/// Spring constant as a step function of the squared inter-atomic distance.
public struct SteppedSpringConstants: Sendable, Equatable, Codable {
    /// One step: pairs with squared distance `<= maxSquaredDistance` (and above the previous step) get `constant`.
    public struct Step: Sendable, Equatable, Codable {
        public var maxSquaredDistance: Double
        public var constant: Double
        public init(maxSquaredDistance: Double, constant: Double) {
            self.maxSquaredDistance = maxSquaredDistance
            self.constant = constant
        }
    }

    /// Steps in increasing `maxSquaredDistance`; beyond the last step the constant is 0.
    public var steps: [Step]
    /// Pair cut-off (Angstrom): pairs farther apart are not connected.
    public var cutoff: Double

    /// Creates a table; `steps` must be sorted by `maxSquaredDistance`.
    public init(steps: [Step], cutoff: Double) {
        precondition(zip(steps, steps.dropFirst()).allSatisfy { $0.maxSquaredDistance < $1.maxSquaredDistance },
                     "steps must be sorted by maxSquaredDistance")
        self.steps = steps
        self.cutoff = cutoff
    }

    /// SeqDance's constants: d^2 <= 16 -> 10, <= 100 -> 2, <= 225 -> 1, else 0; cut-off 15 A.
    public static let seqDance = SteppedSpringConstants(
        steps: [Step(maxSquaredDistance: 16, constant: 10),
                Step(maxSquaredDistance: 100, constant: 2),
                Step(maxSquaredDistance: 225, constant: 1)],
        cutoff: 15)

    /// Uniform constant `gamma` within `cutoff` (the classic GNM/ANM).
    public static func uniform(_ gamma: Double = 1, cutoff: Double) -> SteppedSpringConstants {
        SteppedSpringConstants(steps: [Step(maxSquaredDistance: cutoff * cutoff, constant: gamma)], cutoff: cutoff)
    }

    /// Spring constant for a pair at squared distance `d2`.
    @inlinable
    public func constant(squaredDistance d2: Double) -> Double {
        for s in steps where d2 <= s.maxSquaredDistance { return s.constant }
        return 0
    }
}

/// Builders for the GNM Kirchhoff matrix and the ANM Hessian (dense, Double).
public enum ElasticNetwork {
    /// Checks coordinates: finite everywhere.
    static func validate(_ xyz: [SIMD3<Double>]) throws {
        for (i, p) in xyz.enumerated() where !(p.x.isFinite && p.y.isFinite && p.z.isFinite) {
            throw NMAError.nonFiniteCoordinate(index: i)
        }
    }

    /// GNM Kirchhoff (connectivity) matrix [N, N], row-major (symmetric):
    /// `K_ij = -gamma_ij` for i != j within the cut-off, `K_ii = sum_j gamma_ij`.
    public static func kirchhoff(_ xyz: [SIMD3<Double>], springs: SteppedSpringConstants = .seqDance) throws -> [Double] {
        try validate(xyz)
        let n = xyz.count
        let cutoff2 = springs.cutoff * springs.cutoff
        var k = [Double](repeating: 0, count: n * n)
        k.withUnsafeMutableBufferPointer { kp in
            xyz.withUnsafeBufferPointer { x in
                for i in 0 ..< n {
                    let xi = x[i]
                    for j in (i + 1) ..< max(n, i + 1) {
                        let d = x[j] - xi
                        let d2 = (d * d).sum()
                        guard d2 <= cutoff2 else { continue }
                        let g = springs.constant(squaredDistance: d2)
                        kp[i * n + j] = -g
                        kp[j * n + i] = -g
                        kp[i * n + i] += g
                        kp[j * n + j] += g
                    }
                }
            }
        }
        return k
    }

    /// ANM Hessian [3N, 3N], row-major (symmetric). Off-diagonal 3x3 block (i, j) within the
    /// cut-off is `-gamma_ij / d_ij^2 * r_ij r_ij^T` (r_ij = x_j - x_i); diagonal blocks are minus the
    /// sum of their row's off-diagonal blocks.
    public static func hessian(_ xyz: [SIMD3<Double>], springs: SteppedSpringConstants = .seqDance) throws -> [Double] {
        try validate(xyz)
        let n = xyz.count, dof = 3 * n
        let cutoff2 = springs.cutoff * springs.cutoff
        var h = [Double](repeating: 0, count: dof * dof)
        var coincident: (Int, Int)?
        h.withUnsafeMutableBufferPointer { hp in
            xyz.withUnsafeBufferPointer { x in
                for i in 0 ..< n {
                    let xi = x[i]
                    for j in (i + 1) ..< max(n, i + 1) {
                        let r = x[j] - xi
                        let d2 = (r * r).sum()
                        guard d2 <= cutoff2 else { continue }
                        if d2 == 0 {
                            if coincident == nil { coincident = (i, j) }
                            continue
                        }
                        let g = springs.constant(squaredDistance: d2)
                        if g == 0 { continue }
                        let s = -g / d2
                        for a in 0 ..< 3 {
                            for b in 0 ..< 3 {
                                let v = r[a] * r[b] * s
                                hp[(3 * i + a) * dof + 3 * j + b] = v
                                hp[(3 * j + a) * dof + 3 * i + b] = v
                                hp[(3 * i + a) * dof + 3 * i + b] -= v
                                hp[(3 * j + a) * dof + 3 * j + b] -= v
                            }
                        }
                    }
                }
            }
        }
        if let (i, j) = coincident { throw NMAError.coincidentAtoms(first: i, second: j) }
        return h
    }
}
