import ArgumentParser
import Foundation
import PLMData
import PLMKit
import PLMStructure

/// `plm prepare md`: MD trajectories -> SeqDance MD features in a feature store.
struct PrepareMD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "md",
        abstract: "SeqDance MD features (RMSF, SASA, DSSP, dihedrals, contacts, CA correlation) of trajectories.",
        discussion: """
        Reads the topology (PDB/mmCIF, first model) and streams the trajectory (DCD or XTC) \
        frame by frame with bounded memory. Every frame is superposed on frame 0 by C-alpha atoms. \
        Per residue (amino acids with a CA): SASA mean/std (Shrake-Rupley, 960 points, probe \
        0.14 nm, nm^2), CA RMSF (nm), DSSP 8-class frequencies, chi1/phi/psi 12-bin histograms. \
        Per residue pair: the nine GetContacts interaction types (contacts per frame, stored as \
        x^(1/3)) and the CA correlation. Written as NAME_res_feature [L+2, 47] and \
        NAME_pair_feature [L+2, L+2, 10] with a metadata row (kind md).

        Inputs: one pair (--topology T --trajectory X), a list file (--list F: one \
        'TOPOLOGY TRAJECTORY [NAME]' per line), or a directory (--dir D: one sub-folder per \
        protein, named after the folder, holding one topology and one trajectory; --prefer \
        xtc|dcd picks when a folder has both). Many trajectories run --jobs at a time, the \
        cores split among them; each protein is written as soon as it is done, one that fails \
        is reported with its reason and never loses the others, proteins already in OUT are \
        skipped (--overwrite replaces them), and a summary lists what was written, skipped \
        and failed (exit status 1 when anything failed). Ctrl-C stops at the next batch of \
        frames; rerun the same command to do the rest. Under mpirun the trajectories are \
        shared out across ranks and merged into OUT.
        """)

    @Option(help: "Topology: PDB or mmCIF file with the trajectory's atoms in the same order.")
    var topology: String?
    @Option(help: "Trajectory: .xtc or .dcd.")
    var trajectory: String?
    @Option(help: "A text file listing trajectories, one per line: TOPOLOGY TRAJECTORY [NAME] (relative paths from the list's folder, '#' comments).")
    var list: String?
    @Option(help: "A directory with one sub-folder per protein (topology + trajectory; the folder name is the protein's name).")
    var dir: String?
    @Option(help: "With --dir: the trajectory kind to take when a folder holds both (xtc or dcd).")
    var prefer: String?
    @Option(help: "Output HDF5 file; created if missing, appended to otherwise.")
    var out: String
    @Option(help: "Protein name in the output (single pair only). Default: the topology file name without extension.")
    var name: String?
    @Option(help: "Source column of the metadata (ATLAS, GPCRmd, PED, mdCATH, IDRome, ...).")
    var source: String = SeqDanceSource.atlas
    @Option(help: "Use every K-th frame (frame 0 is the superposition reference).")
    var stride: Int = 1
    @Option(help: "Trajectories prepared at once (default: min(cores, trajectories)).")
    var jobs: Int?
    @Option(help: "Worker threads in all (default: all cores; split among the --jobs trajectories).")
    var threads: Int?
    @Flag(help: "Skip the interaction contacts (their channels stay 0).")
    var noContacts = false
    @Flag(help: "Replace the protein if the output already holds it.")
    var overwrite = false
    @Flag(help: "gzip-compress the datasets.")
    var compress = false
    @Flag(help: "Print the time per frame of each feature (single pair).")
    var timings = false
    @Flag(help: "No progress bar.")
    var quiet = false
    @Flag(help: "List every written protein with its residue count and compute time.")
    var verbose = false

    func validate() throws {
        if stride < 1 { throw ValidationError("--stride must be >= 1, got \(stride)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1, got \(threads)") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be >= 1, got \(jobs)") }
        if source.isEmpty { throw ValidationError("--source must not be empty") }
        if topology == nil && trajectory == nil && list == nil && dir == nil {
            throw ValidationError("give --topology T --trajectory X, --list FILE or --dir DIR")
        }
    }

    func options(threads perJob: Int?) -> MDPrepareOptions {
        var options = MDPrepareOptions()
        options.source = source
        options.overwrite = overwrite
        options.compress = compress
        options.features.stride = stride
        options.features.contacts = !noContacts
        if let perJob { options.features.threads = perJob }
        return options
    }

    func run() throws {
        do {
            let inputs = try MDPrepareInputs.resolve(topology: topology, trajectory: trajectory, list: list, directory: dir,
                                                     prefer: prefer, name: name)
            if inputs.items.count == 1 && list == nil && dir == nil && !MPICommunicator.launchedByMPI {
                try runOne(inputs.items[0])
            } else {
                try runMany(inputs)
            }
        } catch let e as ExitCode {
            throw e
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// Many trajectories (or any under MPI): parallel over proteins, a summary at the end.
    func runMany(_ inputs: MDPrepareInputs) throws {
        let rejected = inputs.rejected
        if inputs.items.isEmpty {
            let reasons = rejected.map { "\n  \($0.status.rawValue) \($0.item.name) (\($0.item.path)): \($0.reason)" }.joined()
            throw PrepareInputError("no trajectory to prepare\(reasons)")
        }
        let compress = self.compress, overwrite = self.overwrite
        try runPrepare(label: "md", items: inputs.items, out: out, verbose: verbose, run: { mine, target, ranksOnNode in
            let cores = max(1, (threads ?? ProcessInfo.processInfo.activeProcessorCount) / max(ranksOnNode, 1))
            let jobs = self.jobs ?? min(cores, max(mine.count, 1))
            let runner = PrepareRunner(jobs: jobs, blasThreads: 1, showProgress: !quiet && ranksOnNode == 1,
                                       label: "md", unit: "trajectories")
            let report = try MDPrepare.run(mine, output: target, options: options(threads: max(1, cores / jobs)),
                                           runner: runner, interrupt: InterruptFlag.shared)
            // Folders that gave no pair are reported once (by rank 0 under MPI).
            return (MPICommunicator.launcherRank ?? 0) == 0 ? report.including(rejected) : report
        }, merge: { shards, out in
            try PrepareShards.mergeSeqDance(shards, into: out, compress: compress, overwrite: overwrite)
        })
    }

    /// One pair: a progress bar over its frames and an error (exit 1) for any problem.
    func runOne(_ item: PrepareItem) throws {
        InterruptFlag.shared.install()
        var bar: ProgressBar? = nil
        var reported = 0
        do {
            let summary = try MDPrepare.run(topology: item.path, trajectory: item.trajectory!, out: out, name: item.name,
                                            options: options(threads: threads), progress: { done, total in
                if bar == nil { bar = ProgressBar("md", total: total, unit: "frames", enabled: !quiet) }
                bar?.advance(done - reported)
                reported = done
            }, shouldStop: { InterruptFlag.shared.isRaised })
            bar?.finish()
            let t = summary.timings
            FileHandle.standardError.write(Data(String(
                format: "wrote %@ (L=%d, %d frames, %.1f s) to %@\n", summary.name, summary.residues, summary.frames,
                t.total, out).utf8))
            if timings {
                let f = Double(max(summary.frames, 1)) / 1000
                print(String(format: "per frame (ms): read %.3f  superposition %.3f  sasa %.3f  dssp %.3f  dihedrals %.3f  contacts %.3f  total %.3f",
                             t.read / f, t.superposition / f, t.sasa / f, t.dssp / f, t.dihedrals / f, t.contacts / f, t.total / f))
            }
        } catch let e as MDFeatureError {
            bar?.finish()
            if case .cancelled = e {
                FileHandle.standardError.write(Data("interrupted: \(e); rerun the same command to prepare it\n".utf8))
                throw ExitCode(130)
            }
            throw e
        } catch {
            bar?.finish()
            throw error
        }
    }
}
