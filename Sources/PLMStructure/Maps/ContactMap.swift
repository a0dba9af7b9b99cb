// C-alpha distance maps and the S-PLM structure-encoder input (docs SPLM.md):
// three channels, each `(d_c - clip(D, 0, d_c)) / d_c`, so 1 on the diagonal,
// falling linearly to 0 at the channel's threshold d_c and 0 beyond it;
// optionally padded (with 0, after the transform) or cropped (top-left block,
// i.e. the first S residues, as S-PLM truncates sequences) to S x S.

/// C-alpha distance and contact maps.
public enum ContactMap {
    /// S-PLM's default threshold (Angstrom) for all three channels.
    public static let splmDefaultThresholds: [Double] = [22, 22, 22]

    /// Euclidean distance matrix (Angstrom) of `xyz`, row-major [L, L], exactly symmetric, zero diagonal.
    public static func distanceMatrix(_ xyz: [SIMD3<Double>]) -> [Double] {
        let n = xyz.count
        var d = [Double](repeating: 0, count: n * n)
        d.withUnsafeMutableBufferPointer { dp in
            xyz.withUnsafeBufferPointer { x in
                for i in 0 ..< n {
                    for j in (i + 1) ..< max(n, i + 1) {
                        let r = x[j] - x[i]
                        let v = (r * r).sum().squareRoot()
                        dp[i * n + j] = v
                        dp[j * n + i] = v
                    }
                }
            }
        }
        return d
    }

    /// `(d_c - clip(D, 0, d_c)) / d_c` for one threshold.
    @inlinable
    public static func transform(distance: Double, threshold dc: Double) -> Double {
        (dc - min(max(distance, 0), dc)) / dc
    }

    /// S-PLM channels from a distance matrix [L, L] (row-major): channel-first [C, S, S] Float,
    /// C = `thresholds.count` (3 in S-PLM). S = `size` (pad with 0 / crop to the first S residues)
    /// or L when nil. Thresholds must be > 0.
    public static func splmChannels(distance: [Double], length n: Int,
                                    thresholds: [Double] = splmDefaultThresholds, size: Int? = nil) -> [Float] {
        precondition(distance.count == n * n, "distance has \(distance.count) values, expected \(n)x\(n)")
        precondition(thresholds.allSatisfy { $0 > 0 && $0.isFinite }, "thresholds must be positive, got \(thresholds)")
        let s = size ?? n
        precondition(s >= 0, "size must be >= 0")
        let m = min(s, n)
        var out = [Float](repeating: 0, count: thresholds.count * s * s)
        distance.withUnsafeBufferPointer { d in
            out.withUnsafeMutableBufferPointer { o in
                for (c, dc) in thresholds.enumerated() {
                    let base = c * s * s
                    for i in 0 ..< m {
                        for j in 0 ..< m {
                            o[base + i * s + j] = Float(transform(distance: d[i * n + j], threshold: dc))
                        }
                    }
                }
            }
        }
        return out
    }

    /// Convenience: S-PLM channels straight from coordinates.
    public static func splmChannels(_ xyz: [SIMD3<Double>], thresholds: [Double] = splmDefaultThresholds,
                                    size: Int? = nil) -> [Float] {
        splmChannels(distance: distanceMatrix(xyz), length: xyz.count, thresholds: thresholds, size: size)
    }

    /// Binary contacts (1 where D <= threshold, diagonal included), row-major [L, L].
    public static func binaryContacts(distance: [Double], length n: Int, threshold: Double = 8) -> [UInt8] {
        precondition(distance.count == n * n)
        return distance.map { $0 <= threshold ? 1 : 0 }
    }
}
