import Foundation

// The structure encoder's input (S-PLM, docs/SPLM.md): the CA-CA distance
// map D [L, L] turned into C channels `(d_c - clip(D, 0, d_c)) / d_c`, one
// per threshold d_c (1 on the diagonal, 0 at and beyond d_c), padded with 0
// to a whole number of P x P patches and cut into non-overlapping patches.
// Plain arrays: the map is an input, no gradient flows into it.

/// Distance-map channels and patches for the contrastive structure encoder.
public enum DistanceMapPatches {
    /// CA coordinates [L * 3] (x0, y0, z0, x1, ...) -> channels [C, L, L],
    /// channel c = `(t_c - min(D, t_c)) / t_c` with D the Euclidean CA-CA distance.
    public static func channels(ca: [Float], thresholds: [Float]) -> [Float] {
        precondition(ca.count % 3 == 0, "distance map: CA coordinates must be [L * 3], got \(ca.count) values")
        precondition(!thresholds.isEmpty && thresholds.allSatisfy { $0 > 0 }, "distance map: thresholds must be positive")
        let l = ca.count / 3, c = thresholds.count
        var out = [Float](repeating: 0, count: c * l * l)
        ca.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<l {
                    for j in 0..<l {
                        let dx = x[3 * i] - x[3 * j], dy = x[3 * i + 1] - x[3 * j + 1], dz = x[3 * i + 2] - x[3 * j + 2]
                        let d = (dx * dx + dy * dy + dz * dz).squareRoot()
                        for (k, t) in thresholds.enumerated() {
                            o[(k * l + i) * l + j] = (t - Swift.min(d, t)) / t
                        }
                    }
                }
            }
        }
        return out
    }

    /// Patches per side for `length` residues: ceil(length / patch), rounded
    /// up to a multiple of `multiple` (the attention window, or 1).
    public static func grid(length: Int, patch: Int, multiple: Int = 1) -> Int {
        let g = (length + patch - 1) / patch
        let m = Swift.max(multiple, 1)
        return (g + m - 1) / m * m
    }

    /// Writes the patches of one example into `out` (G * G rows of C * P * P
    /// values, pre-zeroed): row `gy * G + gx` holds the channels of pixels
    /// (gy * P + py, gx * P + px) flattened in (c, py, px) order — the layout
    /// of a PyTorch `Conv2d(C, d, P, stride: P)` weight [d, C, P, P]
    /// reshaped to [d, C * P * P]. Pixels past `length` stay 0 (the padding value).
    public static func writePatches(channels m: [Float], length l: Int, channelCount c: Int, patch p: Int,
                                    grid g: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(m.count == c * l * l, "patches: channels must be [C, L, L]")
        precondition(g * p >= l, "patches: grid \(g) x patch \(p) does not cover \(l) residues")
        let row = c * p * p
        m.withUnsafeBufferPointer { src in
            for i in 0..<l {
                let gy = i / p, py = i % p
                for j in 0..<l {
                    let gx = j / p, px = j % p
                    let base = (gy * g + gx) * row + py * p + px
                    for k in 0..<c { out[base + k * p * p] = src[(k * l + i) * l + j] }
                }
            }
        }
    }

    /// Validity of each of the G * G patches of an example with `length`
    /// residues: true when the patch overlaps the L x L map.
    public static func validPatches(length l: Int, patch p: Int, grid g: Int) -> [Bool] {
        let n = (l + p - 1) / p
        var v = [Bool](repeating: false, count: g * g)
        for gy in 0..<Swift.min(n, g) { for gx in 0..<Swift.min(n, g) { v[gy * g + gx] = true } }
        return v
    }
}
