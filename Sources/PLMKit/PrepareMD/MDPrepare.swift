import Foundation
import PLMData
import PLMStructure

// `plm prepare md`: SeqDance MD features of one trajectory into a SeqDance-layout
// feature store (docs SEQDANCE.md, "Feature definitions (MD trajectory -> per
// protein)" and "Storage layout"):
//   NAME_res_feature  float32 [L+2, 47]      sasa_mean, sasa_std, rmsf (nm), ss 8, chi 12, phi 12, psi 12
//   NAME_pair_feature float32 [L+2, L+2, 10] vdw hbbb hbsb hbss hp sb pc ps ts (x^(1/3)), corr
//   metadata row: name, sequence, source (ATLAS by default), kind md, L
// Rows are the topology's amino-acid residues with a CA atom (PLMStructure's
// `MDTopology`). Several chains are joined with `<eos><cls>` in the stored sequence and
// those linker rows/columns hold -1, as for `plm prepare nma`.

/// Options of `plm prepare md`.
public struct MDPrepareOptions: Sendable {
    /// `source` column of the metadata.
    public var source: String = SeqDanceSource.atlas
    /// Tokens between chains in the stored sequence.
    public var linker: String = "<eos><cls>"
    /// Replace the protein if the output already holds it (default: an error).
    public var overwrite = false
    /// gzip the feature datasets.
    public var compress = false
    /// Feature settings (stride, threads, contacts, ...).
    public var features = MDFeatureOptions()
    public init() {}
}

/// What `MDPrepare.run` wrote.
public struct MDPrepareSummary: Sendable {
    public var name: String
    public var sequence: String
    public var residues: Int
    public var frames: Int
    public var timings: MDFeatureTimings
}

/// Topology + trajectory -> SeqDance MD features -> feature store.
public enum MDPrepare {
    /// The default protein name: the topology file name without its extension.
    public static func defaultName(topology: String) -> String {
        URL(fileURLWithPath: topology).deletingPathExtension().lastPathComponent
    }

    /// Token-space arrays ([L+2, 47], [L+2, L+2, 10]) and the stored sequence of computed features.
    public static func tokenSpace(_ f: MDFeatures, linker: String) -> (sequence: String, residue: HDF5Array<Float>, pair: HDF5Array<Float>) {
        let chars = Array(f.sequence)
        var parts: [String] = []
        var start = 0
        for len in f.chainLengths { parts.append(String(chars[start ..< start + len])); start += len }
        let sequence = parts.joined(separator: linker)
        let linkerTokens = SeqDanceTokenSpace.tokenCount(linker)
        let n = f.residueCount
        var position = [Int](repeating: 0, count: n)
        var t = 1, r = 0
        for (c, len) in f.chainLengths.enumerated() {
            if c > 0 { t += linkerTokens }
            for _ in 0 ..< len { position[r] = t; t += 1; r += 1 }
        }
        let L = SeqDanceTokenSpace.tokenCount(sequence), T = L + 2
        precondition(t - 1 == L, "token layout mismatch")
        let rc = SeqDanceColumns.MDResidue.count, pc = SeqDanceColumns.MDPair.count
        let res = f.residueFeatures, pair = f.pairFeatures
        var outRes = [Float](repeating: SeqDanceTokenSpace.invalid, count: T * rc)
        var outPair = [Float](repeating: SeqDanceTokenSpace.invalid, count: T * T * pc)
        for i in 0 ..< n {
            let pi = position[i]
            for k in 0 ..< rc { outRes[pi * rc + k] = res[i * rc + k] }
            for j in 0 ..< n {
                let src = (i * n + j) * pc, dst = (pi * T + position[j]) * pc
                for k in 0 ..< pc { outPair[dst + k] = pair[src + k] }
            }
        }
        return (sequence, HDF5Array(shape: [T, rc], values: outRes), HDF5Array(shape: [T, T, pc], values: outPair))
    }

    /// One trajectory's features in token space, ready to write.
    public struct Payload: Sendable {
        public var sequence: String
        public var residue: HDF5Array<Float>
        public var pair: HDF5Array<Float>
        public var residues: Int
        public var frames: Int
        public var timings: MDFeatureTimings
    }

    /// Reads `topology` and streams `trajectory` through the MD features (thread-safe; the
    /// per-frame work uses `options.features.threads`). Throws
    /// `StructureIOError.atomCountMismatch` when the files disagree, reader errors for damaged
    /// files, `MDFeatureError.cancelled` when `shouldStop` returns true between frame batches.
    public static func compute(topology: String, trajectory: String, options: MDPrepareOptions = .init(),
                               progress: ((_ done: Int, _ total: Int) -> Void)? = nil,
                               shouldStop: (() -> Bool)? = nil) throws -> Payload {
        let top = try MDTopology(contentsOf: URL(fileURLWithPath: topology))
        let reader = try openTrajectory(URL(fileURLWithPath: trajectory))
        try checkAtomCounts(topology: top, reader: reader)
        return try compute(top, reader, options: options, progress: progress, shouldStop: shouldStop)
    }

    /// `compute` on an opened topology and trajectory (atom counts already checked).
    static func compute(_ top: MDTopology, _ reader: any TrajectoryReader, options: MDPrepareOptions,
                        progress: ((_ done: Int, _ total: Int) -> Void)?, shouldStop: (() -> Bool)?) throws -> Payload {
        let f = try MDFeatures.compute(topology: top, trajectory: reader, options: options.features,
                                       progress: progress, shouldStop: shouldStop)
        let (sequence, residue, pair) = tokenSpace(f, linker: options.linker)
        return Payload(sequence: sequence, residue: residue, pair: pair, residues: f.residueCount,
                       frames: f.frameCount, timings: f.timings)
    }

    /// Computes the features of `trajectory` for `topology` and writes them as `name` into the store at `out`
    /// (created if missing, appended to otherwise).
    ///
    /// Throws `StructureIOError.atomCountMismatch` when topology and trajectory disagree,
    /// reader errors for damaged files, `HDF5Error(.alreadyExists)` when `name` is present
    /// and `overwrite` is off (checked before any frame is read), `MDFeatureError.cancelled`
    /// when `shouldStop` ends the pass (nothing is written then).
    public static func run(topology: String, trajectory: String, out: String, name: String? = nil,
                           options: MDPrepareOptions = .init(),
                           progress: ((_ done: Int, _ total: Int) -> Void)? = nil,
                           shouldStop: (() -> Bool)? = nil) throws -> MDPrepareSummary {
        let name = name ?? defaultName(topology: topology)
        // Check the inputs before touching the output, so a bad pair leaves no file behind.
        let top = try MDTopology(contentsOf: URL(fileURLWithPath: topology))
        let reader = try openTrajectory(URL(fileURLWithPath: trajectory))
        try checkAtomCounts(topology: top, reader: reader)
        let existed = FileManager.default.fileExists(atPath: out)
        let store = try NMAPrepare.openStore(out, compress: options.compress)
        var wrote = false
        defer {
            store.close()
            // A run that failed (or was interrupted) leaves no new, empty store behind.
            if !wrote && !existed { try? FileManager.default.removeItem(atPath: out) }
        }
        if store.contains(name) && !options.overwrite {
            throw HDF5Error(.alreadyExists, file: out, object: "/" + SeqDanceFeatureStore.residueDatasetName(name),
                            "protein '\(name)' is already in the store (pass --overwrite to replace it)")
        }
        let p = try compute(top, reader, options: options, progress: progress, shouldStop: shouldStop)
        try write(p, name: name, to: store, options: options)
        wrote = true
        return MDPrepareSummary(name: name, sequence: p.sequence, residues: p.residues, frames: p.frames,
                                timings: p.timings)
    }

    /// Prepares every item (`path` = topology, `trajectory`) into the store at `output`
    /// (appending), `runner.jobs` trajectories at a time; each one's frames run on
    /// `options.features.threads` threads. Proteins already in the store are skipped unless
    /// `overwrite`; a trajectory that fails is reported and never loses the others; Ctrl-C
    /// (`interrupt`) stops the trajectories in flight at their next frame batch.
    public static func run(_ items: [PrepareItem], output: String, options: MDPrepareOptions,
                           runner: PrepareRunner, interrupt: InterruptFlag? = nil) throws -> PrepareReport {
        let store = try NMAPrepare.openStore(output, compress: options.compress)
        defer { store.close() }
        return runner.run(items, interrupt: interrupt, precheck: { item in
            store.contains(item.name) && !options.overwrite
                ? "already in \(output) (pass --overwrite to replace it)" : nil
        }, compute: { item in
            guard let trajectory = item.trajectory else { throw PrepareInputError("no trajectory given for \(item.path)") }
            return try compute(topology: item.path, trajectory: trajectory, options: options,
                               shouldStop: interrupt.map { flag in { flag.isRaised } })
        }, write: { item, p in
            try write(p, name: item.name, to: store, options: options)
            return (p.residues, "")
        })
    }

    /// Writes one protein; on failure removes what was half-written (the store is not transactional).
    static func write(_ p: Payload, name: String, to store: SeqDanceFeatureStore, options: MDPrepareOptions) throws {
        do {
            try store.writeTokenSpace(protein: name, residue: p.residue, pair: p.pair, kind: .md, sequence: p.sequence,
                                      source: options.source, overwrite: options.overwrite)
            try store.flush()
        } catch {
            if !store.contains(name) {
                for ds in [SeqDanceFeatureStore.residueDatasetName(name), SeqDanceFeatureStore.pairDatasetName(name)]
                    where store.file.exists(ds) { try? store.file.delete(ds) }
            }
            throw error
        }
    }

    /// Throws `StructureIOError.atomCountMismatch` (naming both files and counts) unless they agree.
    public static func checkAtomCounts(topology: MDTopology, reader: any TrajectoryReader) throws {
        if topology.atomCount != reader.atomCount {
            throw StructureIOError.atomCountMismatch(topology: topology.name, topologyAtoms: topology.atomCount,
                                                     trajectory: reader.url.lastPathComponent, trajectoryAtoms: reader.atomCount)
        }
    }
}
