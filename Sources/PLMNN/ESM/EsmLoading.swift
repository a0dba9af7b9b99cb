import Foundation
import PLMTensor

extension EsmForMaskedLM {
    /// Loads a HuggingFace model directory (`config.json` + `model.safetensors`)
    /// unchanged. Strict: missing, unused and mis-shaped tensors are reported
    /// by name in one error; the known exceptions are the tied
    /// `lm_head.decoder.weight`, the legacy `esm.embeddings.position_ids`, the
    /// unused rotary-model `position_embeddings`, and `inv_freq` buffers
    /// (recomputed when absent). F32 weights are memory-mapped, not copied.
    public static func load(directory: URL) throws -> EsmForMaskedLM {
        let config = try EsmConfig.load(directory.appendingPathComponent("config.json"))
        let model = EsmForMaskedLM(config)
        try model.loadDirectoryWeights(directory)
        model.train(false)
        return model
    }

    /// Loads `model.safetensors` and, when the directory has `tuning.json`,
    /// attaches the LoRA/adapter modules it lists and loads
    /// `adapters.safetensors` strictly (PLMKit checkpoints of tuned runs).
    public func loadDirectoryWeights(_ directory: URL, copy: Bool = false) throws {
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("tuning.json").path) {
            try loadTuning(from: directory)
        }
        try loadWeights(from: directory.appendingPathComponent("model.safetensors"), copy: copy)
    }

    /// Puts an adapter-only checkpoint onto this (base) model: attaches the LoRA /
    /// adapter modules `directory/tuning.json` lists and loads `directory/adapters.safetensors`
    /// strictly by name (a missing, unused or mis-shaped tensor is an error). The directory
    /// needs no base weights: any PLMKit checkpoint of a tuned run, or just those two files.
    public func loadTuning(from directory: URL) throws {
        let manifestURL = directory.appendingPathComponent("tuning.json")
        let m: TuningManifest
        do { m = try JSONDecoder().decode(TuningManifest.self, from: Data(contentsOf: manifestURL)) } catch {
            throw TuningLoadError(message: "\(manifestURL.path): not a tuning manifest (\(error))")
        }
        try apply(m)
        try loadTuningWeights(from: directory.appendingPathComponent("adapters.safetensors"))
    }

    /// Loads base weights from a safetensors file with HF names (strict, as
    /// `load(directory:)`; tuning tensors are not expected there).
    public func loadWeights(from url: URL, copy: Bool = false) throws {
        let file = try SafeTensorsFile(url: url)
        let expected = expectedShapes().filter { !TuningManifest.isTuningParameter($0.key) }
        let tensors = try file.loadParameters(expected, policy: .huggingFaceESM, copy: copy)
        load(tensors)
    }

    /// Writes `config.json` + `model.safetensors` (base weights, HF names;
    /// loadable by transformers) and, when tuning modules are attached,
    /// `adapters.safetensors` + `tuning.json`. Merged LoRA branches are
    /// written unmerged (base and update separately).
    public func save(to directory: URL) throws {
        let merged = namedModules().compactMap { ($0.module as? Linear)?.lora }.filter(\.isMerged)
        for l in merged { l.unmerge() }
        defer { for l in merged { l.merge() } }
        var (base, tuning) = splitStateDict()
        base["lm_head.decoder.weight"] = nil
        try SafeTensors.write(base, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
        let manifest = tuningManifest()
        if !manifest.isEmpty {
            try SafeTensors.write(tuning, metadata: ["format": "pt"], to: directory.appendingPathComponent("adapters.safetensors"))
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(manifest).write(to: directory.appendingPathComponent("tuning.json"), options: .atomic)
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        var json = try JSONSerialization.jsonObject(with: enc.encode(config)) as! [String: Any]
        json["model_type"] = "esm"
        json["architectures"] = ["EsmForMaskedLM"]
        json["torch_dtype"] = "float32"
        let data = try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: directory.appendingPathComponent("config.json"), options: .atomic)
    }
}
