import Foundation

/// Residue tables DSSP reads: backbone atom indices (-1 = missing), proline flags, chain indices.
struct MDDSSPTables: Sendable {
    /// [R * 3] N, C, O atom index per residue.
    var nco: [Int32] = []
    /// [R] CA atom index per residue.
    var ca: [Int32] = []
    var isProline: [Bool] = []
    var chain: [Int32] = []
    /// Output row of each DSSP residue (-1 when it is not a feature residue).
    var row: [Int32] = []
    var count: Int { ca.count }
}

/// DSSP secondary structure (8 classes) with MDTraj 1.9.7's semantics.
///
/// MDTraj's `compute_dssp(simplified=False)` ports DSSP 2.2.0's Kabsch-Sander
/// assignment with its own details, all kept here:
/// * amide H placed at N + 0.1 nm * unit(C(i-1) - O(i-1)) using the previous residue in
///   the list whatever its chain; the first residue's H sits on its N;
/// * electrostatic energy 0.084 * 332 * (1/rON + 1/rCH - 1/rOH - 1/rCN) in kcal/mol
///   (27.888 kcal A/mol, distances in nm -> 2.7888), clipped at -9.9, an H-bond when
///   below -0.5; only residue pairs with CA-CA < 0.9 nm; proline never donates; the
///   pair (donor i+1, acceptor i) is not evaluated; each donor keeps its two best;
/// * residues missing N, CA, C or O are skipped (class ' '; MDTraj reports them 'NA');
/// * bridges, ladders (with bulges), then H (i-1 and i both start a 4-turn), G only over
///   loop/G, I over loop/I/H (pi helices win), T over loop from any n-turn start, S from
///   the CA(i-2)-CA(i)-CA(i+2) angle > 70 degrees.
/// Positions are in nm (Float), as MDTraj works.
public enum MDDSSP {
    /// Class codes in SeqDance column order: B, E, H, I, G, S, T, ' ' (coil).
    public static let classes: [Character] = ["B", "E", "H", "I", "G", "S", "T", " "]
    static let B: UInt8 = 0, E: UInt8 = 1, H: UInt8 = 2, I: UInt8 = 3, G: UInt8 = 4, S: UInt8 = 5, T: UInt8 = 6, loop: UInt8 = 7

    private enum Helix: UInt8 { case none, start, end, startAndEnd, middle }

    /// Assigns one frame: `out[r]` receives the class index (0...7, `classes` order) of DSSP residue r.
    static func assign(positions xyz: UnsafePointer<Float>, tables t: MDDSSPTables, out: UnsafeMutablePointer<UInt8>) {
        let n = t.count
        guard n > 0 else { return }
        @inline(__always) func p(_ atom: Int32) -> SIMD3<Float> {
            let a = Int(atom); return SIMD3(xyz[3 * a], xyz[3 * a + 1], xyz[3 * a + 2])
        }
        @inline(__always) func dot(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float { a.x * b.x + a.y * b.y + a.z * b.z }

        var skip = [Bool](repeating: false, count: n)
        for i in 0 ..< n where isSkipped(t, i) { skip[i] = true }
        let hb = hydrogenBonds(positions: xyz, tables: t, skip: skip)
        @inline(__always) func bond(_ d: Int, _ a: Int) -> Bool { hb[2 * d] == Int32(a) || hb[2 * d + 1] == Int32(a) }

        var ss = [UInt8](repeating: loop, count: n)
        let chain = t.chain

        // Beta bridges and ladders.
        struct Bridge { var parallel: Bool; var i: [Int]; var j: [Int]; var chainI: Int32; var chainJ: Int32 }
        func bridgeType(_ i: Int, _ j: Int) -> Int {  // 0 none, 1 parallel, 2 antiparallel
            let a = i - 1, b = i, c = i + 1, d = j - 1, e = j, f = j + 1
            guard a >= 0, c < n, chain[a] == chain[c], d >= 0, f < n, chain[d] == chain[f] else { return 0 }
            if (bond(c, e) && bond(e, a)) || (bond(f, b) && bond(b, d)) { return 1 }
            if (bond(c, d) && bond(f, a)) || (bond(e, b) && bond(b, e)) { return 2 }
            return 0
        }
        var bridges: [Bridge] = []
        if n > 5 {
            for i in 1 ..< n - 4 {
                for j in (i + 3) ..< (n - 1) {
                    let type = bridgeType(j, i)
                    if type == 0 || skip[i] || skip[j] { continue }
                    let parallel = type == 1
                    var found = false
                    for k in bridges.indices {
                        if bridges[k].parallel != parallel || i != bridges[k].i.last! + 1 { continue }
                        if parallel && bridges[k].j.last! + 1 == j {
                            bridges[k].i.append(i); bridges[k].j.append(j); found = true; break
                        }
                        if !parallel && bridges[k].j.first! - 1 == j {
                            bridges[k].i.append(i); bridges[k].j.insert(j, at: 0); found = true; break
                        }
                    }
                    if !found { bridges.append(Bridge(parallel: parallel, i: [i], j: [j], chainI: chain[i], chainJ: chain[j])) }
                }
            }
        }
        // std::sort by (chain_i, i.front()); a stable sort keeps creation order for ties.
        bridges = bridges.enumerated().sorted { x, y in
            let a = x.element, b = y.element
            if a.chainI != b.chainI { return a.chainI < b.chainI }
            if a.i[0] != b.i[0] { return a.i[0] < b.i[0] }
            return x.offset < y.offset
        }.map(\.element)
        var bi = 0
        while bi < bridges.count {
            var bj = bi + 1
            while bj < bridges.count {
                let ibi = bridges[bi].i.first!, iei = bridges[bi].i.last!
                let jbi = bridges[bi].j.first!, jei = bridges[bi].j.last!
                let ibj = bridges[bj].i.first!, iej = bridges[bj].i.last!
                let jbj = bridges[bj].j.first!, jej = bridges[bj].j.last!
                if bridges[bi].parallel != bridges[bj].parallel
                    || chain[min(ibi, ibj)] != chain[max(iei, iej)]
                    || chain[min(jbi, jbj)] != chain[max(jei, jej)]
                    || ibj - iei >= 6 || (iei >= ibj && ibi <= iej) {
                    bj += 1; continue
                }
                let bulge: Bool
                if bridges[bi].parallel {
                    bulge = (jbj > jbi) && ((jbj - jei < 6 && ibj - iei < 3) || (jbj - jei < 3))
                } else {
                    bulge = (jbj < jbi) && ((jbi - jej < 6 && ibj - iei < 3) || (jbi - jej < 3))
                }
                if bulge {
                    bridges[bi].i.append(contentsOf: bridges[bj].i)
                    if bridges[bi].parallel { bridges[bi].j.append(contentsOf: bridges[bj].j) }
                    else { bridges[bi].j.insert(contentsOf: bridges[bj].j, at: 0) }
                    bridges.remove(at: bj)
                } else {
                    bj += 1
                }
            }
            bi += 1
        }
        for b in bridges {
            let cls = b.i.count > 1 ? E : B
            if b.i.first! <= b.i.last! { for k in b.i.first! ... b.i.last! where ss[k] != E { ss[k] = cls } }
            if b.j.first! <= b.j.last! { for k in b.j.first! ... b.j.last! where ss[k] != E { ss[k] = cls } }
        }

        // Helices and turns.
        var flags = [Helix](repeating: .none, count: 6 * n)
        for stride in 3 ... 5 {
            for i in 0 ..< n where i + stride < n && bond(i + stride, i) && chain[i] == chain[i + stride] {
                flags[6 * (i + stride) + stride] = .end
                for j in (i + 1) ..< (i + stride) where flags[6 * j + stride] == .none { flags[6 * j + stride] = .middle }
                flags[6 * i + stride] = flags[6 * i + stride] == .end ? .startAndEnd : .start
            }
        }
        @inline(__always) func starts(_ i: Int, _ s: Int) -> Bool {
            let f = flags[6 * i + s]; return f == .start || f == .startAndEnd
        }
        if n > 5 { for i in 1 ..< n - 4 where starts(i, 4) && starts(i - 1, 4) { for j in i ... i + 3 { ss[j] = H } } }
        if n > 4 {
            for i in 1 ..< n - 3 where starts(i, 3) && starts(i - 1, 3) {
                var empty = true
                var j = i
                while empty && j <= i + 2 { empty = ss[j] == loop || ss[j] == G; j += 1 }
                if empty { for j in i ... i + 2 { ss[j] = G } }
            }
        }
        if n > 6 {
            for i in 1 ..< n - 5 where starts(i, 5) && starts(i - 1, 5) {
                var empty = true
                var j = i
                while empty && j <= i + 4 { empty = ss[j] == loop || ss[j] == I || ss[j] == H; j += 1 }
                if empty { for j in i ... i + 4 { ss[j] = I } }
            }
        }
        // Bends: kappa(CA i-2, i, i+2) > 70 degrees within a chain.
        var bend = [Bool](repeating: false, count: n)
        if n > 4 {
            for i in 2 ..< n - 2 where chain[i - 2] == chain[i + 2] && !skip[i - 2] && !skip[i] && !skip[i + 2] {
                let u = p(t.ca[i - 2]) - p(t.ca[i]), v = p(t.ca[i]) - p(t.ca[i + 2])
                let cosv = dot(u, v) / sqrtf(dot(u, u) * dot(v, v))
                let kappa = acosf(min(max(cosv, -1), 1))
                bend[i] = Double(kappa) > 70 * (Double.pi / 180)
            }
        }
        if n > 2 {
            for i in 1 ..< n - 1 where ss[i] == loop && !skip[i] {
                var turn = false
                var s = 3
                while s <= 5 && !turn {
                    var k = 1
                    while k < s && !turn { turn = i >= k && starts(i - k, s); k += 1 }
                    s += 1
                }
                if turn { ss[i] = T } else if bend[i] { ss[i] = S }
            }
        }
        for i in 0 ..< n { out[i] = ss[i] }
    }

    /// Backbone H-bonds of one frame: `hb[2 d]`, `hb[2 d + 1]` = the acceptors (DSSP residue
    /// indices, -1 = none) of donor d's two lowest energies below -0.5 kcal/mol.
    static func hydrogenBonds(positions xyz: UnsafePointer<Float>, tables t: MDDSSPTables, skip: [Bool]) -> [Int32] {
        let n = t.count
        @inline(__always) func p(_ atom: Int32) -> SIMD3<Float> {
            let a = Int(atom); return SIMD3(xyz[3 * a], xyz[3 * a + 1], xyz[3 * a + 2])
        }
        @inline(__always) func dot(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float { a.x * b.x + a.y * b.y + a.z * b.z }

        // Hydrogens.
        var hpos = [SIMD3<Float>](repeating: .zero, count: n)
        if t.nco[0] >= 0 { hpos[0] = p(t.nco[0]) }
        for i in 1 ..< max(n, 1) where !skip[i] {
            let pc = t.nco[3 * (i - 1) + 1], po = t.nco[3 * (i - 1) + 2]
            let rn = p(t.nco[3 * i])
            if pc < 0 || po < 0 { hpos[i] = rn; continue }
            let rco = p(pc) - p(po)
            hpos[i] = rn + (rco / sqrtf(dot(rco, rco))) * Float(0.1)
        }

        // Backbone H-bonds: per donor the two lowest energies (ties keep the earlier acceptor).
        var hb = [Int32](repeating: -1, count: 2 * n)
        var he = [Float](repeating: 0, count: 2 * n)
        func energy(_ d: Int, _ a: Int) -> Float {
            let rn = p(t.nco[3 * d]), rh = hpos[d], rc = p(t.nco[3 * a + 1]), ro = p(t.nco[3 * a + 2])
            let rho = rh - ro, rhc = rh - rc, rnc = rn - rc, rno = rn - ro
            let k: Float = 2.7888  // 0.084 * 332 kcal A/mol, distances in nm
            let inv = SIMD4<Float>(1, 1, 1, 1) / SIMD4<Float>(dot(rho, rho), dot(rnc, rnc), dot(rhc, rhc), dot(rno, rno)).squareRoot()
            let e = ((-k) * inv[0] + (-k) * inv[1]) + (k * inv[2] + k * inv[3])
            return e < -9.9 ? -9.9 : e
        }
        func store(_ d: Int, _ a: Int, _ e: Float) {
            if e < he[2 * d] {
                hb[2 * d + 1] = hb[2 * d]; he[2 * d + 1] = he[2 * d]
                hb[2 * d] = Int32(a); he[2 * d] = e
            } else if e < he[2 * d + 1] {
                hb[2 * d + 1] = Int32(a); he[2 * d + 1] = e
            }
        }
        // CA neighbour pairs within 0.9 nm via a cell grid; MDTraj's evaluation order is
        // ri ascending, rj > ri ascending; each donor therefore sees acceptors in ascending order.
        var caPos = [Float](repeating: 0, count: 3 * n)
        var valid: [Int32] = []
        for i in 0 ..< n where !skip[i] {
            let c = p(t.ca[i]); caPos[3 * i] = c.x; caPos[3 * i + 1] = c.y; caPos[3 * i + 2] = c.z
            valid.append(Int32(i))
        }
        var compact = [Float](repeating: 0, count: 3 * valid.count)
        for (k, i) in valid.enumerated() {
            for d in 0 ..< 3 { compact[3 * k + d] = caPos[3 * Int(i) + d] }
        }
        // For each ri (ascending) the partners rj > ri (ascending), evaluated at once: the
        // same order as MDTraj's double loop, so ties resolve identically.
        compact.withUnsafeBufferPointer { cp in
            let grid = MDCellGrid(positions: cp.baseAddress!, count: valid.count, cellSize: 0.9)
            var list: [Int32] = []
            list.reserveCapacity(64)
            for (k, i) in valid.enumerated() {
                let x = cp[3 * k], y = cp[3 * k + 1], z = cp[3 * k + 2]
                list.removeAll(keepingCapacity: true)
                grid.forEachCandidate(x: x, y: y, z: z) { m in
                    let j = valid[m]
                    guard j > i else { return }
                    let r = SIMD3(x, y, z) - SIMD3(cp[3 * m], cp[3 * m + 1], cp[3 * m + 2])
                    if dot(r, r) < 0.81 { list.append(j) }
                }
                list.sort()
                let ri = Int(i)
                for rj32 in list {
                    let rj = Int(rj32)
                    let e = energy(ri, rj)
                    if e < -0.5 && !t.isProline[ri] { store(ri, rj, e) }
                    if rj != ri + 1 {
                        let e2 = energy(rj, ri)
                        if e2 < -0.5 && !t.isProline[rj] { store(rj, ri, e2) }
                    }
                }
            }
        }
        return hb
    }

    /// DSSP class letters of one frame for the feature residues (positions in nm), e.g. for tests.
    public static func assign(positions: [Float], topology: MDTopology) -> String {
        let t = topology.dssp
        var codes = [UInt8](repeating: loop, count: t.count)
        positions.withUnsafeBufferPointer { p in codes.withUnsafeMutableBufferPointer { c in
            assign(positions: p.baseAddress!, tables: t, out: c.baseAddress!)
        }}
        var rows = [Character](repeating: " ", count: topology.residueCount)
        for r in 0 ..< t.count where t.row[r] >= 0 {
            rows[Int(t.row[r])] = isSkipped(t, r) ? "-" : classes[Int(codes[r])]
        }
        return String(rows)
    }

    /// True when DSSP residue r lacks N, CA, C or O (MDTraj's 'NA').
    static func isSkipped(_ t: MDDSSPTables, _ r: Int) -> Bool {
        t.nco[3 * r] < 0 || t.nco[3 * r + 1] < 0 || t.nco[3 * r + 2] < 0 || t.ca[r] < 0
    }
}
