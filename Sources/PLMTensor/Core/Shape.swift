/// Shape helpers shared by the ops.
public enum Shape {
    /// Number of elements of a shape (1 for a scalar `[]`).
    @inlinable public static func count(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape { n *= d }
        return n
    }

    /// Row-major strides.
    public static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            s[i] = acc
            acc *= shape[i]
        }
        return s
    }

    /// NumPy broadcasting of two shapes; nil when incompatible.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// Strides to read a tensor of `shape` as if it had `target` shape
    /// (broadcast dims get stride 0). `shape` must broadcast to `target`.
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let r = target.count
        let own = strides(shape)
        var out = [Int](repeating: 0, count: r)
        let off = r - shape.count
        for i in 0..<r where i >= off {
            let d = shape[i - off]
            out[i] = (d == 1 && target[i] != 1) ? 0 : own[i - off]
        }
        return out
    }

    /// Normalises a possibly negative axis; traps with a message if out of range.
    @inlinable public static func axis(_ axis: Int, rank: Int, _ op: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < max(rank, 1), "\(op): axis \(axis) out of range for rank \(rank)")
        return a
    }

    public static func describe(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }
}

/// Iterates an N-d index space row by row (the last dim is the row) with up
/// to three operands' strides, calling `body(offsetA, offsetB, offsetOut)` once
/// per row. Rank-0 shapes yield one call. Dims of size 1 are merged away.
@inline(__always)
func forEachRow(_ shape: [Int], _ sa: [Int], _ sb: [Int], _ so: [Int],
                _ body: (Int, Int, Int) -> Void) {
    let r = shape.count
    if r <= 1 { body(0, 0, 0); return }
    let outer = r - 1
    var idx = [Int](repeating: 0, count: outer)
    var oa = 0, ob = 0, oo = 0
    var rows = 1
    for i in 0..<outer { rows *= shape[i] }
    if rows == 0 { return }
    for _ in 0..<rows {
        body(oa, ob, oo)
        var d = outer - 1
        while d >= 0 {
            idx[d] += 1
            oa += sa[d]; ob += sb[d]; oo += so[d]
            if idx[d] < shape[d] { break }
            oa -= sa[d] * shape[d]; ob -= sb[d] * shape[d]; oo -= so[d] * shape[d]
            idx[d] = 0
            d -= 1
        }
    }
}

/// Merges adjacent dims that are contiguous for all operands, so broadcast
/// loops run over long rows. Returns the collapsed shape and strides.
func collapse(_ shape: [Int], _ strides: [[Int]]) -> ([Int], [[Int]]) {
    if shape.isEmpty { return (shape, strides) }
    var s: [Int] = [shape[0]]
    var st: [[Int]] = strides.map { [$0[0]] }
    for i in 1..<shape.count {
        let d = shape[i]
        var merge = true
        for k in 0..<strides.count where st[k].last! != strides[k][i] * d {
            merge = false; break
        }
        if merge {
            s[s.count - 1] *= d
            for k in 0..<strides.count { st[k][st[k].count - 1] = strides[k][i] }
        } else {
            s.append(d)
            for k in 0..<strides.count { st[k].append(strides[k][i]) }
        }
    }
    return (s, st)
}
