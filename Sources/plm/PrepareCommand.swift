import ArgumentParser
import Foundation
import PLMData
import PLMKit
import PLMStructure

/// `plm prepare`: structures / trajectories -> HDF5 feature files.
/// Subcommands are appended here (`md` arrives separately).
struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn structures into HDF5 training features (NMA, contact maps).",
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

    func runner(items: Int, label: String) -> PrepareRunner {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return PrepareRunner(jobs: jobs ?? min(cores, max(items, 1)), blasThreads: cores, showProgress: !quiet, label: label)
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

/// `plm prepare` does not shard its inputs across MPI ranks (yet): under
/// mpirun with more than one rank every rank would prepare every input into
/// the same file. Refuse up front, on every rank, instead.
func refuseUnderMPI(_ command: String) throws {
    guard MPICommunicator.launchedByMPI else { return }
    let env = ProcessInfo.processInfo.environment
    let size = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"].lazy.compactMap { env[$0].flatMap(Int.init) }.first ?? 1
    guard size > 1 else { return }
    FileHandle.standardError.write(Data("""
        error: plm prepare \(command) does not shard its inputs across MPI ranks; with \(size) ranks each would \
        prepare every input into the same file. Run it without mpirun (it already prepares many inputs in \
        parallel on one machine), or give each rank its own inputs and --out file (e.g. one call per list \
        file in a Slurm array job).

        """.utf8))
    throw ExitCode.failure
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
        try refuseUnderMPI("nma")
        try prepareCatchingErrors {
            let items = try PrepareInputs.resolve(structure: common.structure, list: common.list, name: common.name)
            var o = NMAPrepareOptions()
            o.chains = try PrepareInputs.parseChains(common.chain)
            o.source = source
            o.overwrite = common.overwrite
            o.compress = common.compress
            o.nma.driver = SymmetricEigenDriver(rawValue: driver)!
            if let m = common.maxResidues { o.maxResidues = m }
            InterruptFlag.shared.install()
            let report = try NMAPrepare.run(items, output: common.out, options: o,
                                            runner: common.runner(items: items.count, label: "nma"),
                                            interrupt: InterruptFlag.shared)
            try finishPrepare(report, label: "nma", out: common.out, verbose: common.verbose)
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
        let v = thresholds.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
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
        try refuseUnderMPI("contact-map")
        try prepareCatchingErrors {
            let items = try PrepareInputs.resolve(structure: common.structure, list: common.list, name: common.name)
            var o = ContactMapPrepareOptions()
            o.chains = try PrepareInputs.parseChains(common.chain)
            o.thresholds = try parsedThresholds()
            o.size = size
            o.overwrite = common.overwrite
            o.compress = common.compress
            if let m = common.maxResidues { o.maxResidues = m }
            InterruptFlag.shared.install()
            let report = try ContactMapPrepare.run(items, output: common.out, options: o,
                                                   runner: common.runner(items: items.count, label: "contact-map"),
                                                   interrupt: InterruptFlag.shared)
            try finishPrepare(report, label: "contact-map", out: common.out, verbose: common.verbose)
        }
    }
}
