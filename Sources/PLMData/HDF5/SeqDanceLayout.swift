// SeqDance feature layout: column orders, feature kinds, sources, and the
// token-space embedding (BOS row 0, EOS row L+1, -1 in every special-token
// row and column). See docs SEQDANCE.md, "Storage layout".

/// Which feature family a protein carries.
public enum SeqDanceFeatureKind: String, Sendable, CaseIterable, Codable {
    /// Molecular dynamics: residue [L+2, 47], pair [L+2, L+2, 10].
    case md
    /// Normal mode analysis: residue [L+2, 3], pair [L+2, L+2, 3].
    case nma

    /// Channels of `NAME_res_feature`.
    public var residueChannels: Int {
        switch self {
        case .md: return SeqDanceColumns.MDResidue.count
        case .nma: return SeqDanceColumns.NMAResidue.count
        }
    }

    /// Channels of `NAME_pair_feature`.
    public var pairChannels: Int {
        switch self {
        case .md: return SeqDanceColumns.MDPair.count
        case .nma: return SeqDanceColumns.NMAPair.count
        }
    }

    /// The kind whose channel counts are (residue, pair), if any.
    public init?(residueChannels: Int, pairChannels: Int) {
        guard let k = Self.allCases.first(where: { $0.residueChannels == residueChannels && $0.pairChannels == pairChannels })
        else { return nil }
        self = k
    }
}

/// Data sources named in the SeqDance metadata (any other string is allowed too).
public enum SeqDanceSource {
    public static let atlas = "ATLAS"
    public static let gpcrmd = "GPCRmd"
    public static let ped = "PED"
    public static let mdcath = "mdCATH"
    public static let idrome = "IDRome"
    public static let proteinflow = "proteinflow_pdb"
    /// The published sources, MD first.
    public static let known = [atlas, gpcrmd, ped, mdcath, idrome, proteinflow]
}

/// Column (residue) and channel (pair) indices of the stored features.
public enum SeqDanceColumns {
    /// MD residue columns of `NAME_res_feature` [L+2, 47].
    public enum MDResidue {
        public static let sasaMean = 0
        public static let sasaStd = 1
        /// Raw RMSF in nm (normalised by the per-protein maximum only when loaded for training).
        public static let rmsf = 2
        /// DSSP 8-class frequencies, order B, E, H, I, G, S, T, coil.
        public static let ss = 3 ..< 11
        /// chi1 12-bin histogram.
        public static let chi = 11 ..< 23
        /// phi 12-bin histogram.
        public static let phi = 23 ..< 35
        /// psi 12-bin histogram.
        public static let psi = 35 ..< 47
        public static let count = 47
        /// DSSP class letters in column order ("coil" is DSSP's ' ').
        public static let ssClasses = ["B", "E", "H", "I", "G", "S", "T", "coil"]
        /// One name per column: sasa_mean, sasa_std, rmsf, ss_B ... ss_coil, chi_0 ... psi_11.
        public static let names: [String] = ["sasa_mean", "sasa_std", "rmsf"] + ssClasses.map { "ss_\($0)" }
            + (0 ..< 12).map { "chi_\($0)" } + (0 ..< 12).map { "phi_\($0)" } + (0 ..< 12).map { "psi_\($0)" }
    }

    /// MD pair channels of `NAME_pair_feature` [L+2, L+2, 10].
    public enum MDPair {
        public static let vdw = 0
        public static let hbbb = 1
        public static let hbsb = 2
        public static let hbss = 3
        public static let hp = 4
        public static let sb = 5
        public static let pc = 6
        public static let ps = 7
        public static let ts = 8
        public static let corr = 9
        public static let count = 10
        /// Channel names in order.
        public static let names = ["vdw", "hbbb", "hbsb", "hbss", "hp", "sb", "pc", "ps", "ts", "corr"]
    }

    /// NMA residue columns of `NAME_res_feature` [L+2, 3].
    public enum NMAResidue {
        public static let nmaRes1 = 0
        public static let nmaRes2 = 1
        public static let nmaRes3 = 2
        public static let count = 3
        public static let names = ["nma_res1", "nma_res2", "nma_res3"]
    }

    /// NMA pair channels of `NAME_pair_feature` [L+2, L+2, 3].
    public enum NMAPair {
        public static let nmaPair1 = 0
        public static let nmaPair2 = 1
        public static let nmaPair3 = 2
        public static let count = 3
        public static let names = ["nma_pair1", "nma_pair2", "nma_pair3"]
    }
}

/// A shape or position error in the token-space helpers.
public struct SeqDanceLayoutError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "SeqDance layout error: \(message)" }
}

/// Residue space [L, ...] <-> token space [L+2, ...] (BOS 0, EOS L+1, -1 borders).
///
/// Multi-chain proteins keep their linker tokens (e.g. `<eos><cls>` between
/// chains) inside 1...L; those token positions are "special positions" whose
/// rows and columns are -1 as well. Positions are token indices (1...L).
public enum SeqDanceTokenSpace {
    /// Value of every invalid (special-token, linker, missing) row and column.
    public static let invalid: Float = -1

    /// Number of tokens between BOS and EOS: one per letter, one per `<...>` special token.
    public static func tokenCount(_ sequence: String) -> Int {
        tokens(sequence).count
    }

    /// Token positions (1...L) of the `<...>` special tokens inside `sequence`.
    public static func specialPositions(in sequence: String) -> [Int] {
        tokens(sequence).enumerated().compactMap { $0.element.hasPrefix("<") && $0.element.count > 1 ? $0.offset + 1 : nil }
    }

    /// Splits a sequence into tokens: single characters, or whole `<...>` tags.
    static func tokens(_ sequence: String) -> [Substring] {
        var out = [Substring]()
        var i = sequence.startIndex
        while i < sequence.endIndex {
            if sequence[i] == "<", let close = sequence[i...].firstIndex(of: ">") {
                out.append(sequence[i ... close])
                i = sequence.index(after: close)
            } else {
                out.append(sequence[i ... i])
                i = sequence.index(after: i)
            }
        }
        return out
    }

    /// Token positions of the linkers when chains of `chainLengths` residues are joined with
    /// `linkerLength` special tokens each (2 for `<eos><cls>`). Total L = sum + linkers.
    public static func linkerPositions(chainLengths: [Int], linkerLength: Int = 2) -> [Int] {
        var positions = [Int]()
        var next = 1
        for (c, n) in chainLengths.enumerated() {
            next += n
            if c < chainLengths.count - 1 {
                positions += Array(next ..< next + linkerLength)
                next += linkerLength
            }
        }
        return positions
    }

    /// Per-residue [L, C] -> token space [L+2, C]; rows 0, L+1 and `specialPositions` are -1.
    public static func embedResidue(_ residue: HDF5Array<Float>, specialPositions: [Int] = []) throws -> HDF5Array<Float> {
        guard residue.shape.count == 2 else { throw SeqDanceLayoutError("residue features must be [L, C], got \(residue.shape)") }
        let (L, C) = (residue.shape[0], residue.shape[1])
        let special = try specialMask(L, specialPositions)
        var out = [Float](repeating: invalid, count: (L + 2) * C)
        residue.values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0 ..< L where !special[i + 1] {
                    for c in 0 ..< C { dst[(i + 1) * C + c] = src[i * C + c] }
                }
            }
        }
        return HDF5Array(shape: [L + 2, C], values: out)
    }

    /// Per-pair [L, L, C] -> token space [L+2, L+2, C]; rows and columns 0, L+1 and `specialPositions` are -1.
    public static func embedPair(_ pair: HDF5Array<Float>, specialPositions: [Int] = []) throws -> HDF5Array<Float> {
        guard pair.shape.count == 3, pair.shape[0] == pair.shape[1] else {
            throw SeqDanceLayoutError("pair features must be [L, L, C], got \(pair.shape)")
        }
        let (L, C) = (pair.shape[0], pair.shape[2])
        let T = L + 2
        let special = try specialMask(L, specialPositions)
        var out = [Float](repeating: invalid, count: T * T * C)
        pair.values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0 ..< L where !special[i + 1] {
                    for j in 0 ..< L where !special[j + 1] {
                        let s = (i * L + j) * C, d = ((i + 1) * T + (j + 1)) * C
                        for c in 0 ..< C { dst[d + c] = src[s + c] }
                    }
                }
            }
        }
        return HDF5Array(shape: [T, T, C], values: out)
    }

    /// Token space [L+2, C] -> per-residue [L, C] (drops the BOS and EOS rows; linker rows stay, holding -1).
    public static func stripResidue(_ residue: HDF5Array<Float>) throws -> HDF5Array<Float> {
        guard residue.shape.count == 2, residue.shape[0] >= 2 else {
            throw SeqDanceLayoutError("token-space residue features must be [L+2, C], got \(residue.shape)")
        }
        let (T, C) = (residue.shape[0], residue.shape[1])
        return HDF5Array(shape: [T - 2, C], values: Array(residue.values[C ..< (T - 1) * C]))
    }

    /// Token space [L+2, L+2, C] -> per-pair [L, L, C].
    public static func stripPair(_ pair: HDF5Array<Float>) throws -> HDF5Array<Float> {
        guard pair.shape.count == 3, pair.shape[0] == pair.shape[1], pair.shape[0] >= 2 else {
            throw SeqDanceLayoutError("token-space pair features must be [L+2, L+2, C], got \(pair.shape)")
        }
        let (T, C) = (pair.shape[0], pair.shape[2])
        let L = T - 2
        var out = [Float]()
        out.reserveCapacity(L * L * C)
        for i in 1 ... max(L, 1) where L > 0 {
            let row = (i * T + 1) * C
            out += pair.values[row ..< row + L * C]
        }
        return HDF5Array(shape: [L, L, C], values: out)
    }

    /// The token indices (0...L+1) that must hold -1: BOS, EOS and the special positions.
    public static func invalidPositions(length L: Int, specialPositions: [Int] = []) -> [Int] {
        Array(Set([0, L + 1] + specialPositions)).sorted()
    }

    private static func specialMask(_ L: Int, _ positions: [Int]) throws -> [Bool] {
        var mask = [Bool](repeating: false, count: L + 2)
        mask[0] = true
        mask[L + 1] = true
        for p in positions {
            guard (1 ... max(L, 1)).contains(p), L > 0 else {
                throw SeqDanceLayoutError("special position \(p) outside token range 1...\(L)")
            }
            mask[p] = true
        }
        return mask
    }
}
