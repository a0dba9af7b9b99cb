import ArgumentParser
import Foundation
import PLMKit
import PLMTensor

/// Prints `error: …` and exits non-zero for any thrown error (never a trap).
func reportingErrors(_ body: () throws -> Void) throws {
    do { try body() } catch let e as ExitCode { throw e } catch let e as CleanExit { throw e } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train from a YAML recipe.",
        discussion: """
        Writes into the run directory: config.resolved.yaml, metrics.jsonl,
        checkpoint-STEP/ (model, optimizer state, state.json; the model part is a
        HuggingFace-layout directory usable with `plm embed --model`), best/
        (when evaluating) and summary.json. Ctrl-C, SIGTERM or SIGUSR1 saves a
        checkpoint first; `--resume RUN_DIR` continues bit-exactly from the
        newest checkpoint.

        Under `mpirun -np N` (or `srun`) training is data-parallel: batch_size
        is per rank, gradients are averaged, rank 0 writes the run directory
        (docs/DISTRIBUTED.md). There, stop with a checkpoint by sending SIGUSR1
        to mpirun (`kill -USR1 PID`; Slurm: `scancel --signal=USR1 JOB` or
        `--signal=USR1@120`): every rank stops after the same step. Ctrl-C and
        SIGTERM do the same when the step ends before the launcher's SIGKILL
        (mpirun: 1 s unless --mca odls_base_sigkill_timeout S; Slurm: KillWait);
        otherwise continue from the newest periodic checkpoint. Open MPI is
        loaded at run time (libmpi.so.40 or PLM_MPI_LIBRARY).
        """)

    @Argument(help: "Recipe file (YAML).")
    var recipe: String
    @Option(name: .customLong("set"), parsing: .singleValue, help: "Override a recipe value: key.path=value (repeatable).")
    var overrides: [String] = []
    @Option(help: "Continue the run in this directory from its newest checkpoint.")
    var resume: String?
    @Option(help: "Run directory for a new run (default: runs/<recipe>-<time>).")
    var out: String?
    @Flag(help: "No progress bar.")
    var quiet = false

    func run() throws {
        // Under mpirun (or srun) the run is data-parallel over the launcher's ranks.
        let comm: Communicator
        do { comm = try Distributed.makeCommunicator() } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        guard comm.isDistributed else {
            if try train(comm) { throw ExitCode(130) }
            return
        }
        let tag = "plm rank \(comm.rank)/\(comm.size)"
        MPISignals.install(tag: tag, runHint: resume ?? out, graceful: InterruptFlag.shared)
        var stopped = false
        do { stopped = try train(comm) } catch let e as ExitCode {
            if e.rawValue != 0 { comm.abort("\(tag): exiting with status \(e.rawValue); ending the job", code: e.rawValue) }
        } catch {
            // Any error on any rank ends every rank (the others wait in a collective otherwise).
            comm.abort("\(tag): error: \(error)", code: 1)
        }
        comm.finalize()
        if stopped { throw ExitCode(130) }   // every rank stopped after the same step, checkpoint written
    }

    /// Trains; true when a signal stopped the run early (checkpoint saved).
    func train(_ comm: Communicator) throws -> Bool {
        var stopped = false
        try reportingErrors {
            if comm.isDistributed && ProcessInfo.processInfo.environment["PLM_NUM_THREADS"] == nil {
                // Share the machine's cores among the ranks on it (a recipe's training.threads still wins).
                let local = MPICommunicator.ranksOnNode ?? 1
                Threads.configure(max(1, ProcessInfo.processInfo.activeProcessorCount / max(local, 1)))
            }
            let (r, _) = try RecipeLoader.load(path: recipe, overrides: overrides, registry: builtinRegistry())
            let dir: URL
            if let resume { dir = URL(fileURLWithPath: resume) }
            else if let out { dir = URL(fileURLWithPath: out) }
            else {
                let stem = URL(fileURLWithPath: recipe).deletingPathExtension().lastPathComponent
                let f = DateFormatter()
                f.dateFormat = "yyyyMMdd-HHmmss"
                var name = "runs/\(stem)-\(f.string(from: Date()))"
                if comm.isDistributed {   // every rank must use rank 0's name
                    var bytes = Array(name.utf8)
                    comm.broadcast(&bytes)
                    name = String(decoding: bytes, as: UTF8.self)
                }
                dir = URL(fileURLWithPath: name)
            }
            let trainer = try Trainer(recipe: r, runDirectory: dir, resume: resume != nil, showProgress: !quiet && comm.isRoot,
                                      communicator: comm)
            // Under MPI, SIGUSR1 raises the flag here and SIGINT/SIGTERM raise it through
            // MPISignals; the trainer all-reduces it, so every rank stops after the same step.
            InterruptFlag.shared.install(signals: comm.isDistributed ? [SIGUSR1] : [SIGINT, SIGTERM, SIGUSR1],
                                         announce: comm.isRoot)
            let s = try trainer.run(interrupt: InterruptFlag.shared)
            stopped = s.interrupted
            guard comm.isRoot else { return }
            var msg = String(format: "trained %d steps: final loss %.4f, %.0f tok/s, %.1f s", s.steps, s.finalLoss, s.tokensPerSecond, s.seconds)
            if let v = s.bestValidationLoss { msg += String(format: ", best validation loss %.4f", v) }
            if s.stoppedEarly { msg += " (stopped early: training.early_stopping)" }
            if let w = s.worldSize, let a = s.allReduceSecondsPerStep { msg += String(format: ", %d ranks, all-reduce %.1f ms/step", w, a * 1000) }
            print(msg)
            print("run directory: \(dir.path)")
            if s.interrupted {
                FileHandle.standardError.write(Data("interrupted: saved checkpoint-\(s.steps); continue with: plm train \(recipe) --resume \(dir.path)\n".utf8))
            }
        }
        return stopped
    }
}

/// SIGTERM / SIGINT under MPI. mpirun sends SIGTERM to every rank when the
/// user presses Ctrl-C, the job is cancelled or a peer rank dies, and SIGKILL
/// `odls_base_sigkill_timeout` seconds later (1 s by default); Slurm sends
/// SIGTERM and SIGKILL after `KillWait` (30 s by default).
///
/// Without a `graceful` flag (embed, prepare) a rank ends at once with a
/// message. With one (train) the rank prints the message, raises the flag and
/// keeps going: the trainer all-reduces the flag at the next step boundary, so
/// when every rank is still there they all stop after the same step and rank 0
/// writes the checkpoint, as for SIGUSR1. When a peer is gone, the collective
/// cannot complete; the launcher's SIGKILL (or our own deadline,
/// `PLM_MPI_STOP_SECONDS`, default 60) ends the rank, and the newest periodic
/// checkpoint (written atomically) is where `--resume` continues. A second
/// signal ends the rank at once.
enum MPISignals {
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []
    nonisolated(unsafe) static var signalled = false

    static func install(tag: String, runHint: String?, graceful: InterruptFlag? = nil) {
        let queue = DispatchQueue(label: "plm.mpi.signals")
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            s.setEventHandler {
                let name = sig == SIGTERM ? "SIGTERM" : "SIGINT"
                let code: Int32 = sig == SIGTERM ? 143 : 130
                let resume = runHint.map { " with --resume \($0)" } ?? " with --resume RUN_DIR"
                guard let graceful, !signalled else {
                    if !signalled {
                        FileHandle.standardError.write(Data("\(tag): stopped by \(name) from the MPI launcher (a peer rank died, lost its connection, or the job was cancelled); continue from the newest checkpoint\(resume) (to stop with a checkpoint, send SIGUSR1 to mpirun)\n".utf8))
                    }
                    _exit(code)
                }
                signalled = true
                let seconds = Double(ProcessInfo.processInfo.environment["PLM_MPI_STOP_SECONDS"] ?? "") ?? 60
                FileHandle.standardError.write(Data("\(tag): \(name) from the MPI launcher (Ctrl-C, job cancelled, or a peer rank died): stopping after the current step with a checkpoint if every rank is still there and the launcher waits (mpirun --mca odls_base_sigkill_timeout S; Slurm KillWait); otherwise continue from the newest checkpoint\(resume)\n".utf8))
                graceful.raise()
                queue.asyncAfter(deadline: .now() + seconds) {
                    FileHandle.standardError.write(Data("\(tag): could not stop with a checkpoint within \(Int(seconds)) s (a peer rank is gone?); exiting; continue from the newest checkpoint\(resume)\n".utf8))
                    _exit(code)
                }
            }
            s.resume()
            sources.append(s)
        }
    }
}

struct RecipeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipe", abstract: "Check or print recipes.", subcommands: [Validate.self, Show.self])

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a recipe: keys, types, values, plugin kinds.")
        @Argument(help: "Recipe file (YAML).") var recipe: String
        @Option(name: .customLong("set"), parsing: .singleValue, help: "Override key.path=value (repeatable).")
        var overrides: [String] = []

        func run() throws {
            try reportingErrors {
                let (r, _) = try RecipeLoader.load(path: recipe, overrides: overrides, registry: builtinRegistry())
                print("\(recipe): ok (\(r.targets.map(\.kind).joined(separator: ", ")) on \(r.data.sources.count) source(s), \(r.training.steps) steps)")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a recipe fully resolved (defaults filled in, paths absolute).")
        @Argument(help: "Recipe file (YAML).") var recipe: String
        @Option(name: .customLong("set"), parsing: .singleValue, help: "Override key.path=value (repeatable).")
        var overrides: [String] = []

        func run() throws {
            try reportingErrors {
                let (r, _) = try RecipeLoader.load(path: recipe, overrides: overrides, registry: builtinRegistry())
                print(try RecipeLoader.resolvedYAML(r), terminator: "")
            }
        }
    }
}
