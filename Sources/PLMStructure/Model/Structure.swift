import Foundation

/// A residue: a contiguous run of atoms sharing chain, number, insertion code and name.
public struct Residue: Hashable, Sendable {
    /// What kind of residue this is; decides whether it enters the chain sequence.
    public enum Kind: String, Hashable, Sendable {
        /// Amino acid: a known name (incl. modified/force-field variants) or an unknown name with
        /// N, CA and C atoms (HETATM ones only when linked to a neighbouring residue).
        case aminoAcid
        /// Nucleotide: a known DNA/RNA name or an unknown name with P and C4' atoms
        /// (HETATM ones only when linked to a neighbouring residue).
        case nucleotide
        /// Water (HOH, WAT, SOL, TIP3, ...).
        case water
        /// Terminal cap without a sequence letter (ACE, NME, NH2, ...).
        case cap
        /// Ligand, ion or anything else.
        case other
    }

    /// Residue name (`ALA`, `MSE`, `HOH`).
    public var name: String
    /// Residue sequence number.
    public var number: Int
    /// Insertion code; empty when blank.
    public var insertionCode: String
    /// Chain identifier; empty when blank.
    public var chainID: String
    /// True when the residue's first atom is a HETATM record.
    public var isHetero: Bool
    /// Residue kind (polymer residue, water, cap, other).
    public var kind: Kind
    /// Indices of this residue's atoms in `StructureModel.atoms`.
    public var atomRange: Range<Int>

    /// True for amino acids and nucleotides (the residues that form the chain sequence).
    public var isPolymer: Bool { kind == .aminoAcid || kind == .nucleotide }

    /// One-letter code: the table letter, `X` for an unmapped polymer residue, nil for non-polymer residues.
    public var oneLetterCode: Character? {
        guard isPolymer else { return nil }
        return ResidueTable.oneLetterCode(for: name) ?? "X"
    }

    /// True for a polymer residue whose name has no one-letter mapping (reported as `X`).
    public var isUnmapped: Bool { isPolymer && ResidueTable.oneLetterCode(for: name) == nil }

    /// Residue label like `A:52B` (chain:number+insertion code).
    public var label: String { "\(chainID):\(number)\(insertionCode)" }
}

/// A chain: the residues with one chain identifier, in file order.
public struct Chain: Hashable, Sendable {
    /// Chain identifier (empty for blank chain IDs).
    public var id: String
    /// Indices into `StructureModel.residues`.
    public var residueIndices: [Int]
}

/// The sequence of one chain together with the residue names that had no one-letter code.
public struct ChainSequence: Hashable, Sendable {
    /// Chain identifier.
    public var chainID: String
    /// One-letter sequence of the chain's polymer residues (`X` for unmapped names).
    public var sequence: String
    /// Distinct residue names written as `X`, in order of first appearance.
    public var unmappedResidueNames: [String]
    /// Indices (into `StructureModel.residues`) of the residues in `sequence`, one per letter.
    public var residueIndices: [Int]
}

/// One model (MODEL record or `pdbx_PDB_model_num`): an independent list of atoms with residues and chains.
public struct StructureModel: Hashable, Sendable {
    /// Model number as written in the file (MODEL serial; 1 when the file has no MODEL records).
    public var number: Int
    /// Atoms in file order (one per atom after alternate-location selection).
    public var atoms: [Atom]
    /// Residues in file order.
    public var residues: [Residue]
    /// Chains in order of first appearance.
    public var chains: [Chain]

    /// Creates a model and derives residues and chains from the atom order.
    public init(number: Int, atoms: [Atom]) {
        self.number = number
        self.atoms = atoms
        (self.residues, self.chains) = StructureModel.assemble(atoms)
    }

    /// Number of atoms.
    public var atomCount: Int { atoms.count }
    /// Chain identifiers in order of first appearance.
    public var chainIDs: [String] { chains.map(\.id) }

    /// The chain with this identifier, if present.
    public func chain(_ id: String) -> Chain? { chains.first { $0.id == id } }

    /// Residues of one chain in file order (empty if the chain is absent).
    public func residues(chain id: String) -> [Residue] {
        chain(id)?.residueIndices.map { residues[$0] } ?? []
    }

    /// One-letter sequence of a chain's polymer residues; nil if the chain is absent.
    public func sequence(chain id: String) -> String? {
        sequenceInfo(chain: id)?.sequence
    }

    /// Sequence of a chain with the list of unmapped residue names; nil if the chain is absent.
    public func sequenceInfo(chain id: String) -> ChainSequence? {
        guard let c = chain(id) else { return nil }
        var letters = String.UnicodeScalarView()
        var unmapped: [String] = []
        var indices: [Int] = []
        for ri in c.residueIndices {
            let r = residues[ri]
            guard let letter = r.oneLetterCode else { continue }
            letters.append(contentsOf: letter.unicodeScalars)
            indices.append(ri)
            if r.isUnmapped && !unmapped.contains(r.name) { unmapped.append(r.name) }
        }
        return ChainSequence(chainID: id, sequence: String(letters),
                             unmappedResidueNames: unmapped, residueIndices: indices)
    }

    /// Sequences of every chain that has at least one polymer residue, in chain order.
    public func sequences() -> [ChainSequence] {
        chains.compactMap { sequenceInfo(chain: $0.id) }.filter { !$0.sequence.isEmpty }
    }

    /// Index of the first atom named `name` in a residue, if any.
    public func atomIndex(named name: String, inResidue residueIndex: Int) -> Int? {
        residues[residueIndex].atomRange.first { atoms[$0].name == name }
    }

    /// Atom indices of the C-alpha atoms of a chain's amino-acid residues (one per residue that has one).
    public func caAtomIndices(chain id: String) -> [Int] {
        guard let c = chain(id) else { return [] }
        return c.residueIndices.compactMap { ri in
            residues[ri].kind == .aminoAcid ? atomIndex(named: "CA", inResidue: ri) : nil
        }
    }

    /// C-alpha coordinates (Angstrom) of a chain, one per amino-acid residue that has a CA atom.
    public func caCoordinates(chain id: String) -> [SIMD3<Double>] {
        caAtomIndices(chain: id).map { atoms[$0].position }
    }

    /// C-alpha coordinates (Angstrom) of every chain that has amino acids, in chain order.
    public func caCoordinatesByChain() -> [(chainID: String, coordinates: [SIMD3<Double>])] {
        chains.compactMap { c in
            let xyz = caCoordinates(chain: c.id)
            return xyz.isEmpty ? nil : (c.id, xyz)
        }
    }

    /// All coordinates as a flat Float array [atomCount * 3] (x0, y0, z0, x1, ...), Angstrom.
    public func coordinates() -> [Float] {
        var out = [Float](repeating: 0, count: atoms.count * 3)
        for (i, a) in atoms.enumerated() {
            out[3 * i] = Float(a.x); out[3 * i + 1] = Float(a.y); out[3 * i + 2] = Float(a.z)
        }
        return out
    }

    /// Groups atoms into residues (contiguous runs) and residues into chains (by identifier).
    static func assemble(_ atoms: [Atom]) -> ([Residue], [Chain]) {
        var residues: [Residue] = []
        var chainOrder: [String] = []
        var chainResidues: [String: [Int]] = [:]
        var start = 0
        while start < atoms.count {
            let a = atoms[start]
            var end = start + 1
            while end < atoms.count {
                let b = atoms[end]
                if b.residueNumber != a.residueNumber || b.chainID != a.chainID
                    || b.insertionCode != a.insertionCode || b.residueName != a.residueName { break }
                end += 1
            }
            let kind = classify(name: a.residueName, atoms: atoms[start..<end])
            let index = residues.count
            residues.append(Residue(name: a.residueName, number: a.residueNumber,
                                    insertionCode: a.insertionCode, chainID: a.chainID,
                                    isHetero: a.isHetero, kind: kind, atomRange: start..<end))
            if chainResidues[a.chainID] == nil { chainOrder.append(a.chainID) }
            chainResidues[a.chainID, default: []].append(index)
            start = end
        }
        let chains = chainOrder.map { Chain(id: $0, residueIndices: chainResidues[$0]!) }
        // HETATM residues with unknown names look like amino acids / nucleotides by their atom
        // names alone (FMN has P and C4'); keep them in the polymer only when covalently linked
        // to the previous or next residue of their chain (C-N or O3'-P within 2 Angstrom).
        for chain in chains {
            let idx = chain.residueIndices
            for (k, ri) in idx.enumerated() {
                let r = residues[ri]
                guard r.isPolymer, r.isHetero, ResidueTable.oneLetterCode(for: r.name) == nil else { continue }
                let prev = k > 0 ? idx[k - 1] : nil
                let next = k + 1 < idx.count ? idx[k + 1] : nil
                let linked = (prev.map { linkedInSequence(atoms, residues[$0], r) } ?? false)
                    || (next.map { linkedInSequence(atoms, r, residues[$0]) } ?? false)
                if !linked { residues[ri].kind = .other }
            }
        }
        return (residues, chains)
    }

    /// True when residue `a` is covalently followed by `b`: peptide C-N or phosphodiester O3'-P within 2 Angstrom.
    static func linkedInSequence(_ atoms: [Atom], _ a: Residue, _ b: Residue) -> Bool {
        func find(_ r: Residue, _ names: [String]) -> Atom? {
            for i in r.atomRange where names.contains(atoms[i].name) { return atoms[i] }
            return nil
        }
        func close(_ x: Atom?, _ y: Atom?) -> Bool {
            guard let x, let y else { return false }
            let d = x.position - y.position
            return (d * d).sum() <= 4.0
        }
        return close(find(a, ["C"]), find(b, ["N"])) || close(find(a, ["O3'", "O3*"]), find(b, ["P"]))
    }

    /// Classifies a residue by name, falling back to its atom names for unknown names.
    static func classify(name: String, atoms: ArraySlice<Atom>) -> Residue.Kind {
        if ResidueTable.isWater(name) { return .water }
        if ResidueTable.isCap(name) { return .cap }
        if ResidueTable.oneLetterCode(for: name) != nil {
            return ResidueTable.nucleotides[name.uppercased()] != nil ? .nucleotide : .aminoAcid
        }
        var hasN = false, hasCA = false, hasC = false, hasP = false, hasC4 = false
        for a in atoms {
            switch a.name {
            case "N": hasN = true
            case "CA": hasCA = true
            case "C": hasC = true
            case "P": hasP = true
            case "C4'", "C4*": hasC4 = true
            default: break
            }
        }
        if hasN && hasCA && hasC { return .aminoAcid }
        if hasP && hasC4 { return .nucleotide }
        return .other
    }
}

/// A parsed structure file: one or more models plus file-level records (cell, SEQRES).
public struct Structure: Hashable, Sendable {
    /// File name the structure was read from (for messages).
    public var sourceName: String
    /// Models in file order; never empty for a successfully read file.
    public var models: [StructureModel]
    /// Unit cell from CRYST1 / `_cell`, when present.
    public var unitCell: UnitCell?
    /// Space group from CRYST1 / `_symmetry`, when present.
    public var spaceGroup: String?
    /// Deposited sequence (SEQRES / `_pdbx_poly_seq_scheme`) as residue names per chain.
    public var seqres: [String: [String]]
    /// Chain order of `seqres`.
    public var seqresChainIDs: [String]

    /// Creates a structure.
    public init(sourceName: String, models: [StructureModel], unitCell: UnitCell? = nil,
                spaceGroup: String? = nil, seqres: [String: [String]] = [:], seqresChainIDs: [String] = []) {
        self.sourceName = sourceName; self.models = models; self.unitCell = unitCell
        self.spaceGroup = spaceGroup; self.seqres = seqres; self.seqresChainIDs = seqresChainIDs
    }

    /// Reads a PDB (`.pdb`, `.ent`) or mmCIF (`.cif`, `.mmcif`) file, chosen by extension.
    public static func read(contentsOf url: URL, options: StructureReadOptions = .init()) throws -> Structure {
        switch url.pathExtension.lowercased() {
        case "pdb", "ent": return try PDBReader.read(contentsOf: url, options: options)
        case "cif", "mmcif": return try MMCIFReader.read(contentsOf: url, options: options)
        default: throw StructureIOError.unknownFormat(path: url.path, expected: ".pdb, .ent, .cif or .mmcif")
        }
    }

    /// The first model (the default model of every convenience accessor).
    public var firstModel: StructureModel { models[0] }
    /// Atoms of the first model.
    public var atoms: [Atom] { models[0].atoms }
    /// Residues of the first model.
    public var residues: [Residue] { models[0].residues }
    /// Chains of the first model.
    public var chains: [Chain] { models[0].chains }

    /// The model with this MODEL number, if present.
    public func model(number: Int) -> StructureModel? { models.first { $0.number == number } }

    /// The model at a 0-based position in file order; throws if out of range.
    public func model(at index: Int) throws -> StructureModel {
        guard models.indices.contains(index) else {
            throw StructureIOError.notFound(file: sourceName, what: "model index \(index) (file has \(models.count))")
        }
        return models[index]
    }

    /// One-letter sequence of a chain in the first model (observed residues); nil if absent.
    public func sequence(chain id: String) -> String? { models[0].sequence(chain: id) }

    /// C-alpha coordinates (Angstrom) of a chain in the first model.
    public func caCoordinates(chain id: String) -> [SIMD3<Double>] { models[0].caCoordinates(chain: id) }

    /// One-letter SEQRES sequence of a chain (unmapped names as `X`); nil if the file has none for it.
    public func seqresSequence(chain id: String) -> String? {
        guard let names = seqres[id] else { return nil }
        return String(names.map { ResidueTable.oneLetterCode(for: $0) ?? "X" })
    }
}

/// Options shared by the PDB and mmCIF readers.
public struct StructureReadOptions: Hashable, Sendable {
    /// How atoms with alternate locations are reduced.
    public enum AltLocPolicy: Hashable, Sendable {
        /// Keep the conformer with the highest occupancy per atom; ties keep the first (default).
        case highestOccupancy
        /// Keep the first conformer listed per atom.
        case first
        /// Keep every alternate-location record.
        case all
    }
    /// Which mmCIF identifiers name chains, residues and atoms (ignored for PDB).
    public enum IdentifierScheme: Hashable, Sendable {
        /// `auth_*` identifiers, the ones a PDB file shows (default).
        case auth
        /// `label_*` identifiers (entity-based chains, sequential numbering).
        case label
    }

    /// Alternate-location policy.
    public var altLocs: AltLocPolicy
    /// mmCIF identifier scheme.
    public var identifiers: IdentifierScheme
    /// Stop after the first model (faster for large NMR ensembles).
    public var firstModelOnly: Bool

    /// Creates options; defaults: highest-occupancy altlocs, auth identifiers, all models.
    public init(altLocs: AltLocPolicy = .highestOccupancy, identifiers: IdentifierScheme = .auth,
                firstModelOnly: Bool = false) {
        self.altLocs = altLocs; self.identifiers = identifiers; self.firstModelOnly = firstModelOnly
    }
}
