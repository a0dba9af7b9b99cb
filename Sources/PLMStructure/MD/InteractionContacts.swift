import Foundation

/// The nine GetContacts interaction types SeqDance stores, in pair-channel order.
public enum MDInteraction: Int, CaseIterable, Sendable {
    case vdw = 0, hbbb, hbsb, hbss, hp, sb, pc, ps, ts
    /// GetContacts' name (`vdw`, `hbbb`, ...).
    public var name: String { ["vdw", "hbbb", "hbsb", "hbss", "hp", "sb", "pc", "ps", "ts"][rawValue] }
}

/// GetContacts' default geometric criteria (`get_dynamic_contacts.py`), Angstrom and degrees.
public struct MDContactCriteria: Sendable, Equatable {
    public var saltBridgeDistance = 4.0
    public var piCationDistance = 6.0
    public var piCationAngle = 60.0
    public var piStackDistance = 7.0
    public var piStackAngle = 30.0
    public var piStackPsi = 45.0
    public var tStackDistance = 5.0
    public var tStackAngle = 30.0
    public var tStackPsi = 45.0
    public var hbondDistance = 3.5
    public var hbondAngle = 70.0
    /// Hydrogen bonds need |resid difference| >= this within one chain.
    public var hbondResidueGap = 1
    public var vdwEpsilon = 0.5
    /// vdW and hydrophobic contacts need |resid difference| >= this within one chain.
    public var vdwResidueGap = 2
    public init() {}
}

/// Atom tables for the GetContacts interaction types (raw topology names, as VMD sees them).
///
/// How GetContacts (VMD) decides, reproduced here:
/// * atoms: the protein (feature residues); contact distances in Angstrom, Float;
/// * vdw: heavy atoms closer than r1 + r2 + 0.5 (GetContacts' radii), not bonded, not
///   within one residue of each other in a chain, not two CYS residues that form a
///   disulfide (SG-SG <= 2.1 A in the first frame);
/// * hb: donor/acceptor atoms are the non-carbon, non-sulfur heavy atoms; D-A < 3.5 A and
///   the D->H, H->A angle < 70 degrees for a hydrogen covalently bound to D; not in one
///   residue; backbone = atoms named N and O only (a terminal OT1/OXT counts as side chain):
///   hbbb, hbsb or hbss; one count per atom pair whichever atom donates;
/// * hp: carbons of ALA PHE GLY ILE LEU PRO VAL TRP bonded only to C/H (all atoms within
///   1.7 A in the first frame are C or H), closer than 3.9 A, vdw residue gap and filters;
/// * sb: ASP OD1/OD2, GLU OE1/OE2 with HIS* ND1/NE2, LYS NZ, ARG NH1/NH2 within 4 A;
/// * pc: a cation atom with all three ring atoms of an aromatic residue (PHE/TYR CG CE1
///   CE2, TRP CD2 CZ2 CZ3, HIS CG CE1 CD2) within 10 A, centroid <= 6 A, angle between the
///   ring normal and centroid->cation <= 60 degrees (folded to 0...90);
/// * ps / ts: two rings with any ring-atom pair within 10 / 6 A, centroids <= 7 / 5 A,
///   normal-normal angle <= 30 (ps, folded) or |angle - 90| <= 30 (ts), and the smaller of
///   the two normal-to-centre-line angles (folded) <= 45; one per residue pair.
/// Covalent bonds (for "bonded" and for the hydrogens of a donor) come from the topology
/// coordinates with VMD's distance rule d < 0.6 (R1 + R2).
struct MDContactTables: Sendable {
    /// Heavy atoms of the feature residues, ascending.
    var heavy: [Int32] = []
    var vdwRadius: [Double] = []
    var row: [Int32] = []
    var chainKey: [Int32] = []
    var resNum: [Int32] = []
    var isCys: [Bool] = []
    var polar: [Bool] = []
    var backbone: [Bool] = []
    var anion: [Bool] = []
    var cation: [Bool] = []
    /// Hydrogens bonded to heavy atom k: hydrogens[hStart[k] ..< hStart[k+1]] (atom indices).
    var hStart: [Int32] = []
    var hydrogens: [Int32] = []
    /// Inter-residue covalent heavy-atom pairs (lo << 32 | hi).
    var bonded: Set<UInt64> = []
    /// Hydrophobic candidates (heavy-list positions) and their atom indices; decided on frame 0.
    var hpCandidates: [Int32] = []
    /// Atom elements (upper case) of every atom, for the frame-0 hydrophobic test.
    var elements: [String] = []
    /// CYS SG atoms (atom index, resid) for disulfide detection on frame 0.
    var cysSG: [(atom: Int32, resNum: Int32)] = []
    /// Aromatic rings: three atoms each (atom-index order), row, chain, resid.
    var rings: [(atoms: SIMD3<Int32>, row: Int32)] = []
    /// Cation atoms (atom index, row) for pi-cation.
    var cations: [(atom: Int32, row: Int32)] = []
    var maxVdwRadius = 1.7

    static let vdwRadii: [String: Double] = [
        "H": 1.20, "HE": 1.40, "LI": 1.82, "BE": 1.53, "B": 1.92, "C": 1.70, "N": 1.55, "O": 1.52, "F": 1.47,
        "NE": 1.54, "NA": 2.27, "MG": 1.73, "AL": 1.84, "SI": 2.10, "P": 1.80, "S": 1.80, "CL": 1.75, "AR": 1.88,
        "K": 2.75, "CA": 2.31, "SC": 2.11, "NI": 1.63, "CU": 1.40, "ZN": 1.39, "GA": 1.87, "GE": 2.11, "AS": 1.85,
        "SE": 1.90, "BR": 1.85, "KR": 2.02, "RB": 3.03, "SR": 2.49, "PD": 1.63, "AG": 1.72, "CD": 1.58, "IN": 1.93,
        "SN": 2.17, "SB": 2.06, "TE": 2.06, "I": 1.98, "XE": 2.16, "CS": 3.43, "BA": 2.68, "PT": 1.75, "AU": 1.66,
        "HG": 1.55, "TL": 1.96, "PB": 2.02, "BI": 2.07, "PO": 1.97, "AT": 2.02, "RN": 2.20, "FR": 3.48, "RA": 2.83,
        "U": 1.86, "GD": 2.79,
    ]
    static let hisNames: Set<String> = ["HIS", "HSD", "HSE", "HSP", "HIE", "HIP", "HID"]
    static let hydrophobicResidues: Set<String> = ["ALA", "PHE", "GLY", "ILE", "LEU", "PRO", "VAL", "TRP"]

    /// VMD's default radius by element for its bond search.
    static func vmdBondRadius(_ element: String) -> Double {
        switch element {
        case "H", "D": return 1.0
        case "C": return 1.5
        case "N": return 1.4
        case "O": return 1.3
        case "F": return 1.2
        case "S": return 1.9
        default: return 1.5
        }
    }

    init() {}

    init(model: StructureModel, atomRow: [Int32], rowCount: Int) {
        let atoms = model.atoms
        elements = atoms.map { $0.element.uppercased() }
        var chainIDs: [String: Int32] = [:]
        let isH = atoms.map { $0.element == "H" || $0.element == "D" }
        // Covalent bonds from topology coordinates (VMD rule), over every atom.
        var topo = [Float](repeating: 0, count: 3 * atoms.count)
        for (i, a) in atoms.enumerated() { topo[3 * i] = Float(a.x); topo[3 * i + 1] = Float(a.y); topo[3 * i + 2] = Float(a.z) }
        var hParents = [[Int32]](repeating: [], count: atoms.count)
        var residueOfAtom = [Int32](repeating: -1, count: atoms.count)
        for (ri, r) in model.residues.enumerated() { for a in r.atomRange { residueOfAtom[a] = Int32(ri) } }
        topo.withUnsafeBufferPointer { tp in
            let grid = MDCellGrid(positions: tp.baseAddress!, count: atoms.count, cellSize: 2.3)
            for i in atoms.indices where atomRow[i] >= 0 {
                let x = tp[3 * i], y = tp[3 * i + 1], z = tp[3 * i + 2]
                let ri = Self.vmdBondRadius(elements[i])
                grid.forEachCandidate(x: x, y: y, z: z) { j in
                    guard j > i || atomRow[j] < 0, j != i else { return }
                    if isH[i] && isH[j] { return }
                    let dx = x - tp[3 * j], dy = y - tp[3 * j + 1], dz = z - tp[3 * j + 2]
                    let d2 = Double(dx * dx + dy * dy + dz * dz)
                    let cut = 0.6 * (ri + Self.vmdBondRadius(elements[j]))
                    guard d2 < cut * cut, d2 > 0.16 else { return }
                    if isH[i] { hParents[i].append(Int32(j)) }
                    else if isH[j] { hParents[j].append(Int32(i)) }
                    else if residueOfAtom[i] != residueOfAtom[j] {
                        let lo = UInt64(min(i, j)), hi = UInt64(max(i, j))
                        bonded.insert(lo << 32 | hi)
                    }
                }
            }
        }
        var hOfHeavy = [Int: [Int32]]()
        for (h, parents) in hParents.enumerated() { for p in parents { hOfHeavy[Int(p), default: []].append(Int32(h)) } }

        var heavyPos = [Int: Int32]()
        for (i, a) in atoms.enumerated() where atomRow[i] >= 0 && !isH[i] {
            let k = Int32(heavy.count)
            heavyPos[i] = k
            heavy.append(Int32(i))
            let el = elements[i]
            let r = Self.vdwRadii[el] ?? 1.7
            vdwRadius.append(r)
            maxVdwRadius = max(maxVdwRadius, r)
            row.append(atomRow[i])
            if chainIDs[a.chainID] == nil { chainIDs[a.chainID] = Int32(chainIDs.count) }
            chainKey.append(chainIDs[a.chainID]!)
            resNum.append(Int32(a.residueNumber))
            isCys.append(a.residueName == "CYS")
            polar.append(el != "C" && el != "S")
            backbone.append(a.name == "N" || a.name == "O")
            let rn = a.residueName, nm = a.name
            anion.append((rn == "ASP" && (nm == "OD1" || nm == "OD2")) || (rn == "GLU" && (nm == "OE1" || nm == "OE2")))
            let cat = (Self.hisNames.contains(rn) && (nm == "ND1" || nm == "NE2")) || (rn == "LYS" && nm == "NZ")
                || (rn == "ARG" && (nm == "NH1" || nm == "NH2"))
            cation.append(cat)
            if cat { cations.append((Int32(i), atomRow[i])) }
            hStart.append(Int32(hydrogens.count))
            hydrogens.append(contentsOf: (hOfHeavy[i] ?? []).sorted())
            if Self.hydrophobicResidues.contains(rn) && el == "C" { hpCandidates.append(k) }
            if rn == "CYS" && nm == "SG" { cysSG.append((Int32(i), Int32(a.residueNumber))) }
        }
        hStart.append(Int32(hydrogens.count))
        // Aromatic rings.
        for r in model.residues {
            guard r.atomRange.contains(where: { atomRow[$0] >= 0 }) else { continue }
            let names: [String]
            switch r.name {
            case "PHE", "TYR": names = ["CG", "CE1", "CE2"]
            case "TRP": names = ["CD2", "CZ2", "CZ3"]
            case let n where Self.hisNames.contains(n): names = ["CG", "CE1", "CD2"]
            default: continue
            }
            let idx = r.atomRange.filter { names.contains(atoms[$0].name) }
            guard idx.count == 3 else { continue }
            rings.append((SIMD3(Int32(idx[0]), Int32(idx[1]), Int32(idx[2])), atomRow[idx[0]]))
        }
        _ = rowCount
    }
}

/// Frame-0 decisions of GetContacts (hydrophobic atoms, disulfide residue pairs).
struct MDContactFrameState: Sendable {
    /// Per heavy-list position: hydrophobic carbon.
    var hydrophobic: [Bool]
    /// Disulfide-bonded CYS residue-number pairs (lo << 32 | hi).
    var disulfides: Set<UInt64>

    init(tables t: MDContactTables, positions p: UnsafePointer<Float>, atomCount n: Int) {
        hydrophobic = [Bool](repeating: false, count: t.heavy.count)
        disulfides = []
        let grid = MDCellGrid(positions: p, count: n, cellSize: 2.1)
        for k in t.hpCandidates {
            let a = Int(t.heavy[Int(k)])
            let x = p[3 * a], y = p[3 * a + 1], z = p[3 * a + 2]
            var ok = true
            grid.forEachCandidate(x: x, y: y, z: z) { j in
                let dx = x - p[3 * j], dy = y - p[3 * j + 1], dz = z - p[3 * j + 2]
                if dx * dx + dy * dy + dz * dz <= 1.7 * 1.7 {
                    let e = t.elements[j]
                    if e != "C" && e != "H" { ok = false }
                }
            }
            hydrophobic[Int(k)] = ok
        }
        for (a, ra) in t.cysSG {
            var partners: Set<Int32> = [ra]
            for (b, rb) in t.cysSG where b != a {
                let dx = p[3 * Int(a)] - p[3 * Int(b)], dy = p[3 * Int(a) + 1] - p[3 * Int(b) + 1]
                let dz = p[3 * Int(a) + 2] - p[3 * Int(b) + 2]
                if dx * dx + dy * dy + dz * dz <= 2.1 * 2.1 { partners.insert(rb) }
            }
            if partners.count == 2 {
                let s = partners.sorted()
                disulfides.insert(UInt64(UInt32(bitPattern: s[0])) << 32 | UInt64(UInt32(bitPattern: s[1])))
            }
        }
    }
}

/// GetContacts-style interaction contacts of one frame.
enum MDContacts {
    /// Event key: type (4 bits) | row a (28 bits) | row b (28 bits), a <= b.
    @inline(__always)
    static func key(_ type: MDInteraction, _ a: Int32, _ b: Int32) -> UInt64 {
        let lo = UInt64(min(a, b)), hi = UInt64(max(a, b))
        return UInt64(type.rawValue) << 56 | lo << 28 | hi
    }

    static func decode(_ k: UInt64) -> (type: Int, a: Int, b: Int) {
        (Int(k >> 56), Int((k >> 28) & 0xFFF_FFFF), Int(k & 0xFFF_FFFF))
    }

    /// Appends one event per atom-level contact (per residue pair for ps/ts) to `events`.
    /// Positions in Angstrom.
    static func frame(_ t: MDContactTables, _ s: MDContactFrameState, _ c: MDContactCriteria,
                      positions p: UnsafePointer<Float>, events: inout [UInt64]) {
        let m = t.heavy.count
        var hx = [Float](repeating: 0, count: 3 * m)
        for k in 0 ..< m {
            let a = Int(t.heavy[k]); hx[3 * k] = p[3 * a]; hx[3 * k + 1] = p[3 * a + 1]; hx[3 * k + 2] = p[3 * a + 2]
        }
        let vdwMax = 2 * t.maxVdwRadius + c.vdwEpsilon
        let hpCut = c.vdwEpsilon + 2 * 1.7
        let cutoff = Float(max(vdwMax, c.saltBridgeDistance, c.hbondDistance, hpCut))
        let cut2 = cutoff * cutoff
        let sb2 = Float(c.saltBridgeDistance * c.saltBridgeDistance)
        let hb2 = Float(c.hbondDistance * c.hbondDistance)
        let hp2 = Float(hpCut * hpCut)
        let cosMax = cos(c.hbondAngle * Double.pi / 180)
        @inline(__always) func pos(_ a: Int32) -> SIMD3<Float> {
            let i = Int(a); return SIMD3(p[3 * i], p[3 * i + 1], p[3 * i + 2])
        }
        // Donor d (heavy position) -> acceptor a (heavy position): some H of d with angle(D->H, H->A) < cutoff.
        func donates(_ d: Int, _ a: Int) -> Bool {
            let dp = pos(t.heavy[d]), ap = pos(t.heavy[a])
            var h = Int(t.hStart[d])
            while h < Int(t.hStart[d + 1]) {
                let hp = pos(t.hydrogens[h])
                let u = SIMD3<Double>(hp - dp), v = SIMD3<Double>(ap - hp)
                let nu = (u * u).sum().squareRoot(), nv = (v * v).sum().squareRoot()
                if nu > 0 && nv > 0 {
                    let cv = (u * v).sum() / (nu * nv)
                    if cv > cosMax { return true }
                }
                h += 1
            }
            return false
        }
        hx.withUnsafeBufferPointer { hp in
            let grid = MDCellGrid(positions: hp.baseAddress!, count: m, cellSize: cutoff)
            for i in 0 ..< m {
                let xi = hp[3 * i], yi = hp[3 * i + 1], zi = hp[3 * i + 2]
                grid.forEachCandidate(x: xi, y: yi, z: zi) { j in
                    guard j > i else { return }
                    let dx = xi - hp[3 * j], dy = yi - hp[3 * j + 1], dz = zi - hp[3 * j + 2]
                    let d2 = dx * dx + dy * dy + dz * dz
                    guard d2 < cut2 else { return }
                    let sameChain = t.chainKey[i] == t.chainKey[j]
                    let gap = abs(Int(t.resNum[i]) - Int(t.resNum[j]))
                    let ri = t.row[i], rj = t.row[j]
                    // vdw and hydrophobic
                    if !(sameChain && gap < c.vdwResidueGap) {
                        let lo = UInt64(min(t.heavy[i], t.heavy[j])), hi = UInt64(max(t.heavy[i], t.heavy[j]))
                        let excluded = t.bonded.contains(lo << 32 | hi)
                            || (t.isCys[i] && t.isCys[j] && s.disulfides.contains(
                                UInt64(UInt32(bitPattern: min(t.resNum[i], t.resNum[j]))) << 32
                                    | UInt64(UInt32(bitPattern: max(t.resNum[i], t.resNum[j])))))
                        if !excluded {
                            let d = Double(d2.squareRoot())
                            let limit = t.vdwRadius[i] + t.vdwRadius[j] + c.vdwEpsilon
                            if d < limit {
                                events.append(key(.vdw, ri, rj))
                                if s.hydrophobic[i] && s.hydrophobic[j] && d2 < hp2 { events.append(key(.hp, ri, rj)) }
                            }
                        }
                    }
                    // salt bridges
                    if ((t.anion[i] && t.cation[j]) || (t.anion[j] && t.cation[i])) && d2 < sb2 {
                        events.append(key(.sb, ri, rj))
                    }
                    // hydrogen bonds
                    if t.polar[i] && t.polar[j] && d2 < hb2 && !(sameChain && gap < c.hbondResidueGap) {
                        if donates(i, j) || donates(j, i) {
                            let type: MDInteraction = t.backbone[i] && t.backbone[j] ? .hbbb
                                : (!t.backbone[i] && !t.backbone[j] ? .hbss : .hbsb)
                            events.append(key(type, ri, rj))
                        }
                    }
                }
            }
        }
        // Aromatic geometry (Double, as GetContacts' NumPy code).
        @inline(__always) func dpos(_ a: Int32) -> SIMD3<Double> { SIMD3<Double>(pos(a)) }
        @inline(__always) func norm(_ v: SIMD3<Double>) -> Double { (v * v).sum().squareRoot() }
        func angleDeg(_ a: SIMD3<Double>, _ b: SIMD3<Double>) -> Double {
            let cv = (a * b).sum() / (norm(a) * norm(b))
            return acos(min(max(cv, -1), 1)) * 180 / Double.pi
        }
        struct Ring { var c: SIMD3<Double>; var n: SIMD3<Double>; var p: [SIMD3<Float>]; var row: Int32 }
        let rings: [Ring] = t.rings.map { r in
            let a = dpos(r.atoms[0]), b = dpos(r.atoms[1]), cc = dpos(r.atoms[2])
            return Ring(c: (a + b + cc) / 3, n: MDDihedrals.cross(cc - a, b - a),
                        p: [pos(r.atoms[0]), pos(r.atoms[1]), pos(r.atoms[2])], row: r.row)
        }
        // pi-cation
        for (atom, row) in t.cations {
            let cp = pos(atom)
            for r in rings where r.row != row {
                var near = true
                for q in r.p { let d = q - cp; if (d * d).sum() >= 100 { near = false; break } }
                guard near else { continue }
                let v = SIMD3<Double>(cp) - r.c
                if norm(v) > c.piCationDistance { continue }
                let a = angleDeg(r.n, v)
                if min(abs(a), abs(a - 180)) > c.piCationAngle { continue }
                events.append(key(.pc, row, r.row))
            }
        }
        // pi-stacking and T-stacking
        if rings.count > 1 {
            for x in 0 ..< rings.count - 1 {
                for y in (x + 1) ..< rings.count where rings[x].row != rings[y].row {
                    let r1 = rings[x], r2 = rings[y]
                    var minD2: Float = .greatestFiniteMagnitude
                    for a in r1.p { for b in r2.p { let d = a - b; minD2 = min(minD2, (d * d).sum()) } }
                    let dist = norm(r1.c - r2.c)
                    let alignment = angleDeg(r1.n, r2.n)
                    let psi1 = angleDeg(r1.n, r1.c - r2.c), psi2 = angleDeg(r2.n, r2.c - r1.c)
                    let psi = min(min(abs(psi1), abs(psi1 - 180)), min(abs(psi2), abs(psi2 - 180)))
                    if minD2 < 100, dist <= c.piStackDistance, min(abs(alignment), abs(alignment - 180)) <= c.piStackAngle,
                       psi <= c.piStackPsi {
                        events.append(key(.ps, r1.row, r2.row))
                    }
                    if minD2 < 36, dist <= c.tStackDistance, abs(alignment - 90) <= c.tStackAngle, psi <= c.tStackPsi {
                        events.append(key(.ts, r1.row, r2.row))
                    }
                }
            }
        }
    }
}
