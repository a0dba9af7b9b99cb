import Foundation

// Message-passing ops for graph layers: gather rows by index (messages from
// source nodes) and scatter-add rows into an output (sum at target nodes).
// Each is the other's gradient. Rows are the first axis; the rest of the
// shape is one contiguous row of `inner` values.

extension Tensor {
    /// out[e] = self[index[e]] for a table [N, ...] -> [E, ...] (rows may repeat).
    /// The gradient scatter-adds back into the table's rows.
    /// (Equivalent to `indexSelect(axis: 0, indices:)`, with Int32 indices and a parallel backward.)
    public func gatherRows(_ index: [Int32]) -> Tensor {
        precondition(rank >= 1, "gatherRows: input must have at least one axis")
        let n = shape[0], inner = count / Swift.max(n, 1)
        for (e, i) in index.enumerated() {
            precondition(i >= 0 && Int(i) < n, "gatherRows: index \(i) at \(e) out of range for \(n) rows")
        }
        var outShape = shape
        outShape[0] = index.count
        let out = Tensor(uninitializedShape: outShape)
        let p = data, o = out.data
        index.withUnsafeBufferPointer { ip in
            let ipb = ip.baseAddress
            Threads.parallelFor(ip.count, grain: Swift.max(1, (1 << 14) / Swift.max(inner, 1))) { r in
                for e in r { (o + e * inner).update(from: p + Int(ipb![e]) * inner, count: inner) }
            }
        }
        return record(out, "gatherRows", [self]) { g in
            [g.scatterAddRows(index, rows: n)]
        }
    }

    /// out[index[e]] += self[e] for messages [E, ...] -> [rows, ...] (rows
    /// nobody writes stay 0): torch's `index_add_(0, index, self)` into zeros.
    /// Rows add in edge order, so the bits do not depend on the thread count.
    /// The gradient gathers the output gradient's rows.
    public func scatterAddRows(_ index: [Int32], rows: Int) -> Tensor {
        precondition(rank >= 1 && shape[0] == index.count, "scatterAddRows: \(index.count) indices for input \(Shape.describe(shape))")
        precondition(rows >= 0, "scatterAddRows: rows must be non-negative")
        let e = shape[0], inner = e > 0 ? count / e : Shape.count(Array(shape.dropFirst()))
        for (k, i) in index.enumerated() {
            precondition(i >= 0 && Int(i) < rows, "scatterAddRows: index \(i) at \(k) out of range for \(rows) rows")
        }
        var outShape = shape
        outShape[0] = rows
        let out = Tensor.zeros(outShape)
        let p = data, o = out.data
        index.withUnsafeBufferPointer { ip in
            let ipb = ip.baseAddress
            // Column blocks in parallel; inside a block, edges in order.
            Threads.parallelFor(inner, grain: Swift.max(16, inner / 64)) { cols in
                let lo = cols.lowerBound, w = cols.count
                for k in 0..<e {
                    let dst = o + Int(ipb![k]) * inner + lo, src = p + k * inner + lo
                    for j in 0..<w { dst[j] += src[j] }
                }
            }
        }
        return record(out, "scatterAddRows", [self]) { g in
            [g.gatherRows(index)]
        }
    }
}
