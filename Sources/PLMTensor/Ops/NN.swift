import Foundation

// Row kernels over the last axis: x (N, D) viewed as N rows of D. The row
// helpers (softmaxRow, rowSum, …) live in Runtime/VectorMath.swift.

extension Tensor {
    var lastDim: Int { shape.last ?? 1 }
    var rows: Int { lastDim == 0 ? 0 : count / lastDim }

    /// Softmax over the last axis.
    public func softmax() -> Tensor {
        let d = lastDim, n = rows
        let out = Tensor(uninitializedShape: shape)
        let p = data, o = out.data
        Threads.parallelFor(n, grain: Swift.max(1, 4096 / Swift.max(d, 1))) { r in
            for i in r { softmaxRow(p + i * d, o + i * d, d) }
        }
        return recordSavingOutput(out, "softmax", [self]) { g, y in
            // dx = y * (g - sum(g*y))
            let gi = Tensor(uninitializedShape: y.shape)
            let pg = g.data, py = y.data, pi = gi.data
            Threads.parallelFor(n, grain: Swift.max(1, 4096 / Swift.max(d, 1))) { r in
                for i in r { softmaxBackwardRow(pg + i * d, py + i * d, pi + i * d, d) }
            }
            return [gi]
        }
    }

    /// log(softmax(x)) over the last axis, computed stably.
    public func logSoftmax() -> Tensor {
        let d = lastDim, n = rows
        let out = Tensor(uninitializedShape: shape)
        let p = data, o = out.data
        Threads.parallelFor(n, grain: Swift.max(1, 4096 / Swift.max(d, 1))) { r in
            for i in r { logSoftmaxRow(p + i * d, o + i * d, d) }
        }
        return recordSavingOutput(out, "logSoftmax", [self]) { g, y in
            // dx = g - softmax * sum(g)
            let gi = Tensor(uninitializedShape: y.shape)
            let pg = g.data, py = y.data, pi = gi.data
            Threads.parallelFor(n, grain: Swift.max(1, 4096 / Swift.max(d, 1))) { r in
                for i in r {
                    let a = pg + i * d, b = py + i * d, c = pi + i * d
                    let s = rowSum(a, d)
                    _ = rowExpShifted(b, c, d, 0)          // c = softmax = e^(log p)
                    for j in 0..<d { c[j] = a[j] - c[j] * s }
                }
            }
            return [gi]
        }
    }

    /// Layer normalisation over the last axis, fused: one pass caches each
    /// row's mean and 1/std for backward. `weight`/`bias` are [D] (optional).
    /// Backward computes dx row-parallel and the weight/bias gradients
    /// column-parallel (each column summed over rows in order, so the bits do
    /// not depend on the thread count).
    public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
        let d = lastDim, n = rows
        if let w = weight { precondition(w.shape == [d], "layerNorm: weight \(Shape.describe(w.shape)) vs last dim \(d) of \(Shape.describe(shape))") }
        if let b = bias { precondition(b.shape == [d], "layerNorm: bias \(Shape.describe(b.shape)) vs last dim \(d) of \(Shape.describe(shape))") }
        let out = Tensor(uninitializedShape: shape)
        let mean = Tensor(uninitializedShape: [n]), rstd = Tensor(uninitializedShape: [n])
        let p = data, o = out.data, pm = mean.data, pr = rstd.data
        let pw = weight?.data, pb = bias?.data
        Threads.parallelFor(n, grain: Swift.max(1, 2048 / Swift.max(d, 1))) { r in
            for i in r {
                let (mu, rs) = layerNormRow(p + i * d, o + i * d, d, pw, pb, eps)
                pm[i] = mu; pr[i] = rs
            }
        }
        var inputs: [Tensor] = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        return record(out, "layerNorm", inputs) { g in
            // Pointers come from the captured tensors, which the closure keeps alive.
            let p = self.data, pm = mean.data, pr = rstd.data
            let pw = weight?.data
            let gx = Tensor(uninitializedShape: self.shape)
            let pg = g.data, px = gx.data
            Threads.parallelFor(n, grain: Swift.max(1, 2048 / Swift.max(d, 1))) { r in
                for i in r { layerNormBackwardRow(p + i * d, pg + i * d, px + i * d, d, pw, pm[i], pr[i]) }
            }
            var grads: [Tensor?] = [gx]
            let needW = weight?.requiresGrad ?? false, needB = bias?.requiresGrad ?? false
            var gw: Tensor? = nil, gb: Tensor? = nil
            if needW || needB {
                let tw = needW ? Tensor(uninitializedShape: [d]) : nil
                let tb = needB ? Tensor(uninitializedShape: [d]) : nil
                let qw = tw?.data, qb = tb?.data
                Threads.parallelFor(d, grain: 16) { cols in
                    let lo = cols.lowerBound, w = cols.count
                    if let qw { (qw + lo).update(repeating: 0, count: w) }
                    if let qb { (qb + lo).update(repeating: 0, count: w) }
                    for i in 0..<n {
                        let x = p + i * d + lo, dy = pg + i * d + lo
                        let mu = pm[i], rs = pr[i]
                        if let qw { let q = qw + lo; for j in 0..<w { q[j] += dy[j] * ((x[j] - mu) * rs) } }
                        if let qb { let q = qb + lo; for j in 0..<w { q[j] += dy[j] } }
                    }
                }
                gw = tw; gb = tb
            }
            if weight != nil { grads.append(gw) }
            if bias != nil { grads.append(gb) }
            return grads
        }
    }
}

/// log-softmax of one row.
@inline(__always)
func logSoftmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ d: Int) {
    let m = rowMax(x, d)
    let s = rowExpShifted(x, y, d, m)       // y is scratch here
    let lse = m + Foundation.log(s)
    var j = 0
    let lv = F8(repeating: lse)
    while j + 8 <= d { store8(load8(x + j) - lv, y + j); j += 8 }
    while j < d { y[j] = x[j] - lse; j += 1 }
}

/// One row of layer norm; returns (mean, 1/std).
@inline(__always)
func layerNormRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ d: Int,
                  _ w: UnsafeMutablePointer<Float>?, _ b: UnsafeMutablePointer<Float>?, _ eps: Float) -> (Float, Float) {
    let mu = rowSum(x, d) / Float(d)
    var j = 0
    var acc = F8()
    let mv = F8(repeating: mu)
    while j + 8 <= d { let c = load8(x + j) - mv; acc += c * c; j += 8 }
    var v = acc.sum()
    while j < d { let c = x[j] - mu; v += c * c; j += 1 }
    let rs = 1 / (v / Float(d) + eps).squareRoot()
    let rv = F8(repeating: rs)
    j = 0
    switch (w, b) {
    case let (w?, b?):
        while j + 8 <= d { store8((load8(x + j) - mv) * rv * load8(w + j) + load8(b + j), y + j); j += 8 }
        while j < d { y[j] = (x[j] - mu) * rs * w[j] + b[j]; j += 1 }
    case let (w?, nil):
        while j + 8 <= d { store8((load8(x + j) - mv) * rv * load8(w + j), y + j); j += 8 }
        while j < d { y[j] = (x[j] - mu) * rs * w[j]; j += 1 }
    case let (nil, b?):
        while j + 8 <= d { store8((load8(x + j) - mv) * rv + load8(b + j), y + j); j += 8 }
        while j < d { y[j] = (x[j] - mu) * rs + b[j]; j += 1 }
    case (nil, nil):
        while j + 8 <= d { store8((load8(x + j) - mv) * rv, y + j); j += 8 }
        while j < d { y[j] = (x[j] - mu) * rs; j += 1 }
    }
    return (mu, rs)
}

/// dnorm = g·w; dx = rstd · (dnorm - mean(dnorm) - x̂ · mean(dnorm·x̂)) for one row.
@inline(__always)
func layerNormBackwardRow(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ d: Int,
                          _ w: UnsafeMutablePointer<Float>?, _ mu: Float, _ rs: Float) {
    let mv = F8(repeating: mu), rv = F8(repeating: rs)
    var va = F8(), vb = F8()
    var j = 0
    if let w {
        while j + 8 <= d {
            let dn = load8(dy + j) * load8(w + j)
            va += dn; vb += dn * ((load8(x + j) - mv) * rv); j += 8
        }
    } else {
        while j + 8 <= d {
            let dn = load8(dy + j)
            va += dn; vb += dn * ((load8(x + j) - mv) * rv); j += 8
        }
    }
    var a = va.sum(), b = vb.sum()
    while j < d {
        let dn = dy[j] * (w?[j] ?? 1)
        a += dn; b += dn * ((x[j] - mu) * rs); j += 1
    }
    a /= Float(d); b /= Float(d)
    let av = F8(repeating: a), bv = F8(repeating: b)
    j = 0
    if let w {
        while j + 8 <= d {
            let dn = load8(dy + j) * load8(w + j)
            store8(rv * (dn - av - (load8(x + j) - mv) * rv * bv), dx + j); j += 8
        }
    } else {
        while j + 8 <= d {
            let dn = load8(dy + j)
            store8(rv * (dn - av - (load8(x + j) - mv) * rv * bv), dx + j); j += 8
        }
    }
    while j < d {
        let dn = dy[j] * (w?[j] ?? 1)
        dx[j] = rs * (dn - a - (x[j] - mu) * rs * b); j += 1
    }
}

/// How a loss reduces over elements.
public enum Reduction: Sendable { case mean, sum, none }

extension Tensor {
    /// Cross-entropy of `self` = logits [N, C] against class `targets` [N],
    /// fused with log-softmax. Rows whose target is `ignoreIndex` contribute
    /// nothing; `.mean` divides by the rows that count (0 when none count,
    /// where PyTorch would give NaN). `.none` returns [N] (0 on ignored rows).
    public func crossEntropy(targets: IndexTensor, ignoreIndex: Int = -100, reduction: Reduction = .mean) -> Tensor {
        precondition(rank == 2, "crossEntropy: logits must be [N, C], got \(Shape.describe(shape))")
        let n = shape[0], c = shape[1]
        precondition(targets.shape == [n], "crossEntropy: targets \(Shape.describe(targets.shape)) vs logits \(Shape.describe(shape))")
        let logp = Tensor(uninitializedShape: shape)  // saved for backward
        var losses = [Float](repeating: 0, count: n)
        let p = data, lp = logp.data
        var bad = -1
        targets.values.withUnsafeBufferPointer { tv in
            for i in 0..<n {
                let t = Int(tv[i])
                if t != ignoreIndex && !(t >= 0 && t < c) { bad = i; break }
            }
            if bad >= 0 { return }
            losses.withUnsafeMutableBufferPointer { lv in
                let tp = tv.baseAddress!, lb = lv.baseAddress!
                Threads.parallelFor(n, grain: Swift.max(1, 4096 / Swift.max(c, 1))) { r in
                    for i in r {
                        let y = lp + i * c
                        logSoftmaxRow(p + i * c, y, c)
                        let t = Int(tp[i])
                        if t != ignoreIndex { lb[i] = -y[t] }
                    }
                }
            }
        }
        precondition(bad < 0, "crossEntropy: target \(bad >= 0 ? Int(targets.values[bad]) : 0) at row \(bad) outside 0..<\(c)")
        var counted = 0
        for t in targets.values where Int(t) != ignoreIndex { counted += 1 }
        let out: Tensor
        let scale: Float
        switch reduction {
        case .none:
            out = Tensor(shape: [n], values: losses); scale = 1
        case .sum:
            out = Tensor(scalar: Float(losses.reduce(0.0) { $0 + Double($1) })); scale = 1
        case .mean:
            scale = counted > 0 ? 1 / Float(counted) : 0
            out = Tensor(scalar: Float(losses.reduce(0.0) { $0 + Double($1) }) * scale)
        }
        return record(out, "crossEntropy", [self]) { g in
            let lp = logp.data  // logp is captured (saved log-probabilities)
            let gi = Tensor(uninitializedShape: [n, c])
            let pg = g.data, pi = gi.data
            targets.values.withUnsafeBufferPointer { tv in
                let tp = tv.baseAddress!
                Threads.parallelFor(n, grain: Swift.max(1, 4096 / Swift.max(c, 1))) { r in
                    for i in r {
                        let row = pi + i * c
                        let t = Int(tp[i])
                        if t == ignoreIndex { row.update(repeating: 0, count: c); continue }
                        let gs = (reduction == .none ? pg[i] : pg[0]) * scale
                        _ = rowExpShifted(lp + i * c, row, c, 0)
                        rowScale(row, c, gs)
                        row[t] -= gs
                    }
                }
            }
            return [gi]
        }
    }

    /// Mean (or summed) squared error against `target` (same shape).
    public func mseLoss(_ target: Tensor, reduction: Reduction = .mean) -> Tensor {
        precondition(shape == target.shape, "mseLoss: prediction \(Shape.describe(shape)) vs target \(Shape.describe(target.shape))")
        let diff = self - target
        let sq = diff * diff
        switch reduction {
        case .none: return sq
        case .sum: return sq.sum()
        case .mean: return sq.mean()
        }
    }

    /// x / max(‖x‖₂, eps) over the last axis (torch.nn.functional.normalize).
    public func l2Normalized(eps: Float = 1e-12) -> Tensor {
        let d = lastDim, n = rows
        let out = Tensor(uninitializedShape: shape)
        var norms = [Float](repeating: 0, count: n)
        let p = data, o = out.data
        for i in 0..<n {
            let x = p + i * d, y = o + i * d
            var s: Float = 0
            for j in 0..<d { s += x[j] * x[j] }
            let nrm = s.squareRoot()
            norms[i] = nrm
            let inv = 1 / Swift.max(nrm, eps)
            for j in 0..<d { y[j] = x[j] * inv }
        }
        return record(out, "l2Normalize", [self]) { g in
            let p = self.data
            let gi = Tensor(uninitializedShape: self.shape)
            let pg = g.data, pi = gi.data
            for i in 0..<n {
                let x = p + i * d, dy = pg + i * d, dx = pi + i * d
                let nrm = norms[i]
                if nrm > eps {
                    var dot: Float = 0
                    for j in 0..<d { dot += x[j] * dy[j] }
                    let inv = 1 / nrm, c = dot * inv * inv * inv
                    for j in 0..<d { dx[j] = dy[j] * inv - x[j] * c }
                } else {
                    for j in 0..<d { dx[j] = dy[j] / eps }
                }
            }
            return [gi]
        }
    }

    /// Cosine similarity over the last axis: (a·b) / (max(‖a‖, eps)·max(‖b‖, eps)).
    public static func cosineSimilarity(_ a: Tensor, _ b: Tensor, eps: Float = 1e-8) -> Tensor {
        (a.l2Normalized(eps: eps) * b.l2Normalized(eps: eps)).sum(axis: -1)
    }
}
