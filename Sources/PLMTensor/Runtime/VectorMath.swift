import Foundation

// Vectorised row kernels shared by the ops: exp, softmax, GELU, reductions.
//
// Written with SIMD8<Float> and plain arithmetic only, so they compile to
// SSE2 (two 4-lane halves) on the baseline x86-64 target SwiftPM builds for,
// and to wider code where the target allows. Results depend only on the
// input row, never on the thread count or on how rows are split.

typealias F8 = SIMD8<Float>

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> F8 {
    UnsafeRawPointer(p).loadUnaligned(as: F8.self)
}

@inline(__always) func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
}

/// e^x lane-wise for x ≤ 0 (every caller passes shifted softmax scores,
/// log-probabilities or -x²/2): within ~2 ulp of the correctly rounded value
/// on [-87.3, 0], exactly 0 below (e^-inf = 0), NaN for NaN. Cody–Waite
/// reduction x = n·ln2 + r, |r| ≤ ln2/2, then a degree-6 Taylor polynomial
/// (truncation error < 7e-8 relative; a fitted minimax polynomial of the same
/// degree is more accurate against exact values but moved a training step
/// further from PyTorch's, so the Taylor form stays) times 2^n built from the
/// exponent bits (n ∈ [-126, 0], always a normal float).
@_transparent func vexp(_ x: F8) -> F8 {
    let lo: Float = -87.336_54
    let under = x .< lo
    var xc = x
    xc.replace(with: lo, where: under)
    // n = round(x / ln2) by the 1.5·2^23 trick (exact for |n| < 2^22): the
    // sum's low mantissa bits hold n.
    let magic = F8(repeating: 12_582_912)
    let kf = xc * 1.442_695_04 + magic
    let nf = kf - magic
    var r = xc - nf * 0.693_359_375          // ln2 high part (exact product)
    r = r - nf * -2.121_944_4e-4             // ln2 low part
    var p = F8(repeating: 1.0 / 720)
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let n = unsafeBitCast(kf, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let scale = unsafeBitCast((n &+ 127) &<< 23, to: F8.self)
    var y = p * scale                        // NaN stays NaN through every step
    y.replace(with: 0, where: under)
    return y
}


/// Max of a row (-inf for an empty row; NaN-free rows only need this).
@inline(__always) func rowMax(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var j = 0
    var m = -Float.infinity
    if n >= 8 {
        var v = F8(repeating: -.infinity)
        while j + 8 <= n { let u = load8(x + j); v.replace(with: u, where: u .> v); j += 8 }
        for l in 0..<8 where v[l] > m { m = v[l] }
    }
    while j < n { if x[j] > m { m = x[j] }; j += 1 }
    return m
}

/// Σ x over a row (8 lanes, then the lanes, then the tail: a fixed order).
@inline(__always) func rowSum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var j = 0
    var v = F8()
    while j + 8 <= n { v += load8(x + j); j += 8 }
    var s = v.sum()
    while j < n { s += x[j]; j += 1 }
    return s
}

/// Σ a·b over a row.
@inline(__always) func rowDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var j = 0
    var v = F8()
    while j + 8 <= n { v += load8(a + j) * load8(b + j); j += 8 }
    var s = v.sum()
    while j < n { s += a[j] * b[j]; j += 1 }
    return s
}

/// y = e^(x - m) over a row; returns Σ y. `y` may alias `x`.
@inline(__always) func rowExpShifted(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ m: Float) -> Float {
    var j = 0
    var acc = F8()
    let mv = F8(repeating: m)
    while j + 8 <= n {
        let e = vexp(load8(x + j) - mv)
        store8(e, y + j)
        acc += e
        j += 8
    }
    var s = acc.sum()
    if j < n {
        var t = F8(repeating: -.infinity)
        for i in j..<n { t[i - j] = x[i] - m }
        let e = vexp(t)
        for i in j..<n { y[i] = e[i - j]; s += e[i - j] }
    }
    return s
}

/// y *= s over a row.
@inline(__always) func rowScale(_ y: UnsafeMutablePointer<Float>, _ n: Int, _ s: Float) {
    var j = 0
    let sv = F8(repeating: s)
    while j + 8 <= n { store8(load8(y + j) * sv, y + j); j += 8 }
    while j < n { y[j] *= s; j += 1 }
}

/// Softmax of one row (max-shifted); an all -inf row gives NaN (0/0), as PyTorch.
@inline(__always)
func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ d: Int) {
    var m = rowMax(x, d)
    if m == -Float.infinity { m = 0 }
    let s = rowExpShifted(x, y, d, m)
    rowScale(y, d, 1 / s)
}

/// dx = y ⊙ (g - Σ g⊙y) over a row (softmax backward). `dx` may alias `g`.
@inline(__always)
func softmaxBackwardRow(_ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ d: Int,
                        scale: Float = 1) {
    let dot = rowDot(g, y, d)
    var j = 0
    let dv = F8(repeating: dot), sv = F8(repeating: scale)
    while j + 8 <= d { store8(load8(y + j) * (load8(g + j) - dv) * sv, dx + j); j += 8 }
    while j < d { dx[j] = y[j] * (g[j] - dot) * scale; j += 1 }
}

// MARK: GELU (erf form)

/// Φ(x) (the standard normal CDF) and φ(x) lane-wise, from one exponential.
///
/// With z = |x|/√2 and t = 1/(1 + z/2): Φ(-|x|) = ½·erfc(z) = ½·e^(-x²/2)·t·G(t),
/// G(t) = erfcx(z)/t, a smooth function on t ∈ (0, 1] (G(0) = 1/(2√π),
/// G(1) = 1). G is a degree-10 polynomial fitted here (iteratively
/// reweighted least squares against scipy's erfcx in double; relative error
/// 1.1e-8 in double, 1.9e-7 evaluated in float), and φ(x) = e^(-x²/2)/√(2π)
/// shares the exponential. The exponent -x²/2 is carried as an exact hi + lo
/// pair (x split into 12-bit halves) and the rounding of its sum is applied
/// to first order, so the relative error stays ~2e-7 far into both tails (a
/// plain float x² would lose 1e-5 at |x| = 12).
@_transparent func vnormalCDF(_ x: F8) -> (cdf: F8, pdf: F8) {
    let ax = unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: F8.self)
    let t = 1 / (1 + 0.353_553_39 * ax)      // 1/(1 + z/2), z = |x|/√2
    var g = F8(repeating: 0.042_353_988)
    g = g * t - 0.230_864_02
    g = g * t + 0.486_191_15
    g = g * t - 0.446_990_43
    g = g * t + 0.127_097_64
    g = g * t - 0.057_235_625
    g = g * t + 0.093_001_306
    g = g * t + 0.175_376_74
    g = g * t + 0.246_880_59
    g = g * t + 0.282_093_85
    g = g * t + 0.282_094_81
    // -x²/2 = hi + lo exactly (hi: product of 12-bit halves, exact in float).
    let xh = unsafeBitCast(unsafeBitCast(ax, to: SIMD8<UInt32>.self) & 0xFFFF_F000, to: F8.self)
    let xl = ax - xh
    let hi = -0.5 * (xh * xh)
    let lo = -0.5 * (xl * (ax + xh))
    let s = hi + lo
    let e = lo - (s - hi)                    // exact: |hi| ≥ |lo| (Fast2Sum)
    let ex = vexp(s) * (1 + e)               // e^(-x²/2)
    let tail = (0.5 * t) * g * ex            // Φ(-|x|)
    var cdf = tail
    cdf.replace(with: 1 - tail, where: x .> 0)
    return (cdf, 0.398_942_28 * ex)
}

/// y = x·Φ(x) for n values.
func geluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var j = 0
    while j + 8 <= n {
        let v = load8(x + j)
        store8(v * vnormalCDF(v).cdf, y + j)
        j += 8
    }
    if j < n {
        var v = F8()
        for i in j..<n { v[i - j] = x[i] }
        let r = v * vnormalCDF(v).cdf
        for i in j..<n { y[i] = r[i - j] }
    }
}

/// dx = g·(Φ(x) + x·φ(x)) for n values.
func geluBackward(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ n: Int) {
    var j = 0
    while j + 8 <= n {
        let v = load8(x + j)
        let (c, p) = vnormalCDF(v)
        store8(load8(g + j) * (c + v * p), dx + j)
        j += 8
    }
    if j < n {
        var v = F8(), gv = F8()
        for i in j..<n { v[i - j] = x[i]; gv[i - j] = g[i] }
        let (c, p) = vnormalCDF(v)
        let r = gv * (c + v * p)
        for i in j..<n { dx[i] = r[i - j] }
    }
}
