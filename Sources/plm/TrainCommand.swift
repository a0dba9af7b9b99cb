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
        (when evaluating) and summary.json. Ctrl-C saves a checkpoint first;
        `--resume RUN_DIR` continues bit-exactly from the newest checkpoint.
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
        try reportingErrors {
            let (r, _) = try RecipeLoader.load(path: recipe, overrides: overrides, registry: builtinRegistry())
            let dir: URL
            if let resume { dir = URL(fileURLWithPath: resume) }
            else if let out { dir = URL(fileURLWithPath: out) }
            else {
                let stem = URL(fileURLWithPath: recipe).deletingPathExtension().lastPathComponent
                let f = DateFormatter()
                f.dateFormat = "yyyyMMdd-HHmmss"
                dir = URL(fileURLWithPath: "runs/\(stem)-\(f.string(from: Date()))")
            }
            let trainer = try Trainer(recipe: r, runDirectory: dir, resume: resume != nil, showProgress: !quiet)
            InterruptFlag.shared.install()
            let s = try trainer.run(interrupt: InterruptFlag.shared)
            var msg = String(format: "trained %d steps: final loss %.4f, %.0f tok/s, %.1f s", s.steps, s.finalLoss, s.tokensPerSecond, s.seconds)
            if let v = s.bestValidationLoss { msg += String(format: ", best validation loss %.4f", v) }
            print(msg)
            print("run directory: \(dir.path)")
            if s.interrupted {
                FileHandle.standardError.write(Data("interrupted: saved checkpoint-\(s.steps); continue with: plm train \(recipe) --resume \(dir.path)\n".utf8))
                throw ExitCode(130)
            }
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
