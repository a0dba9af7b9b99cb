import Foundation

extension Tensor {
    /// Same storage, new shape (one dim may be -1). Cheap: no copy.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        let unknown = s.indices.filter { s[$0] == -1 }
        precondition(unknown.count <= 1, "reshape: more than one -1 in \(newShape)")
        if let u = unknown.first {
            let known = s.enumerated().filter { $0.offset != u }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0,
                         "reshape: cannot reshape \(Shape.describe(shape)) to \(Shape.describe(newShape))")
            s[u] = count / known
        }
        precondition(Shape.count(s) == count, "reshape: cannot reshape \(Shape.describe(shape)) (\(count) elements) to \(Shape.describe(newShape))")
        if s == shape { return self }
        let out = Tensor(shape: s, storage: storage)
        let inShape = shape
        return record(out, "reshape", [self]) { g in [g.reshaped(inShape)] }
    }

    /// Reorders dims (a copy). `dims` is a permutation of 0..<rank.
    public func permuted(_ dims: [Int]) -> Tensor {
        precondition(dims.count == rank && Set(dims) == Set(0..<rank),
                     "permute: \(dims) is not a permutation of the dims of \(Shape.describe(shape))")
        if dims == Array(0..<rank) { return self }
        let outShape = dims.map { shape[$0] }
        let out = Tensor(uninitializedShape: outShape)
        let inStr = Shape.strides(shape)
        let srcStr = dims.map { inStr[$0] }  // input stride for each output dim
        let (cs, st) = collapse(outShape, [srcStr, Shape.strides(outShape), [Int](repeating: 0, count: rank)])
        stridedCopy(from: data, to: out.data, shape: cs, sourceStrides: st[0])
        var inverse = [Int](repeating: 0, count: rank)
        for (i, d) in dims.enumerated() { inverse[d] = i }
        return record(out, "permute", [self]) { g in [g.permuted(inverse)] }
    }

    /// Swaps two dims (a copy).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        let x = Shape.axis(a, rank: rank, "transpose"), y = Shape.axis(b, rank: rank, "transpose")
        var d = Array(0..<rank)
        d.swapAt(x, y)
        return permuted(d)
    }

    /// Inserts a size-1 dim.
    public func unsqueezed(_ axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        precondition(a >= 0 && a <= rank, "unsqueeze: axis \(axis) out of range for rank \(rank)")
        var s = shape
        s.insert(1, at: a)
        return reshaped(s)
    }

    /// Removes a size-1 dim.
    public func squeezed(_ axis: Int) -> Tensor {
        let a = Shape.axis(axis, rank: rank, "squeeze")
        precondition(shape[a] == 1, "squeeze: dim \(axis) of \(Shape.describe(shape)) is not 1")
        var s = shape
        s.remove(at: a)
        return reshaped(s)
    }

    /// Elements `start..<end` by `step` along `axis` (a copy). Negative
    /// start/end count from the end.
    public func slice(axis: Int, start: Int, end: Int? = nil, step: Int = 1) -> Tensor {
        let ax = Shape.axis(axis, rank: rank, "slice")
        let n = shape[ax]
        precondition(step >= 1, "slice: step must be >= 1, got \(step)")
        let s0 = start < 0 ? start + n : start
        let e0 = end.map { $0 < 0 ? $0 + n : $0 } ?? n
        let s = Swift.min(Swift.max(s0, 0), n), e = Swift.min(Swift.max(e0, s), n)
        let m = (e - s + step - 1) / step
        let (outer, _, inner) = around(ax)
        var outShape = shape
        outShape[ax] = m
        let out = Tensor(uninitializedShape: outShape)
        let p = data, o = out.data
        for i in 0..<outer {
            for j in 0..<m {
                (o + (i * m + j) * inner).update(from: p + (i * n + s + j * step) * inner, count: inner)
            }
        }
        let inShape = shape
        return record(out, "slice", [self]) { g in
            let gi = Tensor.zeros(inShape)
            let pg = g.data, pi = gi.data
            for i in 0..<outer {
                for j in 0..<m {
                    (pi + (i * n + s + j * step) * inner).update(from: pg + (i * m + j) * inner, count: inner)
                }
            }
            return [gi]
        }
    }

    /// Concatenates along `axis`; all other dims must match.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat: no tensors")
        let first = tensors[0]
        let ax = Shape.axis(axis, rank: first.rank, "concat")
        for t in tensors {
            var a = t.shape, b = first.shape
            precondition(a.count == b.count, "concat: rank mismatch \(Shape.describe(t.shape)) vs \(Shape.describe(first.shape))")
            a[ax] = 0; b[ax] = 0
            precondition(a == b, "concat along \(axis): shapes \(Shape.describe(t.shape)) and \(Shape.describe(first.shape)) differ off the axis")
        }
        let sizes = tensors.map { $0.shape[ax] }
        var outShape = first.shape
        outShape[ax] = sizes.reduce(0, +)
        let out = Tensor(uninitializedShape: outShape)
        let (outer, total, inner) = out.around(ax)
        var off = 0
        for (t, n) in zip(tensors, sizes) {
            let p = t.data, o = out.data
            for i in 0..<outer {
                (o + (i * total + off) * inner).update(from: p + i * n * inner, count: n * inner)
            }
            off += n
        }
        return record(out, "concat", tensors) { g in
            var start = 0
            return zip(tensors, sizes).map { t, n in
                defer { start += n }
                return t.requiresGrad ? g.slice(axis: ax, start: start, end: start + n) : nil
            }
        }
    }

    /// Splits along `axis` into pieces of the given sizes (which must add up to the dim).
    public func split(sizes: [Int], axis: Int) -> [Tensor] {
        let ax = Shape.axis(axis, rank: rank, "split")
        precondition(sizes.reduce(0, +) == shape[ax], "split: sizes \(sizes) do not add up to dim \(shape[ax]) of \(Shape.describe(shape))")
        var start = 0
        return sizes.map { n in
            defer { start += n }
            return slice(axis: ax, start: start, end: start + n)
        }
    }

    /// Splits into `chunks` pieces along `axis`, as torch.chunk (the last may be smaller).
    public func chunk(_ chunks: Int, axis: Int) -> [Tensor] {
        let ax = Shape.axis(axis, rank: rank, "chunk")
        precondition(chunks >= 1, "chunk: need at least one chunk")
        let n = shape[ax]
        let size = (n + chunks - 1) / chunks
        var sizes: [Int] = []
        var left = n
        while left > 0 { sizes.append(Swift.min(size, left)); left -= size }
        if sizes.isEmpty { sizes = [0] }
        return split(sizes: sizes, axis: ax)
    }
}

/// Copies a strided view into contiguous row-major memory: element at
/// multi-index i of `shape` comes from `src[Σ i_k · sourceStrides_k]`. Rows
/// (the last dim) are split over the pool; a unit-stride row is one memcpy.
func stridedCopy(from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, shape: [Int], sourceStrides: [Int]) {
    let r = shape.count
    if r == 0 { dst[0] = src[0]; return }
    let inner = shape[r - 1], ii = sourceStrides[r - 1]
    var rows = 1
    for k in 0..<(r - 1) { rows *= shape[k] }
    if rows == 0 || inner == 0 { return }
    let outer = Array(shape.dropLast()), ostr = Array(sourceStrides.dropLast())
    Threads.parallelFor(rows, grain: Swift.max(1, (1 << 14) / inner)) { range in
        // Multi-index of the first row of the chunk, then an odometer.
        var idx = [Int](repeating: 0, count: outer.count)
        var rem = range.lowerBound, off = 0
        for k in stride(from: outer.count - 1, through: 0, by: -1) {
            idx[k] = rem % outer[k]; rem /= outer[k]
            off += idx[k] * ostr[k]
        }
        for row in range {
            let d = dst + row * inner
            if ii == 1 { d.update(from: src + off, count: inner) }
            else { for j in 0..<inner { d[j] = src[off + j &* ii] } }
            var k = outer.count - 1
            while k >= 0 {
                idx[k] += 1; off += ostr[k]
                if idx[k] < outer[k] { break }
                off -= ostr[k] * outer[k]; idx[k] = 0; k -= 1
            }
        }
    }
}
