import Foundation
import PLMNN
import Yams

/// Why a MODEL argument could not be used.
public enum ModelSourceError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case notAModel(path: String)
    case notAdapters(path: String)

    public var description: String {
        switch self {
        case let .notFound(path): return "model path \(path) does not exist"
        case let .notAdapters(path):
            return "\(path) is not an adapter checkpoint: expected a directory with tuning.json and adapters.safetensors (a tuned run's checkpoint)"
        case let .notAModel(path):
            return "\(path) is not a model: expected a directory with config.json and model.safetensors (HuggingFace layout)"
        }
    }
}

/// Resolves the `--model` argument of `plm embed` / `plm score`.
public enum ModelSource {
    /// A PLMKit run directory (holds `config.resolved.yaml`) and the checkpoint
    /// `path` names: the run itself means `best/` when present, else the
    /// newest `checkpoint-N/`; a checkpoint directory inside a run means
    /// itself. Nil when `path` is neither (e.g. a plain HuggingFace directory).
    public static func run(for path: String) throws -> (run: URL, checkpoint: URL)? {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let fm = FileManager.default
        func isRun(_ u: URL) -> Bool { fm.fileExists(atPath: u.appendingPathComponent("config.resolved.yaml").path) }
        func complete(_ u: URL) -> Bool { fm.fileExists(atPath: u.appendingPathComponent("state.json").path) }
        if isRun(url) {
            let best = url.appendingPathComponent("best")
            if complete(best) { return (url, best) }
            guard let (_, latest) = Checkpoints.latest(in: url) else {
                throw ModelSourceError.notAModel(path: path + " (a run directory without a checkpoint yet)")
            }
            return (url, latest)
        }
        let parent = url.deletingLastPathComponent()
        if complete(url) && isRun(parent) { return (parent, url) }
        return nil
    }

    /// The encoder kind (`model.encoder.kind`) a run was trained with.
    public static func encoderKind(ofRun run: URL) -> String? {
        guard let text = try? String(contentsOf: run.appendingPathComponent("config.resolved.yaml"), encoding: .utf8),
              let node = try? Yams.compose(yaml: text) else { return nil }
        return node["model"]?["encoder"]?["kind"]?.string
    }

    /// Loads a HuggingFace ESM directory (config.json + model.safetensors), or
    /// the checkpoint a PLMKit run directory stands for (`run(for:)`).
    /// With `adapters`, an adapter-only checkpoint (`tuning.json` + `adapters.safetensors`) is
    /// put onto the loaded model (`EsmForMaskedLM.loadTuning(from:)`, strict).
    public static func loadMaskedLM(_ path: String, adapters: String?) throws -> EsmForMaskedLM {
        let m = try loadMaskedLM(path)
        if let adapters {
            guard FileManager.default.fileExists(atPath: URL(fileURLWithPath: adapters).appendingPathComponent("tuning.json").path) else {
                throw ModelSourceError.notAdapters(path: adapters)
            }
            try m.loadTuning(from: URL(fileURLWithPath: adapters))
            m.train(false)
        }
        return m
    }

    public static func loadMaskedLM(_ path: String) throws -> EsmForMaskedLM {
        if let (_, checkpoint) = try run(for: path), checkpoint.path != URL(fileURLWithPath: path).standardizedFileURL.path {
            return try loadMaskedLM(checkpoint.path)
        }
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else { throw ModelSourceError.notFound(path: path) }
        guard isDir.boolValue,
              FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path),
              FileManager.default.fileExists(atPath: url.appendingPathComponent("model.safetensors").path)
        else { throw ModelSourceError.notAModel(path: path) }
        return try EsmForMaskedLM.load(directory: url)
    }
}
