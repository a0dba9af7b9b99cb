import Foundation

/// Element-wise binary ops with NumPy broadcasting.
enum BinaryOp { case add, sub, mul, div }

/// out = a (op) b over the broadcast shape. Fast paths for equal shapes and
/// a trailing-row operand (bias); a strided row loop otherwise.
func binaryKernel(_ a: Tensor, _ b: Tensor, _ op: BinaryOp, _ name: String) -> Tensor {
    guard let shape = Shape.broadcast(a.shape, b.shape) else {
        preconditionFailure("\(name): shapes \(Shape.describe(a.shape)) and \(Shape.describe(b.shape)) do not broadcast")
    }
    let out = Tensor(uninitializedShape: shape)
    let pa = a.data, pb = b.data, po = out.data
    let n = out.count
    if a.count == n && b.count == n {
        Threads.parallelFor(n, grain: 1 << 16) { r in
            switch op {
            case .add: for i in r { po[i] = pa[i] + pb[i] }
            case .sub: for i in r { po[i] = pa[i] - pb[i] }
            case .mul: for i in r { po[i] = pa[i] * pb[i] }
            case .div: for i in r { po[i] = pa[i] / pb[i] }
            }
        }
        return out
    }
    // A trailing-row operand (bias [n] against [..., n], or [m, n] against
    // [..., m, n]): rows of the full operand in parallel.
    if let inner = trailingRow(b.shape, of: shape), a.count == n {
        rowBroadcast(pa, pb, po, n, inner, op, rowOperandFirst: false)
        return out
    }
    if let inner = trailingRow(a.shape, of: shape), b.count == n {
        rowBroadcast(pb, pa, po, n, inner, op, rowOperandFirst: true)
        return out
    }
    // A per-row scalar ([..., 1] against [..., n], e.g. a token mask): rows in parallel.
    if a.count == n, b.rank == shape.count, b.shape.last == 1, b.shape.dropLast() == shape.dropLast(), let inner = shape.last, inner > 1 {
        rowScalar(pa, pb, po, n / inner, inner, op, scalarFirst: false)
        return out
    }
    if b.count == n, a.rank == shape.count, a.shape.last == 1, a.shape.dropLast() == shape.dropLast(), let inner = shape.last, inner > 1 {
        rowScalar(pb, pa, po, n / inner, inner, op, scalarFirst: true)
        return out
    }
    let (cs, st) = collapse(shape, [Shape.broadcastStrides(a.shape, to: shape),
                                    Shape.broadcastStrides(b.shape, to: shape),
                                    Shape.strides(shape)])
    let inner = cs.last ?? 1
    let ia = st[0].last ?? 0, ib = st[1].last ?? 0
    forEachRow(cs, st[0], st[1], st[2]) { oa, ob, oo in
        let x = pa + oa, y = pb + ob, z = po + oo
        switch op {
        case .add: for j in 0..<inner { z[j] = x[j &* ia] + y[j &* ib] }
        case .sub: for j in 0..<inner { z[j] = x[j &* ia] - y[j &* ib] }
        case .mul: for j in 0..<inner { z[j] = x[j &* ia] * y[j &* ib] }
        case .div: for j in 0..<inner { z[j] = x[j &* ia] / y[j &* ib] }
        }
    }
    return out
}

/// If `small` is a suffix of `full` (ignoring leading 1s), the number of
/// elements it covers (the row length it repeats with); otherwise nil.
@inline(__always)
func trailingRow(_ small: [Int], of full: [Int]) -> Int? {
    var s = small[...]
    while let f = s.first, f == 1, s.count > 0 { s = s.dropFirst() }
    if s.isEmpty || s.count > full.count { return nil }
    if Array(full.suffix(s.count)) != Array(s) { return nil }
    let inner = Shape.count(Array(s))
    return inner > 0 ? inner : nil
}

/// out[r, j] = full[r, j] op row[j] (or row[j] op full[r, j]) over n / inner rows.
func rowBroadcast(_ full: UnsafeMutablePointer<Float>, _ row: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                  _ n: Int, _ inner: Int, _ op: BinaryOp, rowOperandFirst: Bool) {
    let rows = n / inner
    Threads.parallelFor(rows, grain: Swift.max(1, (1 << 15) / inner)) { r in
        for i in r {
            let x = full + i * inner, z = out + i * inner
            switch (op, rowOperandFirst) {
            case (.add, _): for j in 0..<inner { z[j] = x[j] + row[j] }
            case (.mul, _): for j in 0..<inner { z[j] = x[j] * row[j] }
            case (.sub, false): for j in 0..<inner { z[j] = x[j] - row[j] }
            case (.sub, true): for j in 0..<inner { z[j] = row[j] - x[j] }
            case (.div, false): for j in 0..<inner { z[j] = x[j] / row[j] }
            case (.div, true): for j in 0..<inner { z[j] = row[j] / x[j] }
            }
        }
    }
}

/// out[r, j] = full[r, j] op s[r] (or s[r] op full[r, j]) over `rows` rows.
func rowScalar(_ full: UnsafeMutablePointer<Float>, _ sc: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>,
               _ rows: Int, _ inner: Int, _ op: BinaryOp, scalarFirst: Bool) {
    Threads.parallelFor(rows, grain: Swift.max(1, (1 << 15) / inner)) { r in
        for i in r {
            let x = full + i * inner, z = out + i * inner, v = sc[i]
            switch (op, scalarFirst) {
            case (.add, _): for j in 0..<inner { z[j] = x[j] + v }
            case (.mul, _): for j in 0..<inner { z[j] = x[j] * v }
            case (.sub, false): for j in 0..<inner { z[j] = x[j] - v }
            case (.sub, true): for j in 0..<inner { z[j] = v - x[j] }
            case (.div, false): for j in 0..<inner { z[j] = x[j] / v }
            case (.div, true): for j in 0..<inner { z[j] = v / x[j] }
            }
        }
    }
}

/// Column sums of `rows` × `inner` values into `out` (overwritten), each
/// column summed over the rows in order (bits independent of threads).
func columnSums(_ x: UnsafePointer<Float>, rows: Int, inner: Int, into out: UnsafeMutablePointer<Float>) {
    Threads.parallelFor(inner, grain: Swift.max(16, inner / 64)) { cols in
        let lo = cols.lowerBound, w = cols.count
        let z = out + lo
        z.update(repeating: 0, count: w)
        for i in 0..<rows {
            let src = x + i * inner + lo
            for j in 0..<w { z[j] += src[j] }
        }
    }
}

extension Tensor {
    /// Sums a gradient of a broadcast shape down to `shape` (the inverse of
    /// broadcasting). Returns self when the shapes already match.
    public func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(Shape.broadcast(target, shape) == shape,
                     "sumToShape: \(Shape.describe(target)) does not broadcast to \(Shape.describe(shape))")
        if let inner = trailingRow(target, of: shape), Shape.count(target) == inner, inner > 1 {
            let out = Tensor(uninitializedShape: target)
            columnSums(data, rows: count / inner, inner: inner, into: out.data)
            return out
        }
        if target.count == rank, target.last == 1, Array(target.dropLast()) == Array(shape.dropLast()), let inner = shape.last {
            // Row sums (in Double, as the general path below).
            let out = Tensor(uninitializedShape: target)
            let pi = data, po = out.data
            Threads.parallelFor(inner == 0 ? 0 : count / inner, grain: Swift.max(1, (1 << 14) / Swift.max(inner, 1))) { r in
                for i in r {
                    let x = pi + i * inner
                    var s: Double = 0
                    for j in 0..<inner { s += Double(x[j]) }
                    po[i] = Float(s)
                }
            }
            return out
        }
        let out = Tensor.zeros(target)
        let (cs, st) = collapse(shape, [Shape.strides(shape), Shape.broadcastStrides(target, to: shape),
                                        [Int](repeating: 0, count: shape.count)])
        let inner = cs.last ?? 1
        let io = st[1].last ?? 0
        let pi = data, po = out.data
        forEachRow(cs, st[0], st[1], st[2]) { oi, oo, _ in
            let x = pi + oi, z = po + oo
            if io == 0 {
                var s: Double = 0
                for j in 0..<inner { s += Double(x[j]) }
                z[0] += Float(s)
            } else {
                for j in 0..<inner { z[j &* io] += x[j] }
            }
        }
        return out
    }
}

// MARK: Differentiable operators

public func + (a: Tensor, b: Tensor) -> Tensor {
    let out = binaryKernel(a, b, .add, "add")
    let sa = a.shape, sb = b.shape
    return record(out, "add", [a, b]) { g in [g.sumToShape(sa), g.sumToShape(sb)] }
}

public func - (a: Tensor, b: Tensor) -> Tensor {
    let out = binaryKernel(a, b, .sub, "sub")
    let sa = a.shape, sb = b.shape
    return record(out, "sub", [a, b]) { g in [g.sumToShape(sa), b.requiresGrad ? (-g).sumToShape(sb) : nil] }
}

public func * (a: Tensor, b: Tensor) -> Tensor {
    let out = binaryKernel(a, b, .mul, "mul")
    return record(out, "mul", [a, b]) { g in
        [a.requiresGrad ? binaryKernel(g, b, .mul, "mul").sumToShape(a.shape) : nil,
         b.requiresGrad ? binaryKernel(g, a, .mul, "mul").sumToShape(b.shape) : nil]
    }
}

public func / (a: Tensor, b: Tensor) -> Tensor {
    let out = binaryKernel(a, b, .div, "div")
    return recordSavingOutput(out, "div", [a, b]) { g, out in
        let ga = a.requiresGrad ? binaryKernel(g, b, .div, "div").sumToShape(a.shape) : nil
        var gb: Tensor? = nil
        if b.requiresGrad {
            // d(a/b)/db = -a/b² = -out/b
            let t = binaryKernel(binaryKernel(g, out, .mul, "div"), b, .div, "div")
            gb = (-t).sumToShape(b.shape)
        }
        return [ga, gb]
    }
}

public prefix func - (a: Tensor) -> Tensor { a * -1 }

// Scalar forms.
public func + (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: s) }
public func + (s: Float, a: Tensor) -> Tensor { a.affine(scale: 1, shift: s) }
public func - (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: -s) }
public func - (s: Float, a: Tensor) -> Tensor { a.affine(scale: -1, shift: s) }
public func * (a: Tensor, s: Float) -> Tensor { a.affine(scale: s, shift: 0) }
public func * (s: Float, a: Tensor) -> Tensor { a.affine(scale: s, shift: 0) }
public func / (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1 / s, shift: 0) }
public func / (s: Float, a: Tensor) -> Tensor { a.reciprocal() * s }

extension Tensor {
    /// scale * x + shift, element-wise.
    public func affine(scale: Float, shift: Float) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let p = data, o = out.data
        Threads.parallelFor(count, grain: 1 << 16) { r in for i in r { o[i] = scale * p[i] + shift } }
        return record(out, "affine", [self]) { g in [g.affine(scale: scale, shift: 0)] }
    }

    /// In-place `self += alpha * other` (same shape; no autograd: for optimizers and accumulation).
    public func addInPlace(_ other: Tensor, alpha: Float = 1) {
        precondition(shape == other.shape, "addInPlace: \(Shape.describe(shape)) vs \(Shape.describe(other.shape))")
        let p = data, q = other.data
        Threads.parallelFor(count, grain: 1 << 16) { r in for i in r { p[i] += alpha * q[i] } }
    }

    /// In-place multiply by a scalar (no autograd).
    public func scaleInPlace(_ s: Float) {
        let p = data
        Threads.parallelFor(count, grain: 1 << 16) { r in for i in r { p[i] *= s } }
    }

    /// In-place fill (no autograd).
    public func fill(_ v: Float) { data.update(repeating: v, count: count) }
}
