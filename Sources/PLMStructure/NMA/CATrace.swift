// The C-alpha atoms that NMA and the CA distance maps run on.
//
// SeqDance selects ProDy's `calpha` (atoms named CA in amino-acid residues,
// altloc ' '/'A', first model) over the whole file. Here: the first model, one
// atom named CA per amino-acid residue (`Residue.Kind.aminoAcid`, which also
// covers modified residues such as MSE), chains in file order. Read structures
// with `StructureReadOptions(altLocs: .first)` to keep the first listed
// conformer as SeqDance did. Differences from ProDy: residue names outside
// ProDy's amino-acid list that PLMStructure still recognises as amino acids
// (modified residues with N, CA, C linked into the chain) are kept, and
// numeric altloc IDs ('1', '2') keep their first conformer where ProDy drops it.

/// C-alpha coordinates with their chains and one-letter sequence.
public struct CATrace: Sendable, Equatable {
    /// One chain's share of the trace.
    public struct ChainSegment: Sendable, Equatable {
        /// Chain identifier ("" for blank).
        public var chainID: String
        /// One letter per C-alpha atom (`X` for residues without a one-letter code).
        public var sequence: String
        /// Indices into `coordinates` of this chain's atoms.
        public var range: Range<Int>
    }

    /// Chains in file order (only chains that have C-alpha atoms).
    public var chains: [ChainSegment]
    /// C-alpha positions (Angstrom), chain after chain.
    public var coordinates: [SIMD3<Double>]
    /// Residue labels (`A:52B`) parallel to `coordinates`.
    public var residueLabels: [String]
    /// Amino-acid residues whose name has no one-letter code (written `X` in the sequence),
    /// as `NAME label` (`XYZ A:2`).
    public var unmappedResidues: [String] = []

    /// Number of C-alpha atoms.
    public var count: Int { coordinates.count }
    /// Chain lengths in order.
    public var chainLengths: [Int] { chains.map(\.range.count) }

    /// The chains' sequences joined by `linker` (SeqDance stores multi-chain entries with
    /// `<eos><cls>` between chains). A single chain is returned as is.
    public func sequence(linker: String = "<eos><cls>") -> String {
        chains.map(\.sequence).joined(separator: linker)
    }

    /// Creates a trace directly (tests, synthetic inputs).
    public init(chains: [ChainSegment], coordinates: [SIMD3<Double>], residueLabels: [String]) {
        self.chains = chains
        self.coordinates = coordinates
        self.residueLabels = residueLabels
    }
}

extension StructureModel {
    /// The C-alpha trace of the given chains (nil = every chain with C-alpha atoms, in file order;
    /// the requested order is kept otherwise). `file` names the structure in errors.
    public func caTrace(chains requested: [String]? = nil, file: String = "") throws -> CATrace {
        var segments: [CATrace.ChainSegment] = []
        var xyz: [SIMD3<Double>] = []
        var labels: [String] = []
        var byChain: [String: (String, [SIMD3<Double>], [String])] = [:]
        var unmappedByChain: [String: [String]] = [:]
        var order: [String] = []
        for c in chains {
            var seq = String.UnicodeScalarView()
            var pts: [SIMD3<Double>] = []
            var lab: [String] = []
            for ri in c.residueIndices where residues[ri].kind == .aminoAcid {
                guard let ai = atomIndex(named: "CA", inResidue: ri) else { continue }
                let r = residues[ri]
                let code = ResidueTable.oneLetterCode(for: r.name)
                if code == nil { unmappedByChain[c.id, default: []].append("\(r.name) \(r.label)") }
                seq.append(contentsOf: (code ?? "X").unicodeScalars)
                pts.append(atoms[ai].position)
                lab.append(r.label)
            }
            if !pts.isEmpty {
                byChain[c.id] = (String(seq), pts, lab)
                order.append(c.id)
            }
        }
        let wanted = requested ?? order
        guard !order.isEmpty else { throw NMAError.noCAlphaAtoms(file: file) }
        for id in wanted {
            guard let (seq, pts, lab) = byChain[id] else {
                throw NMAError.chainNotFound(file: file, chain: id, available: order)
            }
            segments.append(CATrace.ChainSegment(chainID: id, sequence: seq, range: xyz.count ..< xyz.count + pts.count))
            xyz += pts
            labels += lab
        }
        var trace = CATrace(chains: segments, coordinates: xyz, residueLabels: labels)
        trace.unmappedResidues = wanted.flatMap { unmappedByChain[$0] ?? [] }
        return trace
    }
}

extension Structure {
    /// The C-alpha trace of the first model (see `StructureModel.caTrace`).
    public func caTrace(chains: [String]? = nil) throws -> CATrace {
        try firstModel.caTrace(chains: chains, file: sourceName)
    }
}
