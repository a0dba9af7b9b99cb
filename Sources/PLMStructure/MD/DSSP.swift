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
///
/// Speed (same results, bit for bit, as the straightforward version): per-frame scratch
/// memory lives in an `MDDSSPWorkspace` (no allocation per frame); the H-bond energies
/// of one donor/acceptor residue against its CA neighbours (all pairs below 160
/// residues, a cell grid above) are evaluated 8 at a time in SIMD with the same Float
/// expression, then stored in MDTraj's order; bridge partners are enumerated from the
/// H-bond lists (a bridge needs an H-bond between i-1...i+1 and j-1...j+1) instead of
/// testing all residue pairs.
public enum MDDSSP {
    /// Class codes in SeqDance column order: B, E, H, I, G, S, T, ' ' (coil).
    public static let classes: [Character] = ["B", "E", "H", "I", "G", "S", "T", " "]
    static let B: UInt8 = 0, E: UInt8 = 1, H: UInt8 = 2, I: UInt8 = 3, G: UInt8 = 4, S: UInt8 = 5, T: UInt8 = 6, loop: UInt8 = 7

    /// Helix flags per residue and stride (`flags[6 r + stride]`).
    static let none: UInt8 = 0, start: UInt8 = 1, end: UInt8 = 2, startAndEnd: UInt8 = 3, middle: UInt8 = 4

    /// Assigns one frame: `out[r]` receives the class index (0...7, `classes` order) of DSSP residue r.
    /// `workspace` holds the scratch memory (pass one per thread to avoid allocating per frame).
    static func assign(positions xyz: UnsafePointer<Float>, tables t: MDDSSPTables, out: UnsafeMutablePointer<UInt8>,
                       workspace: MDDSSPWorkspace? = nil) {
        let n = t.count
        guard n > 0 else { return }
        let w = workspace ?? MDDSSPWorkspace()
        w.reserve(n)
        @inline(__always) func p(_ atom: Int32) -> SIMD3<Float> {
            let a = Int(atom); return SIMD3(xyz[3 * a], xyz[3 * a + 1], xyz[3 * a + 2])
        }
        @inline(__always) func dot(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float { a.x * b.x + a.y * b.y + a.z * b.z }

        let skip = w.skip
        for i in 0 ..< n { skip[i] = isSkipped(t, i) }
        hydrogenBonds(positions: xyz, tables: t, w: w)
        let hb = w.hb
        @inline(__always) func bond(_ d: Int, _ a: Int) -> Bool { hb[2 * d] == Int32(a) || hb[2 * d + 1] == Int32(a) }

        let ss = w.ss
        for i in 0 ..< n { ss[i] = loop }
        t.chain.withUnsafeBufferPointer { chainBuffer in
        let chain = chainBuffer.baseAddress!

        // Beta bridges and ladders.
        struct Bridge { var parallel: Bool; var i: [Int]; var j: [Int]; var chainI: Int32; var chainJ: Int32 }
        @inline(__always) func bridgeType(_ i: Int, _ j: Int) -> Int {  // 0 none, 1 parallel, 2 antiparallel
            let a = i - 1, b = i, c = i + 1, d = j - 1, e = j, f = j + 1
            guard a >= 0, c < n, chain[a] == chain[c], d >= 0, f < n, chain[d] == chain[f] else { return 0 }
            if (bond(c, e) && bond(e, a)) || (bond(f, b) && bond(b, d)) { return 1 }
            if (bond(c, d) && bond(f, a)) || (bond(e, b) && bond(b, e)) { return 2 }
            return 0
        }
        var bridges: [Bridge] = []
        if n > 5 {
            // Donors of each acceptor (CSR), so every H-bond partner of a residue is at hand.
            let revStart = w.revStart, revList = w.revList
            for a in 0 ... n { revStart[a] = 0 }
            for k in 0 ..< 2 * n where hb[k] >= 0 { revStart[Int(hb[k]) + 1] += 1 }
            for a in 0 ..< n { revStart[a + 1] += revStart[a] }
            let fill = w.revFill
            for a in 0 ..< n { fill[a] = revStart[a] }
            for k in 0 ..< 2 * n where hb[k] >= 0 {
                let a = Int(hb[k]); revList[Int(fill[a])] = Int32(k / 2); fill[a] += 1
            }
            let mark = w.mark, cand = w.cand
            for j in 0 ..< n { mark[j] = -1 }
            for i in 1 ..< n - 4 {
                // Candidates j (ascending, as the all-pairs loop visits them): bridgeType(j, i) reads only
                // bonds between {i-1, i, i+1} and {j-1, j, j+1}, so j lies within one of a partner of those.
                var count = 0
                @inline(__always) func add(_ y: Int) {
                    var j = y - 1
                    while j <= y + 1 {
                        if j >= i + 3 && j < n - 1 && mark[j] != Int32(i) {
                            mark[j] = Int32(i)
                            // insertion keeps cand sorted
                            var k = count
                            while k > 0 && cand[k - 1] > Int32(j) { cand[k] = cand[k - 1]; k -= 1 }
                            cand[k] = Int32(j); count += 1
                        }
                        j += 1
                    }
                }
                for x in i - 1 ... i + 1 {
                    if hb[2 * x] >= 0 { add(Int(hb[2 * x])) }
                    if hb[2 * x + 1] >= 0 { add(Int(hb[2 * x + 1])) }
                    var k = Int(revStart[x])
                    while k < Int(revStart[x + 1]) { add(Int(revList[k])); k += 1 }
                }
                for c in 0 ..< count {
                    let j = Int(cand[c])
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
        if bridges.count > 1 {
            // std::sort by (chain_i, i.front()); a stable sort keeps creation order for ties.
            bridges = bridges.enumerated().sorted { x, y in
                let a = x.element, b = y.element
                if a.chainI != b.chainI { return a.chainI < b.chainI }
                if a.i[0] != b.i[0] { return a.i[0] < b.i[0] }
                return x.offset < y.offset
            }.map(\.element)
        }
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
        let flags = w.flags
        for k in 0 ..< 6 * n { flags[k] = none }
        for stride in 3 ... 5 {
            for i in 0 ..< n where i + stride < n && bond(i + stride, i) && chain[i] == chain[i + stride] {
                flags[6 * (i + stride) + stride] = end
                for j in (i + 1) ..< (i + stride) where flags[6 * j + stride] == none { flags[6 * j + stride] = middle }
                flags[6 * i + stride] = flags[6 * i + stride] == end ? startAndEnd : start
            }
        }
        @inline(__always) func starts(_ i: Int, _ s: Int) -> Bool {
            let f = flags[6 * i + s]; return f == start || f == startAndEnd
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
        // Bends: kappa(CA i-2, i, i+2) > 70 degrees within a chain (only needed for loop residues).
        if n > 2 {
            t.ca.withUnsafeBufferPointer { ca in
            for i in 1 ..< n - 1 where ss[i] == loop && !skip[i] {
                var turn = false
                var s = 3
                while s <= 5 && !turn {
                    var k = 1
                    while k < s && !turn { turn = i >= k && starts(i - k, s); k += 1 }
                    s += 1
                }
                if turn { ss[i] = T; continue }
                guard i >= 2 && i < n - 2 && chain[i - 2] == chain[i + 2] && !skip[i - 2] && !skip[i + 2] else { continue }
                let u = p(ca[i - 2]) - p(ca[i]), v = p(ca[i]) - p(ca[i + 2])
                let cosv = dot(u, v) / sqrtf(dot(u, u) * dot(v, v))
                let kappa = acosf(min(max(cosv, -1), 1))
                if Double(kappa) > 70 * (Double.pi / 180) { ss[i] = S }
            }
            }
        }
        }
        for i in 0 ..< n { out[i] = ss[i] }
    }

    /// Backbone H-bonds of one frame into `w.hb`: `hb[2 d]`, `hb[2 d + 1]` = the acceptors (DSSP
    /// residue indices, -1 = none) of donor d's two lowest energies below -0.5 kcal/mol
    /// (`w.skip` must be filled).
    static func hydrogenBonds(positions xyz: UnsafePointer<Float>, tables t: MDDSSPTables, w: MDDSSPWorkspace) {
        let n = t.count
        let skip = w.skip
        @inline(__always) func p(_ atom: Int32) -> SIMD3<Float> {
            let a = Int(atom); return SIMD3(xyz[3 * a], xyz[3 * a + 1], xyz[3 * a + 2])
        }
        @inline(__always) func dot(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float { a.x * b.x + a.y * b.y + a.z * b.z }

        // Structure of arrays per residue: N, H, C, O, CA (x, y, z each). Skipped residues hold
        // zeros (never read: they are neither donors nor acceptors).
        let nx = w.coords, ny = nx + n, nz = ny + n, hx = nz + n, hy = hx + n, hz = hy + n
        let cx = hz + n, cy = cx + n, cz = cy + n, ox = cz + n, oy = ox + n, oz = oy + n
        let ax = oz + n, ay = ax + n, az = ay + n
        for k in 0 ..< 15 * n { nx[k] = 0 }
        @inline(__always) func put(_ x: UnsafeMutablePointer<Float>, _ i: Int, _ v: SIMD3<Float>) {
            x[i] = v.x; x[i + n] = v.y; x[i + 2 * n] = v.z
        }
        t.nco.withUnsafeBufferPointer { nco in t.ca.withUnsafeBufferPointer { ca in
            // Hydrogens: N + 0.1 nm * unit(C(i-1) - O(i-1)); the first residue's H sits on its N.
            if nco[0] >= 0 { put(hx, 0, p(nco[0])) }
            for i in 1 ..< max(n, 1) where !skip[i] {
                let pc = nco[3 * (i - 1) + 1], po = nco[3 * (i - 1) + 2]
                let rn = p(nco[3 * i])
                if pc < 0 || po < 0 { put(hx, i, rn); continue }
                let rco = p(pc) - p(po)
                put(hx, i, rn + (rco / sqrtf(dot(rco, rco))) * Float(0.1))
            }
            for i in 0 ..< n where !skip[i] {
                put(nx, i, p(nco[3 * i])); put(cx, i, p(nco[3 * i + 1])); put(ox, i, p(nco[3 * i + 2]))
                put(ax, i, p(ca[i]))
            }
        }}

        // Per donor the two lowest energies (ties keep the earlier acceptor).
        let hb = w.hb, he = w.he
        for k in 0 ..< 2 * n { hb[k] = -1; he[k] = 0 }
        @inline(__always) func store(_ d: Int, _ a: Int, _ e: Float) {
            if e < he[2 * d] {
                hb[2 * d + 1] = hb[2 * d]; he[2 * d + 1] = he[2 * d]
                hb[2 * d] = Int32(a); he[2 * d] = e
            } else if e < he[2 * d + 1] {
                hb[2 * d + 1] = Int32(a); he[2 * d + 1] = e
            }
        }
        typealias V = SIMD8<Float>
        let k: Float = 2.7888  // 0.084 * 332 kcal A/mol, distances in nm
        let e1 = w.e1, e2 = w.e2, list = w.list
        t.isProline.withUnsafeBufferPointer { isProline in
        // Energies of residue ri against its partners list[0..<m] (ascending, all > ri):
        // e1 = E(donor ri, acceptor rj), e2 = E(donor rj, acceptor ri), 8 partners at a time with
        // MDTraj's Float expression per lane, then stored in MDTraj's pair order.
        func evaluate(_ ri: Int, _ m: Int) {
            let dN = (x: V(repeating: nx[ri]), y: V(repeating: ny[ri]), z: V(repeating: nz[ri]))
            let dH = (x: V(repeating: hx[ri]), y: V(repeating: hy[ri]), z: V(repeating: hz[ri]))
            let aC = (x: V(repeating: cx[ri]), y: V(repeating: cy[ri]), z: V(repeating: cz[ri]))
            let aO = (x: V(repeating: ox[ri]), y: V(repeating: oy[ri]), z: V(repeating: oz[ri]))
            let one = V(repeating: 1), kk = V(repeating: k), nk = V(repeating: -k), clip = V(repeating: -9.9)
            @inline(__always) func energy(_ rn: (x: V, y: V, z: V), _ rh: (x: V, y: V, z: V),
                                          _ rc: (x: V, y: V, z: V), _ ro: (x: V, y: V, z: V)) -> V {
                let hox = rh.x - ro.x, hoy = rh.y - ro.y, hoz = rh.z - ro.z
                let hcx = rh.x - rc.x, hcy = rh.y - rc.y, hcz = rh.z - rc.z
                let ncx = rn.x - rc.x, ncy = rn.y - rc.y, ncz = rn.z - rc.z
                let nox = rn.x - ro.x, noy = rn.y - ro.y, noz = rn.z - ro.z
                let iho = one / (hox * hox + hoy * hoy + hoz * hoz).squareRoot()
                let inc = one / (ncx * ncx + ncy * ncy + ncz * ncz).squareRoot()
                let ihc = one / (hcx * hcx + hcy * hcy + hcz * hcz).squareRoot()
                let ino = one / (nox * nox + noy * noy + noz * noz).squareRoot()
                let e = (nk * iho + nk * inc) + (kk * ihc + kk * ino)
                return e.replacing(with: clip, where: e .< clip)
            }
            var b = 0
            while b < m {
                var idx = SIMD8<Int32>(repeating: Int32(ri))
                for l in 0 ..< min(8, m - b) { idx[l] = list[b + l] }
                @inline(__always) func gather(_ x: UnsafeMutablePointer<Float>) -> (x: V, y: V, z: V) {
                    var vx = V(), vy = V(), vz = V()
                    for l in 0 ..< 8 { let j = Int(idx[l]); vx[l] = x[j]; vy[l] = x[j + n]; vz[l] = x[j + 2 * n] }
                    return (vx, vy, vz)
                }
                let jN = gather(nx), jH = gather(hx), jC = gather(cx), jO = gather(ox)
                let v1 = energy(dN, dH, jC, jO), v2 = energy(jN, jH, aC, aO)
                for l in 0 ..< 8 { e1[b + l] = v1[l]; e2[b + l] = v2[l] }
                b += 8
            }
            for c in 0 ..< m {
                let rj = Int(list[c])
                if e1[c] < -0.5 && !isProline[ri] { store(ri, rj, e1[c]) }
                if rj != ri + 1 && e2[c] < -0.5 && !isProline[rj] { store(rj, ri, e2[c]) }
            }
        }
        // CA pairs closer than 0.9 nm, in MDTraj's order: ri ascending, rj > ri ascending.
        if n < 160 {
            for ri in 0 ..< n where !skip[ri] {
                let x = ax[ri], y = ay[ri], z = az[ri]
                var m = 0
                for rj in (ri + 1) ..< max(n, ri + 1) where !skip[rj] {
                    let dx = x - ax[rj], dy = y - ay[rj], dz = z - az[rj]
                    if dx * dx + dy * dy + dz * dz < 0.81 { list[m] = Int32(rj); m += 1 }
                }
                if m > 0 { evaluate(ri, m) }
            }
        } else {
            let valid = w.valid, compact = w.compact
            var count = 0
            for i in 0 ..< n where !skip[i] {
                valid[count] = Int32(i)
                compact[3 * count] = ax[i]; compact[3 * count + 1] = ay[i]; compact[3 * count + 2] = az[i]
                count += 1
            }
            let grid = MDCellGrid(positions: compact, count: count, cellSize: 0.9)
            for kk in 0 ..< count {
                let ri = Int(valid[kk])
                let x = compact[3 * kk], y = compact[3 * kk + 1], z = compact[3 * kk + 2]
                var m = 0
                grid.forEachCandidate(x: x, y: y, z: z) { c in
                    let j = valid[c]
                    guard Int(j) > ri else { return }
                    let dx = x - compact[3 * c], dy = y - compact[3 * c + 1], dz = z - compact[3 * c + 2]
                    if dx * dx + dy * dy + dz * dz < 0.81 {
                        var q = m
                        while q > 0 && list[q - 1] > j { list[q] = list[q - 1]; q -= 1 }
                        list[q] = j; m += 1
                    }
                }
                if m > 0 { evaluate(ri, m) }
            }
        }
        }
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

/// Scratch memory of one DSSP frame (one per thread; grows to the largest residue count seen).
final class MDDSSPWorkspace {
    private(set) var capacity = 0
    private(set) var skip = UnsafeMutablePointer<Bool>.allocate(capacity: 1)
    private(set) var ss = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    private(set) var flags = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    private(set) var hb = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var he = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    /// 15 n floats: N, H, C, O, CA, each as x[n], y[n], z[n].
    private(set) var coords = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private(set) var compact = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private(set) var valid = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var list = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var e1 = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private(set) var e2 = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private(set) var mark = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var cand = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var revStart = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var revFill = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    private(set) var revList = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

    init() {}

    private func free() {
        skip.deallocate(); ss.deallocate(); flags.deallocate(); hb.deallocate(); he.deallocate()
        coords.deallocate(); compact.deallocate(); valid.deallocate(); list.deallocate()
        e1.deallocate(); e2.deallocate(); mark.deallocate(); cand.deallocate()
        revStart.deallocate(); revFill.deallocate(); revList.deallocate()
    }

    deinit { free() }

    /// Makes room for `n` residues.
    func reserve(_ n: Int) {
        guard n > capacity else { return }
        free()
        capacity = n
        skip = .allocate(capacity: n); ss = .allocate(capacity: n); flags = .allocate(capacity: 6 * n)
        hb = .allocate(capacity: 2 * n); he = .allocate(capacity: 2 * n)
        coords = .allocate(capacity: 15 * n); compact = .allocate(capacity: 3 * n)
        valid = .allocate(capacity: n); list = .allocate(capacity: n + 8)
        e1 = .allocate(capacity: n + 8); e2 = .allocate(capacity: n + 8)
        mark = .allocate(capacity: n); cand = .allocate(capacity: n)
        revStart = .allocate(capacity: n + 1); revFill = .allocate(capacity: n); revList = .allocate(capacity: 2 * n)
    }
}
