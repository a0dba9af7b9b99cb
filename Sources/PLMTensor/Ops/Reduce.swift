import Foundation

extension Tensor {
    /// Views the tensor as [outer, n, inner] around `axis`.
    @inline(__always)
    func around(_ axis: Int) -> (outer: Int, n: Int, inner: Int) {
        var outer = 1, inner = 1
        for i in 0..<axis { outer *= shape[i] }
        for i in (axis + 1)..<rank { inner *= shape[i] }
        return (outer, shape[axis], inner)
    }

    private func reducedShape(_ axes: [Int], keepDims: Bool) -> [Int] {
        var s: [Int] = []
        for (i, d) in shape.enumerated() {
            if axes.contains(i) { if keepDims { s.append(1) } } else { s.append(d) }
        }
        return s
    }

    private func normalisedAxes(_ axes: [Int]?, _ op: String) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        let a = axes.map { Shape.axis($0, rank: rank, op) }
        precondition(Set(a).count == a.count, "\(op): repeated axis in \(axes)")
        return a.sorted()
    }

    /// Sum over `axes` (all when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let ax = normalisedAxes(axes, "sum")
        let keptShape = reducedShape(ax, keepDims: true)
        let outShape = reducedShape(ax, keepDims: keepDims)
        let r = withNoGrad { self.sumToShape(keptShape) }
        let out = Tensor(shape: outShape, storage: (r === self ? r.copy() : r).storage)
        let inShape = shape
        return record(out, "sum", [self]) { g in [g.reshaped(keptShape).expand(to: inShape)] }
    }

    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let ax = normalisedAxes(axes, "mean")
        var n = 1
        for a in ax { n *= shape[a] }
        return sum(axes: ax, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Maximum over one axis; the gradient goes to the first maximal element.
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, "max")
        let (outer, n, inner) = around(ax)
        precondition(n > 0, "max over an empty axis of shape \(Shape.describe(shape))")
        var s = shape
        if keepDims { s[ax] = 1 } else { s.remove(at: ax) }
        let out = Tensor(uninitializedShape: s)
        var arg = [Int32](repeating: 0, count: outer * inner)
        let p = data, o = out.data
        arg.withUnsafeMutableBufferPointer { ap in
            for i in 0..<outer {
                for k in 0..<inner {
                    var best = p[i * n * inner + k], bi = 0
                    for j in 1..<n {
                        let v = p[(i * n + j) * inner + k]
                        if v > best || (v.isNaN && !best.isNaN) { best = v; bi = j }
                    }
                    o[i * inner + k] = best
                    ap[i * inner + k] = Int32(bi)
                }
            }
        }
        let inShape = shape
        return record(out, "max", [self]) { g in
            let gi = Tensor.zeros(inShape)
            let pg = g.data, pi = gi.data
            for i in 0..<outer {
                for k in 0..<inner {
                    pi[(i * n + Int(arg[i * inner + k])) * inner + k] = pg[i * inner + k]
                }
            }
            return [gi]
        }
    }

    /// Broadcasts to a larger shape, materialised (differentiable).
    public func expand(to target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(Shape.broadcast(shape, target) == target,
                     "expand: \(Shape.describe(shape)) does not broadcast to \(Shape.describe(target))")
        let out = Tensor(uninitializedShape: target)
        let (cs, st) = collapse(target, [Shape.broadcastStrides(shape, to: target), Shape.strides(target),
                                         [Int](repeating: 0, count: target.count)])
        let inner = cs.last ?? 1
        let ii = st[0].last ?? 0
        let p = data, o = out.data
        forEachRow(cs, st[0], st[1], st[2]) { oi, oo, _ in
            for j in 0..<inner { o[oo + j] = p[oi + j &* ii] }
        }
        let inShape = shape
        return record(out, "expand", [self]) { g in [g.sumToShape(inShape)] }
    }
}
