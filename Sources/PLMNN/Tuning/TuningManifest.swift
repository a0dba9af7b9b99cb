import Foundation
import PLMTensor

/// What tuning modules are attached to a model, so a checkpoint can rebuild
/// them before loading their weights (`tuning.json` next to the weights).
public struct TuningManifest: Codable, Equatable, Sendable {
    public struct LoRAEntry: Codable, Equatable, Sendable {
        /// Full module path of the adapted Linear, e.g. `esm.encoder.layer.3.attention.self.query`.
        public var module: String
        public var rank: Int
        public var alpha: Float
        public var dropout: Float
    }
    public struct AdapterEntry: Codable, Equatable, Sendable {
        public var layer: Int
        public var name: String
        public var bottleneck: Int
        public var mode: AdapterMode
    }
    public var lora: [LoRAEntry] = []
    public var adapters: [AdapterEntry] = []
    public var isEmpty: Bool { lora.isEmpty && adapters.isEmpty }
    public init() {}

    /// Whether a state-dict name belongs to a tuning module (not the base model).
    public static func isTuningParameter(_ name: String) -> Bool {
        name.contains(".lora_A.") || name.contains(".lora_B.") || name.contains(".adapters.")
    }
}

/// A tuning checkpoint that does not fit the model.
public struct TuningLoadError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension EsmForMaskedLM {
    /// The tuning modules currently attached.
    public func tuningManifest() -> TuningManifest {
        var m = TuningManifest()
        for (name, mod) in namedModules() {
            if let l = mod as? Linear, let lora = l.lora {
                m.lora.append(.init(module: name, rank: lora.rank, alpha: lora.alpha, dropout: lora.dropout))
            }
        }
        for (i, layer) in esm.layers.enumerated() {
            for (name, a) in layer.adapters.attention {
                m.adapters.append(.init(layer: i, name: name, bottleneck: a.down.outFeatures, mode: a.mode))
            }
        }
        return m
    }

    /// Attaches the modules a manifest lists (weights come from `loadWeights`).
    public func apply(_ manifest: TuningManifest, seed: UInt64 = 0) throws {
        var rng = RNG(seed: seed)
        let modules = Dictionary(namedModules().map { ($0.name, $0.module) }, uniquingKeysWith: { a, _ in a })
        for e in manifest.lora {
            guard let l = modules[e.module] as? Linear else { throw TuningLoadError(message: "tuning.json: no Linear module '\(e.module)' in this model") }
            if l.lora == nil { l.attachLoRA(rank: e.rank, alpha: e.alpha, dropout: e.dropout, rng: &rng) }
        }
        for e in manifest.adapters {
            guard e.layer >= 0 && e.layer < esm.layers.count else { throw TuningLoadError(message: "tuning.json: layer \(e.layer) out of range") }
            let layer = esm.layers[e.layer]
            if !layer.adapterNames.contains(e.name) { layer.addAdapters(e.name, bottleneck: e.bottleneck, mode: e.mode, rng: &rng) }
        }
    }

    /// Base-model tensors (HF names) and tuning tensors, split.
    public func splitStateDict() -> (base: [String: Tensor], tuning: [String: Tensor]) {
        var base: [String: Tensor] = [:], tuning: [String: Tensor] = [:]
        for (k, v) in stateDict() {
            if TuningManifest.isTuningParameter(k) { tuning[k] = v } else { base[k] = v }
        }
        return (base, tuning)
    }

    /// Loads tuning tensors strictly: a missing or unused tensor is an error, never silent.
    public func loadTuningWeights(from url: URL) throws {
        let file = try SafeTensorsFile(url: url)
        let expected = expectedShapes().filter { TuningManifest.isTuningParameter($0.key) }
        load(try file.loadParameters(expected, policy: .strict, copy: true))
    }
}
