import Foundation

/// Errors of the MD feature pipeline; each names the file, atom or frame involved.
public enum MDFeatureError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The topology holds no amino-acid residue with a CA atom.
    case noResidues(topology: String)
    /// An atom's element has no Shrake-Rupley radius (MDTraj's table).
    case unknownElement(topology: String, atom: String, element: String)
    /// The trajectory has no frame to read (after striding).
    case noFrames(trajectory: String)
    /// An option is out of range.
    case invalidOption(String)
    /// `shouldStop` asked to stop (Ctrl-C) after this many of the frames were processed.
    case cancelled(trajectory: String, framesDone: Int, frames: Int)

    public var description: String {
        switch self {
        case .noResidues(let t): return "\(t): no amino-acid residue with a CA atom (nothing to compute MD features for)"
        case .unknownElement(let t, let a, let e):
            return "\(t): atom \(a) has element '\(e)', which has no SASA radius; fix the element column"
        case .noFrames(let t): return "\(t): the trajectory has no frames"
        case .invalidOption(let m): return "invalid MD feature option: \(m)"
        case .cancelled(let t, let done, let total): return "\(t): interrupted after \(done) of \(total) frames (nothing written)"
        }
    }
}

extension MDFeatureError: LocalizedError {
    public var errorDescription: String? { description }
}

/// One dihedral whose 12-bin histogram goes to a residue row.
struct MDDihedral: Sendable {
    /// Atom indices (i, j, k, l).
    var atoms: SIMD4<Int32>
    /// Output row (feature residue).
    var row: Int32
}

/// The atom and residue tables every MD feature needs, built once from the topology.
///
/// Feature residues (the output rows) are the amino-acid residues that hold an atom
/// named CA, in file order — SeqDance's `topology.select('name CA')` restricted to
/// amino acids (a calcium ion named CA is not a residue row).
///
/// Naming follows MDTraj where it matters: a C-terminal `OT1`/`OC1`/`O1`/`OCT1` counts
/// as the backbone `O` (MDTraj renames them on load), so DSSP sees the last residue.
/// GetContacts' own rules (raw names: `OT1` is not backbone there) live in
/// `MDContactTables`.
public struct MDTopology: Sendable {
    /// Name of the topology (for messages).
    public let name: String
    /// Atoms per frame.
    public let atomCount: Int
    /// Indices into `StructureModel.residues` of the feature residues (one output row each).
    public let residueIndices: [Int]
    /// One-letter sequence of the feature residues (`X` for unmapped names).
    public let sequence: String
    /// Lengths of the runs of feature residues sharing a chain identifier, in order (sum = L).
    public let chainLengths: [Int]
    /// Labels like `A:GLY:12` per row (chain:resname:number).
    public let residueLabels: [String]
    /// CA atom index per row.
    public let caAtoms: [Int]

    /// Output row of each atom's residue, -1 when it is not a feature residue.
    let atomRow: [Int32]
    /// Atoms entering Shrake-Rupley (all atoms except waters) and their radii + probe (nm).
    let sasaAtoms: [Int32]
    let sasaElements: [String]
    /// phi, psi, chi1 definitions (MDTraj's `_atom_sequence` rules).
    let phi: [MDDihedral]
    let psi: [MDDihedral]
    let chi1: [MDDihedral]
    /// DSSP tables over the non-water topology residues (MDTraj's residue list minus waters).
    let dssp: MDDSSPTables
    /// GetContacts tables.
    let contacts: MDContactTables

    /// Number of output rows (L).
    public var residueCount: Int { residueIndices.count }

    /// Builds the tables; throws `MDFeatureError.noResidues` when no residue has a CA.
    public init(model: StructureModel, name: String) throws {
        self.name = name
        atomCount = model.atomCount
        let atoms = model.atoms
        let residues = model.residues

        // Feature residues and per-atom rows.
        var rows: [Int] = [], cas: [Int] = [], labels: [String] = []
        var seq = String.UnicodeScalarView()
        var atomRow = [Int32](repeating: -1, count: atoms.count)
        var rowOfResidue = [Int32](repeating: -1, count: residues.count)
        var chainLengths: [Int] = []
        var lastChain: String? = nil
        for (ri, r) in residues.enumerated() where r.kind == .aminoAcid {
            guard let ca = model.atomIndex(named: "CA", inResidue: ri) else { continue }
            let row = Int32(rows.count)
            rows.append(ri); cas.append(ca)
            labels.append("\(r.chainID):\(r.name):\(r.number)\(r.insertionCode)")
            seq.append(contentsOf: (r.oneLetterCode ?? "X").unicodeScalars)
            rowOfResidue[ri] = row
            for a in r.atomRange { atomRow[a] = row }
            if r.chainID == lastChain { chainLengths[chainLengths.count - 1] += 1 } else { chainLengths.append(1) }
            lastChain = r.chainID
        }
        guard !rows.isEmpty else { throw MDFeatureError.noResidues(topology: name) }
        residueIndices = rows
        caAtoms = cas
        residueLabels = labels
        sequence = String(seq)
        self.chainLengths = chainLengths
        self.atomRow = atomRow

        // MDTraj-style chain index: a new chain where the chain ID changes or where the
        // residue kind switches between chain residues (polymer or cap) and the rest
        // (MDTraj splits at TER, which separates ligands and waters).
        var chainIndex = [Int32](repeating: 0, count: residues.count)
        var c: Int32 = 0
        func inChain(_ r: Residue) -> Bool { r.isPolymer || r.kind == .cap }
        for ri in residues.indices where ri > 0 {
            let a = residues[ri - 1], b = residues[ri]
            if a.chainID != b.chainID || inChain(a) != inChain(b) { c += 1 }
            chainIndex[ri] = c
        }

        // SASA atoms: everything but waters (MDTraj uses every atom; trajectories here are protein-only).
        var sasaAtoms: [Int32] = [], sasaElements: [String] = []
        for r in residues where r.kind != .water {
            for a in r.atomRange {
                sasaAtoms.append(Int32(a))
                sasaElements.append(atoms[a].element)
            }
        }
        self.sasaAtoms = sasaAtoms
        self.sasaElements = sasaElements

        // Atom lookup by MDTraj name per residue (backbone O aliases applied to amino acids).
        func find(_ ri: Int, _ atomName: String) -> Int32? {
            let r = residues[ri]
            var hit: Int? = nil
            for a in r.atomRange where atoms[a].name == atomName { hit = a; break }
            if hit == nil, atomName == "O", r.kind == .aminoAcid {
                for a in r.atomRange where ["O1", "OT1", "OCT1", "OC1"].contains(atoms[a].name) { hit = a; break }
            }
            return hit.map(Int32.init)
        }

        // Dihedrals (MDTraj `_atom_sequence`): neighbours by residue index within one chain.
        var phi: [MDDihedral] = [], psi: [MDDihedral] = [], chi: [MDDihedral] = []
        for ri in residues.indices {
            let row = rowOfResidue[ri]
            guard row >= 0 else { continue }
            let prevOK = ri > 0 && chainIndex[ri - 1] == chainIndex[ri]
            let nextOK = ri + 1 < residues.count && chainIndex[ri + 1] == chainIndex[ri]
            if prevOK, let c0 = find(ri - 1, "C"), let n = find(ri, "N"), let ca = find(ri, "CA"), let cc = find(ri, "C") {
                phi.append(MDDihedral(atoms: SIMD4(c0, n, ca, cc), row: row))
            }
            if nextOK, let n = find(ri, "N"), let ca = find(ri, "CA"), let cc = find(ri, "C"), let n1 = find(ri + 1, "N") {
                psi.append(MDDihedral(atoms: SIMD4(n, ca, cc, n1), row: row))
            }
            if let n = find(ri, "N"), let ca = find(ri, "CA"), let cb = find(ri, "CB") {
                for g in ["CG", "CG1", "SG", "OG", "OG1"] {
                    if let x = find(ri, g) { chi.append(MDDihedral(atoms: SIMD4(n, ca, cb, x), row: row)); break }
                }
            }
        }
        self.phi = phi; self.psi = psi; self.chi1 = chi

        // DSSP residue list: non-water residues in file order.
        var d = MDDSSPTables()
        for ri in residues.indices where residues[ri].kind != .water {
            d.nco.append(contentsOf: [find(ri, "N") ?? -1, find(ri, "C") ?? -1, find(ri, "O") ?? -1])
            d.ca.append(find(ri, "CA") ?? -1)
            d.isProline.append(residues[ri].name == "PRO")
            d.chain.append(chainIndex[ri])
            d.row.append(rowOfResidue[ri])
        }
        dssp = d

        contacts = MDContactTables(model: model, atomRow: atomRow, rowCount: rows.count)
    }

    /// Reads a PDB/mmCIF topology (first model) and builds the tables.
    public init(contentsOf url: URL) throws {
        let s = try Structure.read(contentsOf: url, options: StructureReadOptions(firstModelOnly: true))
        try self.init(model: s.firstModel, name: url.lastPathComponent)
    }

    /// SASA radii (nm, probe added) in `sasaAtoms` order; throws for elements MDTraj has no radius for.
    func sasaRadii(probe: Float) throws -> [Float] {
        var out = [Float]()
        out.reserveCapacity(sasaAtoms.count)
        for (k, e) in sasaElements.enumerated() {
            guard let r = MDShrakeRupley.atomicRadius(element: e) else {
                throw MDFeatureError.unknownElement(topology: name, atom: "#\(sasaAtoms[k] + 1)", element: e)
            }
            out.append(r + probe)
        }
        return out
    }
}
