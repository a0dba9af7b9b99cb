import Foundation

/// Shrake-Rupley solvent-accessible surface area with MDTraj's conventions.
///
/// Matches `mdtraj.shrake_rupley` (1.9.7): golden-section-spiral sphere points
/// (960 by default), probe 0.14 nm, MDTraj's atomic radii table, a point is buried
/// when it lies strictly inside another atom's expanded sphere, and an atom's area is
/// `accessible * (4 pi / n) * R^2` in Float, summed per residue in atom order.
///
/// Faster than MDTraj's O(N^2) neighbour scan: a cell grid finds the neighbours
/// (pairs closer than R_i + R_j), neighbours are sorted by distance, the sphere points
/// are grouped into spatially compact blocks of 16, a neighbour is tested against a
/// block only when its sphere can reach the block's enclosing ball, and a block stops
/// at the first neighbour after which all 16 points are buried. The per-point test is
/// the same Float expression as MDTraj's, so areas agree to rounding.
public struct MDShrakeRupley: Sendable {
    /// Unit sphere points, structure of arrays, padded to a multiple of 16.
    let sx: [Float], sy: [Float], sz: [Float]
    /// Number of real sphere points.
    public let pointCount: Int

    /// Creates the sphere points (MDTraj's `generate_sphere_points`).
    public init(spherePoints n: Int = 960) {
        precondition(n > 0, "sphere point count must be positive")
        pointCount = n
        let padded = (n + 15) / 16 * 16
        var x = [Float](repeating: 0, count: padded), y = x, z = x
        // Same mixed float/double arithmetic as MDTraj's C code.
        let inc = Float(Double.pi * (3.0 - 5.0.squareRoot()))
        let offset = Float(2.0 / Double(n))
        for i in 0 ..< n {
            let yy = Float(Double(Float(i) * offset) - 1.0 + Double(offset) / 2.0)
            let r = Float((1.0 - Double(yy) * Double(yy)).squareRoot())
            let phi = Float(i) * inc
            x[i] = Float(cos(Double(phi)) * Double(r))
            y[i] = yy
            z[i] = Float(sin(Double(phi)) * Double(r))
        }
        // Group the points into spatially compact blocks of 16 (recursive median split
        // along the widest axis); the order of the points does not change any count.
        var order = Array(0 ..< n)
        func split(_ lo: Int, _ hi: Int) {
            let count = hi - lo
            guard count > 16 else { return }
            var mn = SIMD3<Float>(repeating: .greatestFiniteMagnitude), mx = -mn
            for k in lo ..< hi { let p = SIMD3(x[order[k]], y[order[k]], z[order[k]]); mn = pointwiseMin(mn, p); mx = pointwiseMax(mx, p) }
            let ext = mx - mn
            let axis = ext.x >= ext.y && ext.x >= ext.z ? 0 : (ext.y >= ext.z ? 1 : 2)
            let coord = axis == 0 ? x : (axis == 1 ? y : z)
            let sorted = order[lo ..< hi].sorted { coord[$0] < coord[$1] }
            for (k, v) in sorted.enumerated() { order[lo + k] = v }
            let leftBlocks = ((count + 15) / 16 + 1) / 2
            let mid = min(lo + leftBlocks * 16, hi)
            split(lo, mid); split(mid, hi)
        }
        split(0, n)
        var ox = [Float](repeating: 0, count: padded), oy = ox, oz = ox
        for (k, v) in order.enumerated() { ox[k] = x[v]; oy[k] = y[v]; oz[k] = z[v] }
        sx = ox; sy = oy; sz = oz
        // Per block: centre (unit-sphere coordinates) and radius enclosing its points.
        var bc = [SIMD3<Float>](), br = [Float]()
        for b in 0 ..< padded / 16 {
            let lanes = min(16, n - 16 * b)
            var c = SIMD3<Float>.zero
            for l in 0 ..< lanes { c += SIMD3(ox[16 * b + l], oy[16 * b + l], oz[16 * b + l]) }
            c /= Float(lanes)
            var r: Float = 0
            for l in 0 ..< lanes {
                let d = SIMD3(ox[16 * b + l], oy[16 * b + l], oz[16 * b + l]) - c
                r = max(r, (d * d).sum().squareRoot())
            }
            bc.append(c); br.append(r)
        }
        blockCentre = bc; blockRadius = br
        maxBlockRadius = br.max() ?? 0
    }

    /// Block centres and enclosing radii on the unit sphere (for neighbour culling).
    let blockCentre: [SIMD3<Float>]
    let blockRadius: [Float]
    let maxBlockRadius: Float

    /// MDTraj's atomic radius (nm) for an element symbol (any case), or nil.
    public static func atomicRadius(element: String) -> Float? {
        radii[element.uppercased()]
    }

    /// Per-atom accessible areas (nm^2) of one frame.
    ///
    /// - positions: [n * 3] coordinates in nm.
    /// - radii: [n] atomic radius + probe (nm).
    /// - areas: [n] output.
    public func atomAreas(positions: UnsafePointer<Float>, radii: UnsafePointer<Float>, count n: Int,
                          areas: UnsafeMutablePointer<Float>) {
        guard n > 0 else { return }
        var maxR: Float = 0
        for i in 0 ..< n { maxR = max(maxR, radii[i]) }
        let grid = MDCellGrid(positions: positions, count: n, cellSize: 2 * maxR)
        let blocks = sx.count / 16
        let constant = Float(4.0 * Double.pi / Double(pointCount))
        // Scratch: neighbour lists and the centred sphere points of one atom.
        var nbIndex = [Int32](), nbDist = [Float]()
        nbIndex.reserveCapacity(128); nbDist.reserveCapacity(128)
        var px = [Float](repeating: 0, count: sx.count), py = px, pz = px
        var nx = [Float](), ny = [Float](), nz = [Float](), nr2 = [Float]()
        var cullStorage = [Float](repeating: 0, count: 16)
        nx.reserveCapacity(128); ny.reserveCapacity(128); nz.reserveCapacity(128); nr2.reserveCapacity(128)

        sx.withUnsafeBufferPointer { sxp in sy.withUnsafeBufferPointer { syp in sz.withUnsafeBufferPointer { szp in
        for i in 0 ..< n {
            let xi = positions[3 * i], yi = positions[3 * i + 1], zi = positions[3 * i + 2]
            let ri = radii[i]
            // Neighbours j with |r_ij|^2 < (R_i + R_j)^2, sorted by distance.
            nbIndex.removeAll(keepingCapacity: true); nbDist.removeAll(keepingCapacity: true)
            grid.forEachCandidate(x: xi, y: yi, z: zi) { j in
                if j == i { return }
                let dx = xi - positions[3 * j], dy = yi - positions[3 * j + 1], dz = zi - positions[3 * j + 2]
                let r2 = dx * dx + dy * dy + dz * dz
                let cut = ri + radii[j]
                if r2 < cut * cut {
                    // insertion by distance
                    var k = nbDist.count
                    nbDist.append(r2); nbIndex.append(Int32(j))
                    while k > 0 && nbDist[k - 1] > r2 {
                        nbDist[k] = nbDist[k - 1]; nbIndex[k] = nbIndex[k - 1]; k -= 1
                    }
                    nbDist[k] = r2; nbIndex[k] = Int32(j)
                }
            }
            nx.removeAll(keepingCapacity: true); ny.removeAll(keepingCapacity: true)
            nz.removeAll(keepingCapacity: true); nr2.removeAll(keepingCapacity: true)
            for j in nbIndex {
                let j = Int(j)
                nx.append(positions[3 * j]); ny.append(positions[3 * j + 1]); nz.append(positions[3 * j + 2])
                nr2.append(radii[j] * radii[j])
            }
            // Centre the sphere points on atom i (Float multiply then add, as MDTraj).
            for p in 0 ..< pointCount {
                px[p] = xi + ri * sxp[p]; py[p] = yi + ri * syp[p]; pz[p] = zi + ri * szp[p]
            }
            var accessible = 0
            let m = nx.count
            if cullStorage.count < m { cullStorage = [Float](repeating: 0, count: 2 * m) }
            px.withUnsafeBufferPointer { pxb in py.withUnsafeBufferPointer { pyb in pz.withUnsafeBufferPointer { pzb in
            nx.withUnsafeBufferPointer { nxb in ny.withUnsafeBufferPointer { nyb in nz.withUnsafeBufferPointer { nzb in
            nr2.withUnsafeBufferPointer { nrb in cullStorage.withUnsafeMutableBufferPointer { cullBuf in
                let cull = cullBuf.baseAddress!
                // Per block: skip neighbours that cannot reach any of its points (conservative
                // margin), then test the 16 points against the remaining ones, nearest first,
                // until every point is buried. Same per-point Float test as MDTraj.
                let margin: Float = 1e-4
                // One culling radius for every block of this atom: (R_k + R_i * max block radius + margin)^2.
                let reach = ri * maxBlockRadius + margin
                for k in 0 ..< m { let r = nrb[k].squareRoot() + reach; cull[k] = r * r }
                for b in 0 ..< blocks {
                    let base = b * 16
                    let lanes = min(16, pointCount - base)
                    let centre = SIMD3(xi, yi, zi) + ri * blockCentre[b]
                    var flags: (UInt64, UInt64) = (0, 0)  // 16 one-byte buried flags
                    withUnsafeMutableBytes(of: &flags) { fb in
                        let f = fb.baseAddress!.assumingMemoryBound(to: UInt8.self)
                        for l in lanes ..< 16 { f[l] = 1 }
                        let px = pxb.baseAddress! + base, py = pyb.baseAddress! + base, pz = pzb.baseAddress! + base
                        let full = fb.baseAddress!.assumingMemoryBound(to: UInt64.self)
                        var k = 0
                        while k < m {
                            let xk = nxb[k], yk = nyb[k], zk = nzb[k], rk2 = nrb[k]
                            k += 1
                            let cx = centre.x - xk, cy = centre.y - yk, cz = centre.z - zk
                            if cx * cx + cy * cy + cz * cz >= cull[k - 1] { continue }
                            for l in 0 ..< 16 {
                                let dx = px[l] - xk, dy = py[l] - yk, dz = pz[l] - zk
                                let d2 = dx * dx + dy * dy + dz * dz
                                f[l] |= d2 < rk2 ? 1 : 0
                            }
                            if full[0] & full[1] == 0x0101_0101_0101_0101 { break }
                        }
                        var buried = 0
                        for l in 0 ..< lanes { buried += Int(f[l]) }
                        accessible += lanes - buried
                    }
                }
            }}}}}}}}
            areas[i] = Float(accessible) * (constant * ri * ri)
        }
        }}}
    }

    /// Per-residue areas (nm^2): adds each atom's area to `out[row[k]]` (rows < 0 are skipped).
    public func residueAreas(positions: UnsafePointer<Float>, radii: UnsafePointer<Float>, count n: Int,
                             rows: UnsafePointer<Int32>, out: UnsafeMutablePointer<Float>, rowCount: Int) {
        let areas = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
        defer { areas.deallocate() }
        atomAreas(positions: positions, radii: radii, count: n, areas: areas)
        for r in 0 ..< rowCount { out[r] = 0 }
        for k in 0 ..< n where rows[k] >= 0 { out[Int(rows[k])] += areas[k] }
    }

    /// MDTraj 1.9.7 `_ATOMIC_RADII` (nm), upper-case symbols.
    static let radii: [String: Float] = [
        "H": 0.120, "HE": 0.140, "LI": 0.076, "BE": 0.059, "B": 0.192, "C": 0.170, "N": 0.155, "O": 0.152,
        "F": 0.147, "NE": 0.154, "NA": 0.102, "MG": 0.086, "AL": 0.184, "SI": 0.210, "P": 0.180, "S": 0.180,
        "CL": 0.181, "AR": 0.188, "K": 0.138, "CA": 0.114, "SC": 0.211, "TI": 0.200, "V": 0.200, "CR": 0.200,
        "MN": 0.200, "FE": 0.200, "CO": 0.200, "NI": 0.163, "CU": 0.140, "ZN": 0.139, "GA": 0.187, "GE": 0.211,
        "AS": 0.185, "SE": 0.190, "BR": 0.185, "KR": 0.202, "RB": 0.303, "SR": 0.249, "Y": 0.200, "ZR": 0.200,
        "NB": 0.200, "MO": 0.200, "TC": 0.200, "RU": 0.200, "RH": 0.200, "PD": 0.163, "AG": 0.172, "CD": 0.158,
        "IN": 0.193, "SN": 0.217, "SB": 0.206, "TE": 0.206, "I": 0.198, "XE": 0.216, "CS": 0.167, "BA": 0.149,
        "LA": 0.200, "CE": 0.200, "PR": 0.200, "ND": 0.200, "PM": 0.200, "SM": 0.200, "EU": 0.200, "GD": 0.200,
        "TB": 0.200, "DY": 0.200, "HO": 0.200, "ER": 0.200, "TM": 0.200, "YB": 0.200, "LU": 0.200, "HF": 0.200,
        "TA": 0.200, "W": 0.200, "RE": 0.200, "OS": 0.200, "IR": 0.200, "PT": 0.175, "AU": 0.166, "HG": 0.155,
        "TL": 0.196, "PB": 0.202, "BI": 0.207, "PO": 0.197, "AT": 0.202, "RN": 0.220, "FR": 0.348, "RA": 0.283,
        "AC": 0.200, "TH": 0.200, "PA": 0.200, "U": 0.186, "NP": 0.200, "PU": 0.200, "AM": 0.200, "CM": 0.200,
        "BK": 0.200, "CF": 0.200, "ES": 0.200, "FM": 0.200, "MD": 0.200, "NO": 0.200, "LR": 0.200, "RF": 0.200,
        "DB": 0.200, "SG": 0.200, "BH": 0.200, "HS": 0.200, "MT": 0.200, "DS": 0.200, "RG": 0.200, "CN": 0.200,
        "UUT": 0.200, "FL": 0.200, "UUP": 0.200, "LV": 0.200, "UUS": 0.200, "UUO": 0.200,
        "D": 0.120,  // deuterium: MDTraj's element table maps D to hydrogen's radius
    ]
}
