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
        try model.loadWeights(from: directory.appendingPathComponent("model.safetensors"))
        model.train(false)
        return model
    }

    /// Loads weights from a safetensors file with HF names (strict, as `load(directory:)`).
    public func loadWeights(from url: URL) throws {
        let file = try SafeTensorsFile(url: url)
        let tensors = try file.loadParameters(expectedShapes(), policy: .huggingFaceESM)
        load(tensors)
    }
}
