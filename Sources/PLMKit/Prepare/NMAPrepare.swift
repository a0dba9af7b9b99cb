import Foundation
import PLMData
import PLMStructure

// `plm prepare nma`: SeqDance NMA features of each structure into a
// SeqDance-layout feature store (docs SEQDANCE.md, "Storage layout"):
//   NAME_res_feature  float32 [L+2, 3]     nma_res1..3
//   NAME_pair_feature float32 [L+2, L+2, 3] nma_pair1..3
//   metadata row: name, sequence, source (proteinflow_pdb), kind nma, L
// Multi-chain structures: NMA runs on all selected chains together (as
// SeqDance's `calpha` selection of the whole file); the stored sequence joins
// the chains with `<eos><cls>` and those linker rows/columns hold -1.

/// Options of `plm prepare nma`.
public struct NMAPrepareOptions: Sendable {
    /// Chains to use (nil = every chain with C-alpha atoms).
    public var chains: [String]?
    /// `source` column of the metadata.
    public var source: String = SeqDanceSource.proteinflow
    /// Tokens between chains in the stored sequence.
    public var linker: String = "<eos><cls>"
    /// Structures with more C-alpha atoms fail with a reason (the ANM needs ~3 (3N)^2 doubles).
    public var maxResidues: Int = 3000
    /// Replace proteins already in the output (default: skip them).
    public var overwrite = false
    /// gzip the feature datasets.
    public var compress = false
    /// NMA settings (SeqDance's by default).
    public var nma = SeqDanceNMA.Options()
    public init() {}
}

/// Structure file -> SeqDance NMA features -> feature store.
public enum NMAPrepare {
    /// One protein's features in token space, ready to write.
    public struct Payload: Sendable {
        public var sequence: String
        public var residue: HDF5Array<Float>
        public var pair: HDF5Array<Float>
        public var residues: Int
        /// Residues stored as X (no one-letter code), `NAME label`.
        public var unmapped: [String] = []
    }

    /// Reads a structure as SeqDance does: first model, first altloc.
    public static func readStructure(_ path: String) throws -> Structure {
        try Structure.read(contentsOf: URL(fileURLWithPath: path),
                           options: StructureReadOptions(altLocs: .first, firstModelOnly: true))
    }

    /// Computes one protein's token-space features (thread-safe).
    public static func compute(_ item: PrepareItem, options: NMAPrepareOptions) throws -> Payload {
        let trace = try readStructure(item.path).caTrace(chains: options.chains)
        guard trace.count <= options.maxResidues else {
            throw PrepareInputError("\(trace.count) C-alpha atoms exceed --max-residues \(options.maxResidues)")
        }
        let f = try SeqDanceNMA.features(caCoordinates: trace.coordinates, options: options.nma)
        // A network in pieces (fragments > 15 A apart) has extra zero modes and NaN or
        // arbitrary features (ProDy gives NaNs); never store them silently.
        // A connected network has one GNM zero mode; more mean pieces (whose features are
        // NaN or arbitrary, depending on rounding).
        if f.zeroModes.gnm > 1 || !(f.residue.allSatisfy(\.isFinite) && f.pair.allSatisfy(\.isFinite)) {
            throw PrepareInputError("the C-alpha network (15 A cut-off) falls apart into \(max(f.zeroModes.gnm, 2)) disconnected pieces, so its NMA features are undefined; select connected chains with --chain")
        }
        let sequence = trace.sequence(linker: options.linker)
        let linkerTokens = SeqDanceTokenSpace.tokenCount(options.linker)
        // Token positions (1...L) of each residue: chains separated by the linker tokens.
        var position = [Int](repeating: 0, count: trace.count)
        var t = 1
        for (c, seg) in trace.chains.enumerated() {
            if c > 0 { t += linkerTokens }
            for r in seg.range { position[r] = t; t += 1 }
        }
        let L = SeqDanceTokenSpace.tokenCount(sequence), T = L + 2, n = trace.count
        precondition(t - 1 == L, "token layout mismatch")
        var residue = [Float](repeating: SeqDanceTokenSpace.invalid, count: T * 3)
        var pair = [Float](repeating: SeqDanceTokenSpace.invalid, count: T * T * 3)
        for i in 0 ..< n {
            let pi = position[i]
            for k in 0 ..< 3 { residue[pi * 3 + k] = Float(f.residue[i * 3 + k]) }
            for j in 0 ..< n {
                let src = (i * n + j) * 3, dst = (pi * T + position[j]) * 3
                pair[dst] = Float(f.pair[src])
                pair[dst + 1] = Float(f.pair[src + 1])
                pair[dst + 2] = Float(f.pair[src + 2])
            }
        }
        return Payload(sequence: sequence, residue: HDF5Array(shape: [T, 3], values: residue),
                       pair: HDF5Array(shape: [T, T, 3], values: pair), residues: n, unmapped: trace.unmappedResidues)
    }

    /// Opens (or creates) the output store; refuses files of another layout.
    public static func openStore(_ path: String, compress: Bool) throws -> SeqDanceFeatureStore {
        if FileManager.default.fileExists(atPath: path) {
            guard HDF5File.isHDF5(path) else { throw PrepareInputError("--out \(path) exists and is not an HDF5 file") }
            let f = try HDF5File.open(path)
            if try f.hasAttribute("layout") {
                let layout = try f.stringAttribute("layout")
                guard layout == SeqDanceFeatureStore.layoutName else {
                    throw PrepareInputError("--out \(path) holds '\(layout)' data, not a SeqDance feature store")
                }
            }
            f.close()
        }
        let store = try SeqDanceFeatureStore(path: path, mode: .append,
                                             featureOptions: compress ? .compressed() : .contiguous)
        try store.flush()   // a new file is complete on disk before any long computation
        return store
    }

    /// Prepares every item into the store at `output` (appending), in parallel.
    public static func run(_ items: [PrepareItem], output: String, options: NMAPrepareOptions,
                           runner: PrepareRunner, interrupt: InterruptFlag? = nil) throws -> PrepareReport {
        let store = try openStore(output, compress: options.compress)
        defer { store.close() }
        let report = runner.run(items, interrupt: interrupt, precheck: { item in
            store.contains(item.name) && !options.overwrite
                ? "already in \(output) (pass --overwrite to replace it)" : nil
        }, compute: { item in
            try compute(item, options: options)
        }, write: { item, p in
            do {
                try store.writeTokenSpace(protein: item.name, residue: p.residue, pair: p.pair, kind: .nma,
                                          sequence: p.sequence, source: options.source, overwrite: options.overwrite)
                try store.flush()
            } catch {
                // Leave no half-written protein behind (the store is not transactional).
                if !store.contains(item.name) {
                    for ds in [SeqDanceFeatureStore.residueDatasetName(item.name), SeqDanceFeatureStore.pairDatasetName(item.name)]
                        where store.file.exists(ds) { try? store.file.delete(ds) }
                }
                throw error
            }
            return (p.residues, PrepareRecord.unmappedNote(p.unmapped))
        })
        return report
    }
}
