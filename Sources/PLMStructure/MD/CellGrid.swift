import Foundation

/// A uniform cell grid over a point set for fixed-cutoff neighbour searches.
///
/// Points are bucketed by a counting sort into cells of edge `cellSize` (at least the
/// search cutoff); a query visits the 27 cells around a position. The grid is capped at
/// about 8 cells per point (the cell edge grows for very sparse sets) so memory stays
/// linear in the number of points. Non-periodic: MD frames here are whole molecules.
struct MDCellGrid {
    let origin: SIMD3<Float>
    let inv: Float
    let nx: Int, ny: Int, nz: Int
    /// Cell start offsets [cells + 1] into `order`.
    let start: [Int32]
    /// Point indices sorted by cell.
    let order: [Int32]

    init(positions: UnsafePointer<Float>, count n: Int, cellSize: Float) {
        var lo = SIMD3<Float>(repeating: .greatestFiniteMagnitude), hi = -lo
        for i in 0 ..< n {
            let p = SIMD3(positions[3 * i], positions[3 * i + 1], positions[3 * i + 2])
            lo = pointwiseMin(lo, p); hi = pointwiseMax(hi, p)
        }
        if n == 0 { lo = .zero; hi = .zero }
        var size = max(cellSize, 1e-3)
        // Non-finite extents (NaN coordinates) become one cell; huge ones are clamped here and
        // then coarsened by the cap below, so no input can trap or exhaust memory.
        func clean(_ e: Float) -> Double { e.isFinite && e >= 0 ? Double(e) : 0 }
        let ext = (clean(hi.x - lo.x), clean(hi.y - lo.y), clean(hi.z - lo.z))
        func dims(_ s: Float) -> (Int, Int, Int) {
            func d(_ e: Double) -> Int { Int(min(e / Double(s), 1e9)) + 1 }
            return (d(ext.0), d(ext.1), d(ext.2))
        }
        var d = dims(size)
        while Double(d.0) * Double(d.1) * Double(d.2) > Double(max(64, 8 * n)) { size *= 1.5; d = dims(size) }
        origin = lo; inv = 1 / size; (nx, ny, nz) = d
        let cells = nx * ny * nz
        var count = [Int32](repeating: 0, count: cells + 1)
        var cellOf = [Int32](repeating: 0, count: n)
        for i in 0 ..< n {
            let c = Self.cell(SIMD3(positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]), lo, 1 / size, nx, ny, nz)
            cellOf[i] = Int32(c); count[c + 1] += 1
        }
        for c in 0 ..< cells { count[c + 1] += count[c] }
        var fill = count
        var order = [Int32](repeating: 0, count: n)
        for i in 0 ..< n {
            let c = Int(cellOf[i]); order[Int(fill[c])] = Int32(i); fill[c] += 1
        }
        start = count; self.order = order
    }

    @inline(__always)
    static func cell(_ p: SIMD3<Float>, _ lo: SIMD3<Float>, _ inv: Float, _ nx: Int, _ ny: Int, _ nz: Int) -> Int {
        // Clamped in floating point first: Int() of NaN or of a huge value would trap.
        let q = ((p - lo) * inv).replacing(with: 0, where: .!((p - lo) .== (p - lo)))
        let c = q.clamped(lowerBound: .zero, upperBound: SIMD3(Float(nx - 1), Float(ny - 1), Float(nz - 1)))
        return (Int(c.z) * ny + Int(c.y)) * nx + Int(c.x)
    }

    /// Calls `body` with every point index in the 27 cells around (x, y, z) (a superset of
    /// the points within one cell edge), including the query point itself if it is in the set.
    @inline(__always)
    func forEachCandidate(x: Float, y: Float, z: Float, _ body: (Int) -> Void) {
        let r = (SIMD3(x, y, z) - origin) * inv
        guard r.x == r.x && r.y == r.y && r.z == r.z else { return }   // NaN: no neighbours
        let q = r.clamped(lowerBound: SIMD3(repeating: -2), upperBound: SIMD3(Float(nx + 1), Float(ny + 1), Float(nz + 1)))
        let ix = Int(q.x.rounded(.down)), iy = Int(q.y.rounded(.down)), iz = Int(q.z.rounded(.down))
        let z0 = max(iz - 1, 0), z1 = min(iz + 1, nz - 1)
        let y0 = max(iy - 1, 0), y1 = min(iy + 1, ny - 1)
        let x0 = max(ix - 1, 0), x1 = min(ix + 1, nx - 1)
        if z0 > z1 || y0 > y1 || x0 > x1 { return }
        start.withUnsafeBufferPointer { st in order.withUnsafeBufferPointer { od in
            for cz in z0 ... z1 {
                for cy in y0 ... y1 {
                    let rowBase = (cz * ny + cy) * nx
                    var k = Int(st[rowBase + x0])
                    let e = Int(st[rowBase + x1 + 1])
                    while k < e { body(Int(od[k])); k += 1 }
                }
            }
        }}
    }
}
