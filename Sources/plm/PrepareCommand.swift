import ArgumentParser
import Foundation
import PLMData
import PLMKit
import PLMStructure

/// `plm prepare`: structures / trajectories -> HDF5 feature files.
struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn structures and MD trajectories into HDF5 training features (NMA, contact maps, MD).",
        subcommands: [PrepareNMA.self, PrepareContactMap.self, PrepareMD.self])
}

/// Options shared by the per-structure prepare commands.
struct PrepareStructureOptions: ParsableArguments {
    @Option(help: "A PDB/mmCIF file (.pdb .ent .cif .mmcif), or a directory: every such file in it.")
    var structure: String?
    @Option(help: "A text file listing structures, one per line: PATH [NAME] (relative paths from the list's folder, '#' comments).")
    var list: String?
    @Option(help: "Chain(s) to use, e.g. A or A,B ('_' = blank chain ID). Default: every chain with C-alpha atoms.")
    var chain: String?
    @Option(help: "Output HDF5 file; created if missing, appended to otherwise.")
    var out: String
    @Option(help: "Name in the output (single --structure file only). Default: the file name without extension.")
    var name: String?
    @Option(help: "Structures prepared in parallel (default: all cores, at most one per structure).")
    var jobs: Int?
    @Option(help: "Structures with more C-alpha atoms fail with a reason (default: nma 3000, contact-map 100000).")
    var maxResidues: Int?
    @Flag(help: "Replace entries already in the output (default: skip them).")
    var overwrite = false
    @Flag(help: "gzip-compress the datasets.")
    var compress = false
    @Flag(help: "No progress bar.")
    var quiet = false
    @Flag(help: "List every written structure with its residue count and compute time.")
    var verbose = false

    func validate() throws {
        if structure == nil && list == nil { throw ValidationError("give --structure FILE|DIR or --list FILE") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be >= 1, got \(jobs)") }
        if let maxResidues, maxResidues < 3 { throw ValidationError("--max-residues must be >= 3, got \(maxResidues)") }
    }

    /// `ranksOnNode`: MPI ranks sharing this machine (the cores are split among them).
    func runner(items: Int, label: String, ranksOnNode: Int = 1) -> PrepareRunner {
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount / max(ranksOnNode, 1))
        return PrepareRunner(jobs: jobs ?? min(cores, max(items, 1)), blasThreads: cores,
                             showProgress: !quiet && ranksOnNode == 1, label: label)
    }
}

/// Runs a prepare job and turns the report into the summary and the exit status.
private func finishPrepare(_ report: PrepareReport, label: String, out: String, verbose: Bool) throws {
    FileHandle.standardError.write(Data((report.summary(label: label, output: out, verbose: verbose) + "\n").utf8))
    if report.interrupted {
        FileHandle.standardError.write(Data("interrupted: rerun the same command to prepare the remaining structures\n".utf8))
        throw ExitCode(130)
    }
    if !report.failed.isEmpty { throw ExitCode.failure }
}

/// Runs a per-structure prepare job. Under `mpirun -np N` (N > 1) rank r
/// prepares inputs r, r+N, … into `comm.shardPath(OUT)`, rank 0 merges the
/// shards into OUT and removes them (`PrepareShards`); the exit status is
/// non-zero when any rank had a failed structure. `run(items, output, ranksOnNode)`.
func runPrepare(label: String, items: [PrepareItem], out: String, verbose: Bool,
                run: ([PrepareItem], String, Int) throws -> PrepareReport,
                merge: ([String], String) throws -> Int) throws {
    guard MPICommunicator.launchedByMPI else {
        InterruptFlag.shared.install()
        try finishPrepare(try run(items, out, 1), label: label, out: out, verbose: verbose)
        return
    }
    let comm = try Distributed.makeCommunicator()
    let tag = "plm rank \(comm.rank)/\(comm.size)"
    MPISignals.install(tag: tag, runHint: nil)
    var status = [0.0, 0.0]   // failed structures, interrupted ranks (summed over ranks)
    do {
        let local = MPICommunicator.ranksOnNode ?? comm.size
        let shard = comm.isDistributed ? comm.shardPath(out, rank: comm.rank) : out
        let mine = comm.shard(items)
        let report = try run(mine, shard, local)
        let prefix = comm.isDistributed ? "rank \(comm.rank): " : ""
        FileHandle.standardError.write(Data((prefix + report.summary(label: label, output: shard, verbose: verbose) + "\n").utf8))
        status = [Double(report.failed.count), report.interrupted ? 1 : 0]
        if comm.isDistributed {
            comm.allReduceSum(&status)
            try mergeRankShards(comm, into: out, count: { "\($0) entr\($0 == 1 ? "y" : "ies")" }) { try merge($0, out) }
        }
    } catch {
        comm.abort("\(tag): error: \(error)", code: 1)
    }
    comm.finalize()
    if status[1] > 0 { throw ExitCode(130) }
    if status[0] > 0 { throw ExitCode.failure }
}

private func prepareCatchingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

struct PrepareNMA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nma",
        abstract: "SeqDance normal-mode features (GNM + ANM) of structures into a SeqDance feature store.",
        discussion: """
        Per structure (first model, first altloc, C-alpha atoms of every selected chain \
        together): GNM and ANM with SeqDance's stepped spring constants (d^2 <= 16: 10, \
        <= 100: 2, <= 225: 1; 15 A cut-off), all non-zero modes (LAPACK, float64), split into \
        three frequency clusters; nma_res1..3 = GNM fluctuations, nma_pair1..3 = ANM \
        correlations per cluster.

        Output (SeqDance layout, read by the hdf5_features data source):
          NAME_res_feature   float32 [L+2, 3]       -1 in BOS row 0 and EOS row L+1
          NAME_pair_feature  float32 [L+2, L+2, 3]  -1 in the BOS/EOS rows and columns
          metadata/{name, sequence, source, kind, length}  (proteinflow_pdb, nma)
        Several chains: the sequence joins them with <eos><cls>; those linker rows and \
        columns hold -1.

        Many structures (--structure DIR or --list FILE) run in parallel, one protein per \
        worker with single-threaded LAPACK (--jobs 1 gives LAPACK every core instead). Each \
        protein is written as soon as it finishes; a structure that fails is reported with \
        its reason and the others are still written. Proteins already in OUT are skipped \
        (--overwrite replaces them). Exit status 1 when any structure failed. \
        Memory: about 3 (3N)^2 doubles per protein in flight (1.9 GB at N = 3000; \
        --driver dsyevr: 2 (3N)^2).
        """)

    @OptionGroup var common: PrepareStructureOptions
    @Option(help: "Metadata source column.")
    var source: String = SeqDanceSource.proteinflow
    @Option(help: "LAPACK eigensolver: dsyevd (faster) or dsyevr (less memory: 2 instead of 3 (3N)^2 doubles).")
    var driver: String = SymmetricEigenDriver.dsyevd.rawValue

    func validate() throws {
        guard SymmetricEigenDriver(rawValue: driver) != nil else {
            throw ValidationError("--driver must be dsyevd or dsyevr, got '\(driver)'")
        }
    }

    func run() throws {
        try prepareCatchingErrors {
            let items = try PrepareInputs.resolve(structure: common.structure, list: common.list, name: common.name)
            var o = NMAPrepareOptions()
            o.chains = try PrepareInputs.parseChains(common.chain)
            o.source = source
            o.overwrite = common.overwrite
            o.compress = common.compress
            o.nma.driver = SymmetricEigenDriver(rawValue: driver)!
            if let m = common.maxResidues { o.maxResidues = m }
            let overwrite = common.overwrite, compress = common.compress
            try runPrepare(label: "nma", items: items, out: common.out, verbose: common.verbose, run: { mine, target, ranks in
                try NMAPrepare.run(mine, output: target, options: o,
                                   runner: common.runner(items: mine.count, label: "nma", ranksOnNode: ranks),
                                   interrupt: InterruptFlag.shared)
            }, merge: { shards, out in
                try PrepareShards.mergeSeqDance(shards, into: out, compress: compress, overwrite: overwrite)
            })
        }
    }
}

struct PrepareContactMap: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contact-map",
        abstract: "C-alpha distance maps and S-PLM contact-map inputs of structures into HDF5.",
        discussion: """
        Per structure (first model, first altloc, C-alpha atoms of the selected chains, \
        concatenated): D = C-alpha distance matrix, and S-PLM's structure-encoder input with \
        one channel per threshold d_c: (d_c - clip(D, 0, d_c)) / d_c (1 on the diagonal, 0 at \
        and beyond d_c), padded with 0 or cropped to the first S residues with --size S.

        Output layout (root attributes: layout "splm-contact-maps", layout_version 1):
          /NAME                 one group per structure
            distance     float32 [L, L]     Angstrom
            contact_map  float32 [C, S, S]  C = thresholds (3), S = --size or L
            attributes   sequence (a letter per row, chains split by ':'),
                         chains, length (L), size (S), thresholds [C],
                         source_file

        Many structures run in parallel; each is written as soon as it finishes; failures \
        are reported with their reason without losing the others; existing names are \
        skipped (--overwrite replaces them). Exit status 1 when any structure failed.
        """)

    @OptionGroup var common: PrepareStructureOptions
    @Option(help: "Channel thresholds in Angstrom, comma-separated (S-PLM: 22,22,22).")
    var thresholds: String = "22,22,22"
    @Option(help: "Pad (with 0) or crop the channels to SIZE x SIZE (S-PLM: 512). Default: L.")
    var size: Int?

    func parsedThresholds() throws -> [Double] {
        let v = thresholds.split(separator: ",", omittingEmptySubsequences: false).map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ $0 != nil && $0! > 0 && $0!.isFinite }) else {
            throw ValidationError("--thresholds must be positive numbers separated by commas, got '\(thresholds)'")
        }
        return v.map { $0! }
    }

    func validate() throws {
        _ = try parsedThresholds()
        if let size, size < 1 { throw ValidationError("--size must be >= 1, got \(size)") }
    }

    func run() throws {
        try prepareCatchingErrors {
            let items = try PrepareInputs.resolve(structure: common.structure, list: common.list, name: common.name)
            var o = ContactMapPrepareOptions()
            o.chains = try PrepareInputs.parseChains(common.chain)
            o.thresholds = try parsedThresholds()
            o.size = size
            o.overwrite = common.overwrite
            o.compress = common.compress
            if let m = common.maxResidues { o.maxResidues = m }
            let overwrite = common.overwrite
            try runPrepare(label: "contact-map", items: items, out: common.out, verbose: common.verbose, run: { mine, target, ranks in
                try ContactMapPrepare.run(mine, output: target, options: o,
                                          runner: common.runner(items: mine.count, label: "contact-map", ranksOnNode: ranks),
                                          interrupt: InterruptFlag.shared)
            }, merge: { shards, out in
                try PrepareShards.mergeContactMaps(shards, into: out, overwrite: overwrite)
            })
        }
    }
}
