import Foundation
import PLMNN

/// Why a MODEL argument could not be used.
public enum ModelSourceError: Error, CustomStringConvertible, Equatable {
    case notFound(path: String)
    case notAModel(path: String)

    public var description: String {
        switch self {
        case let .notFound(path): return "model path \(path) does not exist"
        case let .notAModel(path):
            return "\(path) is not a model: expected a directory with config.json and model.safetensors (HuggingFace layout)"
        }
    }
}

/// Resolves the `--model` argument of `plm embed` / `plm score`.
public enum ModelSource {
    /// Loads a HuggingFace ESM directory (config.json + model.safetensors).
    public static func loadMaskedLM(_ path: String) throws -> EsmForMaskedLM {
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
