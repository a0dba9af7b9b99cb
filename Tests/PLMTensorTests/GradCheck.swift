import Foundation
import PLMTensor
import Testing

/// Central-difference gradient check of `f` at `inputs`.
///
/// L = Σ f(inputs) ⊙ w for a fixed random w; the analytic gradient from
/// `backward()` is compared with (L(x+ε) - L(x-ε)) / 2ε evaluated in Double
/// on up to `maxProbes` entries per input. Passes when
/// max|analytic - numeric| ≤ tol · max(max|numeric|, 1).
func gradCheck(_ name: String, _ inputs: [Tensor], eps: Float = 1e-2, tol: Double = 1e-2,
               maxProbes: Int = 60, seed: UInt64 = 7,
               sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor) {
    for x in inputs { x.requiresGrad = true; x.grad = nil }
    let out = f(inputs)
    var rng = RNG(seed: seed)
    let w = Tensor.normal(out.shape, rng: &rng)
    (out * w).sum().backward()
    let wv = w.toArray()
    func loss() -> Double {
        let o = withNoGrad { f(inputs) }
        var s = 0.0
        for (a, b) in zip(o.toArray(), wv) { s += Double(a) * Double(b) }
        return s
    }
    for (ii, x) in inputs.enumerated() {
        guard let g = x.grad else {
            Issue.record("\(name): input \(ii) got no gradient", sourceLocation: sourceLocation)
            continue
        }
        #expect(g.shape == x.shape, "\(name): grad shape \(g.shape) vs input \(x.shape)", sourceLocation: sourceLocation)
        let n = x.count
        let probes = n <= maxProbes ? Array(0..<n) : (0..<maxProbes).map { _ in rng.nextInt(below: n) }
        var maxDiff = 0.0, maxNum = 0.0, worst = -1
        for i in probes {
            let orig = x.data[i]
            x.data[i] = orig + eps
            let lp = loss()
            x.data[i] = orig - eps
            let lm = loss()
            x.data[i] = orig
            let num = (lp - lm) / Double(2 * eps)
            let ana = Double(g.data[i])
            maxNum = max(maxNum, abs(num))
            if abs(ana - num) > maxDiff { maxDiff = abs(ana - num); worst = i }
        }
        let rel = maxDiff / max(maxNum, 1)
        #expect(rel <= tol,
                "\(name): input \(ii) \(x.shape) gradient mismatch: max|Δ| \(maxDiff) (rel \(rel)) at flat index \(worst): analytic \(worst >= 0 ? g.data[worst] : 0)",
                sourceLocation: sourceLocation)
    }
}

/// A seeded random tensor with values in [low, high).
func rand(_ shape: [Int], _ seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
    var r = RNG(seed: seed)
    return Tensor.uniform(shape, low: low, high: high, rng: &r)
}

/// Values kept at least `gap` away from each point in `kinks` (for ops with kinks).
func randAvoiding(_ shape: [Int], _ seed: UInt64, kinks: [Float], gap: Float = 0.05, low: Float = -2, high: Float = 2) -> Tensor {
    let t = rand(shape, seed, low: low, high: high)
    let p = t.data
    for i in 0..<t.count {
        for k in kinks where abs(p[i] - k) < gap { p[i] = k + (p[i] >= k ? gap : -gap) * 1.5 }
    }
    return t
}

/// Max |a - b| / max|b| (the "relative to the reference's scale" measure).
func relError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var d = 0.0, m = 0.0
    for (x, y) in zip(a, b) { d = max(d, abs(Double(x) - Double(y))); m = max(m, abs(Double(y))) }
    return d / max(m, 1e-30)
}

/// Random shapes with odd sizes and size-1 dims, seeded.
let oddShapes: [[Int]] = [[1], [7], [3, 1], [1, 5], [2, 3, 5], [4, 1, 3], [3, 7, 1], [1, 1, 9]]

/// Distinct values spaced 0.1 apart in a seeded random order (for max, whose
/// finite differences must not swap the arg-max).
func distinct(_ shape: [Int], _ seed: UInt64) -> Tensor {
    let n = Shape.count(shape)
    var r = RNG(seed: seed)
    var v = (0..<n).map { Float($0) * 0.1 - Float(n) * 0.05 }
    for i in stride(from: n - 1, to: 0, by: -1) { v.swapAt(i, r.nextInt(below: i + 1)) }
    return Tensor(shape: shape, values: v)
}
