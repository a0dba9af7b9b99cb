import ArgumentParser
import Foundation
import PLMKit

/// `plm evaluate`: scores one checkpoint of a finished (or running) training
/// run on one split, with the same whole-set metrics and baselines as the
/// trainer's validation.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a run's checkpoint on its validation or test split.",
        discussion: """
        Rebuilds the run from RUN_DIR/config.resolved.yaml, loads the checkpoint's
        encoder and heads, and evaluates every example of the split: per-target
        losses, whole-set metrics (accuracy, macro_f1, fmax, auroc, spearman, ...)
        and the majority-class / mean baselines from the training split.
        Test rows come from sources with their own split (labelled_csv
        `test_split`); a completed `plm train` already evaluates them once with
        `best/` (summary.json "test"). Nothing in RUN_DIR is written.

        --set changes the run's recipe before it is rebuilt (relative paths in
        it resolve against RUN_DIR, where config.resolved.yaml is: give absolute
        ones), e.g. to score a new labelled file as the test split:
          plm evaluate RUN --set 'data.sources=[{name: ext, kind: labelled_csv,
            path: /data/external.csv, labels: [...], role: test}]'
        """)

    @Argument(help: ArgumentHelp("Run directory (holds config.resolved.yaml and checkpoints).", valueName: "run-dir"))
    var runDirectory: String
    @Option(help: "best, latest, checkpoint-N, or a checkpoint directory (default: best if present, else latest).")
    var checkpoint: String?
    @Option(help: "test, validation or train.")
    var split: String = "test"
    @Option(name: .customLong("set"), parsing: .singleValue, help: "Override a value of the run's recipe: key.path=value (repeatable).")
    var overrides: [String] = []
    @Flag(help: "Print one JSON object instead of lines.")
    var json = false

    func run() throws {
        try reportingErrors {
            guard let which = ExampleSplit(rawValue: split) else {
                throw ValidationError("--split must be test, validation or train (got '\(split)')")
            }
            let dir = URL(fileURLWithPath: runDirectory)
            guard FileManager.default.fileExists(atPath: dir.appendingPathComponent("config.resolved.yaml").path) else {
                throw ValidationError("\(dir.path) is not a run directory (no config.resolved.yaml)")
            }
            let ckpt = try resolveCheckpoint(dir)
            let trainer = try Trainer.evaluating(runDirectory: dir, registry: builtinRegistry(), overrides: overrides)
            guard let metrics = try trainer.evaluate(checkpoint: ckpt, split: which) else {
                throw ValidationError("the run's data sources have no \(split) examples"
                                      + (which == .test ? " (give a labelled_csv source `test_split:`)" : ""))
            }
            let step = (try? JSONDecoder().decode(CheckpointState.self, from: Data(contentsOf: ckpt.appendingPathComponent("state.json"))))?.step
            if json {
                var obj: [String: Any] = ["checkpoint": ckpt.path, "split": split,
                                          "metrics": metrics.mapValues { $0.isFinite ? $0 as Any : NSNull() }]
                if let step { obj["step"] = step }
                let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("\(split) split, \(ckpt.lastPathComponent)" + (step.map { " (step \($0))" } ?? ""))
                let width = metrics.keys.map(\.count).max() ?? 0
                for (k, v) in metrics.sorted(by: { $0.key < $1.key }) {
                    print("  " + k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + String(format: "%.6g", v))
                }
            }
        }
    }

    func resolveCheckpoint(_ dir: URL) throws -> URL {
        let fm = FileManager.default
        func complete(_ u: URL) -> Bool { fm.fileExists(atPath: u.appendingPathComponent("state.json").path) }
        switch checkpoint {
        case nil:   // what a run directory as a MODEL means elsewhere: best/, else the newest checkpoint
            do {
                guard let (_, u) = try ModelSource.run(for: dir.path) else { throw ValidationError("\(dir.path) is not a run directory") }
                return u
            } catch is ModelSourceError { throw ValidationError("no best/ or checkpoint-N/ in \(dir.path)") }
        case "latest"?:
            guard let (_, u) = Checkpoints.latest(in: dir) else { throw ValidationError("no checkpoint-N/ in \(dir.path)") }
            return u
        case let name?:
            let inside = dir.appendingPathComponent(name)
            if complete(inside) { return inside }
            let path = URL(fileURLWithPath: name)
            if complete(path) { return path }
            let have = ((try? fm.contentsOfDirectory(atPath: dir.path)) ?? []).filter { complete(dir.appendingPathComponent($0)) }.sorted()
            throw ValidationError("no checkpoint '\(name)' in \(dir.path) (have: \(have.isEmpty ? "none" : have.joined(separator: ", ")))")
        }
    }
}
