import Foundation

/// Applies `f` element-wise into a new tensor (the closure is inlined into the loop).
@inline(__always)
func mapKernel(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
    let out = Tensor(uninitializedShape: x.shape)
    let p = x.data, o = out.data
    Threads.parallelFor(x.count, grain: 1 << 14) { r in for i in r { o[i] = f(p[i]) } }
    return out
}

/// g * f(z) element-wise for one saved tensor z (an op's input or output),
/// for backward rules.
@inline(__always)
func gradKernel(_ g: Tensor, _ z: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    let out = Tensor(uninitializedShape: z.shape)
    let pg = g.data, pz = z.data, o = out.data
    Threads.parallelFor(z.count, grain: 1 << 14) { r in for i in r { o[i] = f(pg[i], pz[i]) } }
    return out
}

extension Tensor {
    public func exp() -> Tensor {
        let y = mapKernel(self) { Foundation.exp($0) }
        return recordSavingOutput(y, "exp", [self]) { g, y in [gradKernel(g, y) { g, y in g * y }] }
    }

    public func log() -> Tensor {
        let y = mapKernel(self) { Foundation.log($0) }
        return record(y, "log", [self]) { g in [gradKernel(g, self) { g, x in g / x }] }
    }

    public func sqrt() -> Tensor {
        let y = mapKernel(self) { $0.squareRoot() }
        return recordSavingOutput(y, "sqrt", [self]) { g, y in [gradKernel(g, y) { g, y in g * 0.5 / y }] }
    }

    /// x^p for a scalar exponent.
    public func pow(_ p: Float) -> Tensor {
        let y = mapKernel(self) { Foundation.pow($0, p) }
        return record(y, "pow", [self]) { g in
            [gradKernel(g, self) { g, x in g * p * Foundation.pow(x, p - 1) }]
        }
    }

    public func reciprocal() -> Tensor {
        let y = mapKernel(self) { 1 / $0 }
        return recordSavingOutput(y, "reciprocal", [self]) { g, y in [gradKernel(g, y) { g, y in -g * y * y }] }
    }

    public func abs() -> Tensor {
        let y = mapKernel(self) { Swift.abs($0) }
        return record(y, "abs", [self]) { g in
            [gradKernel(g, self) { g, x in x > 0 ? g : (x < 0 ? -g : 0) }]
        }
    }

    public func relu() -> Tensor {
        let y = mapKernel(self) { Swift.max($0, 0) }
        return record(y, "relu", [self]) { g in [gradKernel(g, self) { g, x in x > 0 ? g : 0 }] }
    }

    /// GELU, erf form: x·½(1 + erf(x/√2)) (ESM, BERT). Vectorised (see
    /// `vnormalCDF`); saves its input for backward.
    public func gelu() -> Tensor {
        let y = Tensor(uninitializedShape: shape)
        let px = data, py = y.data
        Threads.parallelFor(count, grain: 1 << 13) { r in geluForward(px + r.lowerBound, py + r.lowerBound, r.count) }
        return record(y, "gelu", [self]) { g in
            let gi = Tensor(uninitializedShape: self.shape)
            let pg = g.data, px = self.data, pi = gi.data
            Threads.parallelFor(self.count, grain: 1 << 13) { r in
                geluBackward(pg + r.lowerBound, px + r.lowerBound, pi + r.lowerBound, r.count)
            }
            return [gi]
        }
    }

    public func sigmoid() -> Tensor {
        let y = mapKernel(self) { x in x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x)) }
        return recordSavingOutput(y, "sigmoid", [self]) { g, y in [gradKernel(g, y) { g, y in g * y * (1 - y) }] }
    }

    public func tanh() -> Tensor {
        let y = mapKernel(self) { Foundation.tanh($0) }
        return recordSavingOutput(y, "tanh", [self]) { g, y in [gradKernel(g, y) { g, y in g * (1 - y * y) }] }
    }

    /// Softplus as PyTorch: (1/β)·log(1 + exp(βx)), and x itself where βx > threshold.
    public func softplus(beta: Float = 1, threshold: Float = 20) -> Tensor {
        let y = mapKernel(self) { x in
            let bx = beta * x
            if bx > threshold { return x }
            // log1p(exp(bx)) computed stably for large negative and positive bx
            return (Swift.max(bx, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(bx)))) / beta
        }
        return record(y, "softplus", [self]) { g in
            [gradKernel(g, self) { g, x in
                let bx = beta * x
                if bx > threshold { return g }
                let s = bx >= 0 ? 1 / (1 + Foundation.exp(-bx)) : Foundation.exp(bx) / (1 + Foundation.exp(bx))
                return g * s
            }]
        }
    }

    /// Clamps into [min, max] (either bound optional). The gradient passes where
    /// min ≤ x ≤ max, as in PyTorch.
    public func clamp(min lo: Float? = nil, max hi: Float? = nil) -> Tensor {
        let l = lo ?? -Float.infinity, h = hi ?? Float.infinity
        precondition(l <= h, "clamp: min \(l) > max \(h)")
        let y = mapKernel(self) { Swift.min(Swift.max($0, l), h) }
        return record(y, "clamp", [self]) { g in [gradKernel(g, self) { g, x in (x >= l && x <= h) ? g : 0 }] }
    }
}
