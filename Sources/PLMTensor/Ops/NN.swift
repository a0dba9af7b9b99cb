import Foundation

// Row kernels over the last axis: x (N, D) viewed as N rows of D.

@inline(__always)
func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ d: Int) {
    var m = -Float.infinity
    for j in 0..<d where x[j] > m { m = x[j] }
    if m == -Float.infinity { m = 0 }  // an all -inf row gives 0/0 = NaN, as PyTorch
    var s: Float = 0
    for j in 0..<d { let e = Foundation.exp(x[j] - m); y[j] = e; s += e }
    let inv = 1 / s
    for j in 0..<d { y[j] *= inv }
}

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
        return record(out, "softmax", [self]) { g, y in
            // dx = y * (g - sum(g*y))
            let gi = Tensor(uninitializedShape: y.shape)
            let pg = g.data, py = y.data, pi = gi.data
            Threads.parallelFor(n, grain: Swift.max(1, 4096 / Swift.max(d, 1))) { r in
                for i in r {
                    let a = pg + i * d, b = py + i * d, c = pi + i * d
                    var dot: Float = 0
                    for j in 0..<d { dot += a[j] * b[j] }
                    for j in 0..<d { c[j] = b[j] * (a[j] - dot) }
                }
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
            for i in r {
                let x = p + i * d, y = o + i * d
                var m = -Float.infinity
                for j in 0..<d where x[j] > m { m = x[j] }
                var s: Float = 0
                for j in 0..<d { s += Foundation.exp(x[j] - m) }
                let lse = m + Foundation.log(s)
                for j in 0..<d { y[j] = x[j] - lse }
            }
        }
        return record(out, "logSoftmax", [self]) { g, y in
            // dx = g - softmax * sum(g)
            let gi = Tensor(uninitializedShape: y.shape)
            let pg = g.data, py = y.data, pi = gi.data
            Threads.parallelFor(n, grain: Swift.max(1, 4096 / Swift.max(d, 1))) { r in
                for i in r {
                    let a = pg + i * d, b = py + i * d, c = pi + i * d
                    var s: Float = 0
                    for j in 0..<d { s += a[j] }
                    for j in 0..<d { c[j] = a[j] - Foundation.exp(b[j]) * s }
                }
            }
            return [gi]
        }
    }

    /// Layer normalisation over the last axis, fused: one pass caches each
    /// row's mean and 1/std for backward. `weight`/`bias` are [D] (optional).
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
                let x = p + i * d, y = o + i * d
                var s: Float = 0
                for j in 0..<d { s += x[j] }
                let mu = s / Float(d)
                var v: Float = 0
                for j in 0..<d { let c = x[j] - mu; v += c * c }
                let rs = 1 / (v / Float(d) + eps).squareRoot()
                pm[i] = mu; pr[i] = rs
                switch (pw, pb) {
                case let (w?, b?): for j in 0..<d { y[j] = (x[j] - mu) * rs * w[j] + b[j] }
                case let (w?, nil): for j in 0..<d { y[j] = (x[j] - mu) * rs * w[j] }
                case let (nil, b?): for j in 0..<d { y[j] = (x[j] - mu) * rs + b[j] }
                case (nil, nil): for j in 0..<d { y[j] = (x[j] - mu) * rs }
                }
            }
        }
        var inputs: [Tensor] = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        return record(out, "layerNorm", inputs) { g, _ in
            // Pointers come from the captured tensors, which the closure keeps alive.
            let p = self.data, pm = mean.data, pr = rstd.data
            let pw = weight?.data
            let gx = Tensor(uninitializedShape: self.shape)
            let pg = g.data, px = gx.data
            // dnorm = g*w; dx = rstd * (dnorm - mean(dnorm) - xhat * mean(dnorm*xhat))
            Threads.parallelFor(n, grain: Swift.max(1, 2048 / Swift.max(d, 1))) { r in
                for i in r {
                    let x = p + i * d, dy = pg + i * d, dx = px + i * d
                    let mu = pm[i], rs = pr[i]
                    var a: Float = 0, b: Float = 0
                    for j in 0..<d {
                        let dn = dy[j] * (pw?[j] ?? 1)
                        a += dn
                        b += dn * (x[j] - mu) * rs
                    }
                    a /= Float(d); b /= Float(d)
                    for j in 0..<d {
                        let dn = dy[j] * (pw?[j] ?? 1)
                        dx[j] = rs * (dn - a - (x[j] - mu) * rs * b)
                    }
                }
            }
            var grads: [Tensor?] = [gx]
            if let weight {
                var gw: Tensor? = nil
                if weight.requiresGrad {
                    let t = Tensor.zeros([d]); let q = t.data
                    for i in 0..<n {
                        let x = p + i * d, dy = pg + i * d
                        let mu = pm[i], rs = pr[i]
                        for j in 0..<d { q[j] += dy[j] * (x[j] - mu) * rs }
                    }
                    gw = t
                }
                grads.append(gw)
            }
            if let bias { grads.append(bias.requiresGrad ? g.reshaped([n, d]).sum(axis: 0) : nil) }
            return grads
        }
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
        var counted = 0
        let p = data, lp = logp.data
        for i in 0..<n {
            let x = p + i * c, y = lp + i * c
            var m = -Float.infinity
            for j in 0..<c where x[j] > m { m = x[j] }
            var s: Float = 0
            for j in 0..<c { s += Foundation.exp(x[j] - m) }
            let lse = m + Foundation.log(s)
            for j in 0..<c { y[j] = x[j] - lse }
            let t = Int(targets.values[i])
            if t == ignoreIndex { continue }
            precondition(t >= 0 && t < c, "crossEntropy: target \(t) at row \(i) outside 0..<\(c)")
            losses[i] = -y[t]
            counted += 1
        }
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
        return record(out, "crossEntropy", [self]) { g, _ in
            let lp = logp.data  // logp is captured (saved log-probabilities)
            let gi = Tensor(uninitializedShape: [n, c])
            let pg = g.data, pi = gi.data
            for i in 0..<n {
                let row = pi + i * c
                let t = Int(targets.values[i])
                if t == ignoreIndex { row.update(repeating: 0, count: c); continue }
                let gs = (reduction == .none ? pg[i] : pg[0]) * scale
                let y = lp + i * c
                for j in 0..<c { row[j] = gs * Foundation.exp(y[j]) }
                row[t] -= gs
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
        return record(out, "l2Normalize", [self]) { g, _ in
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
