import Foundation

extension Tensor {
    /// Embedding lookup: `self` is the table [V, D], `ids` any shape S; the
    /// result is S + [D]. Rows of `paddingIndex` receive no gradient (as
    /// torch.nn.Embedding(padding_idx:)).
    public func embedding(_ ids: IndexTensor, paddingIndex: Int? = nil) -> Tensor {
        precondition(rank == 2, "embedding: table must be [V, D], got \(Shape.describe(shape))")
        let v = shape[0], d = shape[1]
        let out = Tensor(uninitializedShape: ids.shape + [d])
        let p = data, o = out.data
        ids.values.withUnsafeBufferPointer { ip in
            for (i, id) in ip.enumerated() {
                precondition(id >= 0 && Int(id) < v, "embedding: id \(id) at position \(i) outside vocabulary of \(v)")
            }
            let idp = ip.baseAddress
            Threads.parallelFor(ip.count, grain: Swift.max(1, (1 << 14) / Swift.max(d, 1))) { r in
                for i in r { (o + i * d).update(from: p + Int(idp![i]) * d, count: d) }
            }
        }
        let tableShape = shape
        return record(out, "embedding", [self]) { g in
            // Column blocks in parallel; within a block rows add in id order
            // (bits independent of the thread count).
            let gw = Tensor(uninitializedShape: tableShape)
            let pg = g.data, pw = gw.data
            ids.values.withUnsafeBufferPointer { ip in
                let idp = ip.baseAddress, n = ip.count
                Threads.parallelFor(d, grain: Swift.max(16, d / 64)) { cols in
                    let lo = cols.lowerBound, w = cols.count
                    for r in 0..<v { (pw + r * d + lo).update(repeating: 0, count: w) }
                    for i in 0..<n {
                        let id = Int(idp![i])
                        if id == paddingIndex { continue }
                        let row = pw + id * d + lo, src = pg + i * d + lo
                        for j in 0..<w { row[j] += src[j] }
                    }
                }
            }
            return [gw]
        }
    }

    /// torch.gather: out[..., j, ...] = self[..., index[..., j, ...], ...] along
    /// `axis`. `index` has the shape of the output, equal to self's off the axis.
    public func gather(axis: Int, index: IndexTensor) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, "gather")
        var a = shape, b = index.shape
        precondition(a.count == b.count, "gather: index shape \(Shape.describe(index.shape)) vs input \(Shape.describe(shape))")
        a[ax] = 0; b[ax] = 0
        precondition(a == b, "gather: index shape \(Shape.describe(index.shape)) must equal input \(Shape.describe(shape)) off axis \(axis)")
        let (outer, n, inner) = around(ax)
        let m = index.shape[ax]
        let out = Tensor(uninitializedShape: index.shape)
        let p = data, o = out.data
        index.values.withUnsafeBufferPointer { ip in
            for i in 0..<outer { for j in 0..<m { for k in 0..<inner {
                let q = (i * m + j) * inner + k
                let id = Int(ip[q])
                precondition(id >= 0 && id < n, "gather: index \(id) out of range for dim \(n)")
                o[q] = p[(i * n + id) * inner + k]
            } } }
        }
        let inShape = shape
        return record(out, "gather", [self]) { g in
            let gi = Tensor.zeros(inShape)
            let pg = g.data, pi = gi.data
            for i in 0..<outer { for j in 0..<m { for k in 0..<inner {
                let q = (i * m + j) * inner + k
                pi[(i * n + Int(index.values[q])) * inner + k] += pg[q]
            } } }
            return [gi]
        }
    }

    /// torch.index_select: picks entries `indices` (1-D) along `axis`.
    public func indexSelect(axis: Int, indices: [Int]) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, "indexSelect")
        let (outer, n, inner) = around(ax)
        for i in indices { precondition(i >= 0 && i < n, "indexSelect: index \(i) out of range for dim \(n) of \(Shape.describe(shape))") }
        var outShape = shape
        outShape[ax] = indices.count
        let m = indices.count
        let out = Tensor(uninitializedShape: outShape)
        let p = data, o = out.data
        for i in 0..<outer {
            for (j, id) in indices.enumerated() {
                (o + (i * m + j) * inner).update(from: p + (i * n + id) * inner, count: inner)
            }
        }
        let inShape = shape
        return record(out, "indexSelect", [self]) { g in
            let gi = Tensor.zeros(inShape)
            let pg = g.data, pi = gi.data
            for i in 0..<outer {
                for (j, id) in indices.enumerated() {
                    let dst = pi + (i * n + id) * inner, src = pg + (i * m + j) * inner
                    for k in 0..<inner { dst[k] += src[k] }
                }
            }
            return [gi]
        }
    }

    /// Replaces entries where `mask` (broadcastable to self) is true by `value`.
    public func maskedFill(_ mask: MaskTensor, _ value: Float) -> Tensor {
        let m = mask.broadcastValues(to: shape, "maskedFill")
        let out = copy()
        let o = out.data
        for i in 0..<count where m[i] { o[i] = value }
        return record(out, "maskedFill", [self]) { g in
            let gi = g.copy()
            let p = gi.data
            for i in 0..<gi.count where m[i] { p[i] = 0 }
            return [gi]
        }
    }

    /// Element-wise `condition ? a : b`, all three broadcast together.
    public static func `where`(_ condition: MaskTensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        guard let ab = Shape.broadcast(a.shape, b.shape), let shape = Shape.broadcast(ab, condition.shape) else {
            preconditionFailure("where: shapes \(Shape.describe(condition.shape)), \(Shape.describe(a.shape)), \(Shape.describe(b.shape)) do not broadcast")
        }
        let m = condition.broadcastValues(to: shape, "where")
        let ea = withNoGrad { a.expand(to: shape) }, eb = withNoGrad { b.expand(to: shape) }
        let out = Tensor(uninitializedShape: shape)
        let pa = ea.data, pb = eb.data, o = out.data
        for i in 0..<out.count { o[i] = m[i] ? pa[i] : pb[i] }
        return record(out, "where", [a, b]) { g in
            let pg = g.data
            var ga: Tensor? = nil, gb: Tensor? = nil
            if a.requiresGrad {
                let t = Tensor(uninitializedShape: shape); let q = t.data
                for i in 0..<t.count { q[i] = m[i] ? pg[i] : 0 }
                ga = t.sumToShape(a.shape)
            }
            if b.requiresGrad {
                let t = Tensor(uninitializedShape: shape); let q = t.data
                for i in 0..<t.count { q[i] = m[i] ? 0 : pg[i] }
                gb = t.sumToShape(b.shape)
            }
            return [ga, gb]
        }
    }

    /// Inverted dropout: zeroes each entry with probability `p` (seeded) and
    /// scales the rest by 1/(1-p). Identity when `p == 0` or not `training`.
    public func dropout(_ p: Float, rng: inout RNG, training: Bool = true) -> Tensor {
        precondition(p >= 0 && p < 1, "dropout: p must be in [0, 1), got \(p)")
        if !training || p == 0 { return self }
        let n = count
        let keep = Tensor(uninitializedShape: shape)
        rng.fillUniform(keep.data, n)
        let scale = 1 / (1 - p)
        let k = keep.data
        for i in 0..<n { k[i] = k[i] >= p ? scale : 0 }
        let out = withNoGrad { self * keep }
        return record(out, "dropout", [self]) { g in [withNoGrad { g * keep }] }
    }
}

extension MaskTensor {
    /// The mask's values broadcast to `shape`, row-major.
    func broadcastValues(to shape: [Int], _ op: String) -> [Bool] {
        if self.shape == shape { return values }
        precondition(Shape.broadcast(self.shape, shape) == shape,
                     "\(op): mask shape \(Shape.describe(self.shape)) does not broadcast to \(Shape.describe(shape))")
        let str = Shape.broadcastStrides(self.shape, to: shape)
        let n = Shape.count(shape)
        var out = [Bool](repeating: false, count: n)
        var idx = [Int](repeating: 0, count: shape.count)
        var off = 0
        for i in 0..<n {
            out[i] = values[off]
            var d = shape.count - 1
            while d >= 0 {
                idx[d] += 1; off += str[d]
                if idx[d] < shape[d] { break }
                off -= str[d] * shape[d]; idx[d] = 0; d -= 1
            }
        }
        return out
    }
}
