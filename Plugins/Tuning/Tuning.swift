import Foundation
import PLMKit
import PLMNN
import PLMTensor

// Lightweight tuning strategies: top_k, lora, adapters. One plugin target
// (not three): a module named `LoRA` would shadow PLMNN's `LoRA` type.

/// Which transformer layers a strategy touches: `all`, `{top: K}` or a list of indices.
public enum LayerSelection: Codable, Equatable, Sendable {
    case all
    case top(Int)
    case list([Int])

    public init(from decoder: Decoder) throws {
        if let c = try? decoder.singleValueContainer(), let s = try? c.decode(String.self) {
            guard s == "all" else { throw recipeError(decoder, "expected 'all', {top: K} or a list of layer indices, got '\(s)'") }
            self = .all
            return
        }
        if var u = try? decoder.unkeyedContainer() {
            var out: [Int] = []
            while !u.isAtEnd { out.append(try u.decode(Int.self)) }
            if out.isEmpty { throw recipeError(decoder, "name at least one layer index (or use 'all' / {top: K})") }
            if let dup = Dictionary(grouping: out, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
                throw recipeError(decoder, "layer \(dup) is listed more than once")
            }
            self = .list(out)
            return
        }
        enum K: String, CodingKey { case top }
        let c = try decoder.container(keyedBy: K.self)
        let k = try c.decode(Int.self, forKey: .top)
        if k < 1 { throw recipeError(decoder, key: K.top, "must be at least 1, got \(k)") }
        self = .top(k)
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .all: var c = encoder.singleValueContainer(); try c.encode("all")
        case .top(let k): enum K: String, CodingKey { case top }; var c = encoder.container(keyedBy: K.self); try c.encode(k, forKey: .top)
        case .list(let l): var c = encoder.unkeyedContainer(); for i in l { try c.encode(i) }
        }
    }

    /// Layer indices out of `count`; throws for out-of-range choices.
    public func indices(count: Int) throws -> [Int] {
        switch self {
        case .all: return Array(0..<count)
        case .top(let k):
            guard k >= 1 && k <= count else { throw TrainingError.plugin("layers: top \(k) is out of range for a \(count)-layer encoder") }
            return Array((count - k)..<count)
        case .list(let l):
            for i in l where i < 0 || i >= count { throw TrainingError.plugin("layers: index \(i) is out of range for a \(count)-layer encoder") }
            return l
        }
    }
}

func esmModel(_ encoder: ProteinEncoder, _ kind: String) throws -> EsmForMaskedLM {
    guard let e = encoder as? EsmBackedEncoder else {
        throw TrainingError.plugin("tuning '\(kind)' needs an encoder with an ESM-2 model (esm2, fusion)")
    }
    return e.esmBackbone
}

// MARK: top_k

/// `kind: top_k` — train only the top K layers (optionally the embeddings, the final LayerNorm, the LM head).
public struct TopKConfig: TuningPluginConfig {
    public static let category = PluginCategory.tuning
    public var k: Int
    public var embeddings: Bool
    public var finalNorm: Bool
    public var lmHead: Bool

    enum CodingKeys: String, CodingKey { case k, embeddings, finalNorm = "final_norm", lmHead = "lm_head" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        k = try c.decode(Int.self, forKey: .k)
        embeddings = try c.decodeIfPresent(Bool.self, forKey: .embeddings) ?? false
        finalNorm = try c.decodeIfPresent(Bool.self, forKey: .finalNorm) ?? true
        lmHead = try c.decodeIfPresent(Bool.self, forKey: .lmHead) ?? false
        if k < 0 { throw recipeError(decoder, key: CodingKeys.k, "must be at least 0") }
    }

    public func makeStrategy(_ ctx: BuildContext) throws -> TuningStrategy { TopKStrategy(config: self) }
}

final class TopKStrategy: TuningStrategy {
    let config: TopKConfig
    init(config: TopKConfig) { self.config = config }
    func apply(to encoder: ProteinEncoder) throws {
        let m = try esmModel(encoder, "top_k")
        let n = m.esm.layers.count
        guard config.k <= n else { throw TrainingError.plugin("top_k: k = \(config.k) but the encoder has \(n) layers") }
        m.setTrainable(false)
        for l in m.esm.layers.suffix(config.k) { l.setTrainable(true) }
        if config.embeddings { m.esm.embeddings.setTrainable(true) }
        if config.finalNorm { m.esm.embLayerNormAfter.setTrainable(true) }
        if config.lmHead { m.lmHead.setTrainable(true) }
    }
}

// MARK: lora

/// `kind: lora` — low-rank updates on chosen Linear layers; everything else frozen.
public struct LoRAConfig: TuningPluginConfig {
    public static let category = PluginCategory.tuning
    public var rank: Int
    public var alpha: Float
    public var dropout: Float
    /// Linear modules inside each layer, by name (`attention.self.query`) or by a
    /// dot-separated suffix of it that names one module (`query`, `self.query`,
    /// `output.dense`); default: the q, k, v and attention output projections.
    public var targets: [String]
    public var layers: LayerSelection
    /// Also train the LM head (when the task uses it).
    public var lmHead: Bool
    /// An adapter-only checkpoint (`tuning.json` + `adapters.safetensors`) whose LoRA modules are
    /// put onto the base and trained further; the layout (rank, alpha, targets, layers) is theirs.
    public var weights: RecipePath?

    enum CodingKeys: String, CodingKey { case rank, alpha, dropout, targets, layers, lmHead = "lm_head", weights }

    public static let defaultTargets = ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        rank = try c.decodeIfPresent(Int.self, forKey: .rank) ?? 8
        alpha = try c.decodeIfPresent(Float.self, forKey: .alpha) ?? Float(rank) * 2
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0
        targets = try c.decodeIfPresent([String].self, forKey: .targets) ?? Self.defaultTargets
        layers = try c.decodeIfPresent(LayerSelection.self, forKey: .layers) ?? .all
        lmHead = try c.decodeIfPresent(Bool.self, forKey: .lmHead) ?? false
        weights = try c.decodeIfPresent(RecipePath.self, forKey: .weights)
        if weights != nil {
            for k in [CodingKeys.rank, .alpha, .targets, .layers] where c.contains(k) {
                throw recipeError(decoder, key: k, "comes from the checkpoint given as 'weights' (its tuning.json); remove it")
            }
        }
        if rank < 1 { throw recipeError(decoder, key: CodingKeys.rank, "must be at least 1") }
        if !(0..<1).contains(dropout) { throw recipeError(decoder, key: CodingKeys.dropout, "must be in [0, 1)") }
        if targets.isEmpty { throw recipeError(decoder, key: CodingKeys.targets, "name at least one module") }
        if let dup = Dictionary(grouping: targets, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw recipeError(decoder, key: CodingKeys.targets, "'\(dup)' is listed more than once")
        }
        if !(alpha > 0 && alpha.isFinite) { throw recipeError(decoder, key: CodingKeys.alpha, "must be a positive number, got \(alpha)") }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let weights {
            try c.encode(weights, forKey: .weights)
        } else {
            try c.encode(rank, forKey: .rank); try c.encode(alpha, forKey: .alpha)
            try c.encode(targets, forKey: .targets); try c.encode(layers, forKey: .layers)
        }
        try c.encode(dropout, forKey: .dropout); try c.encode(lmHead, forKey: .lmHead)
    }

    /// The Linear module `target` names in `modules` (exact name, else the one whose name ends with
    /// `.target`); throws when none or several match.
    static func resolve(_ target: String, in modules: [String: Linear], layer: Int) throws -> (String, Linear) {
        if let m = modules[target] { return (target, m) }
        let hits = modules.keys.filter { $0.hasSuffix("." + target) }.sorted()
        guard hits.count == 1 else {
            let names = modules.keys.sorted().joined(separator: ", ")
            throw TrainingError.plugin(hits.isEmpty
                ? "lora: layer \(layer) has no Linear '\(target)'; Linear modules: \(names)"
                : "lora: target '\(target)' matches \(hits.count) Linear modules in layer \(layer) (\(hits.joined(separator: ", "))); name one")
        }
        return (hits[0], modules[hits[0]]!)
    }

    public func makeStrategy(_ ctx: BuildContext) throws -> TuningStrategy { LoRAStrategy(config: self, seed: ctx.seed) }
}

final class LoRAStrategy: TuningStrategy {
    let config: LoRAConfig, seed: UInt64
    init(config: LoRAConfig, seed: UInt64) { self.config = config; self.seed = seed }
    func apply(to encoder: ProteinEncoder) throws {
        let m = try esmModel(encoder, "lora")
        m.setTrainable(false)
        if let w = config.weights {
            do { try m.loadTuning(from: w.url) } catch {
                throw TrainingError.plugin("lora.weights \(w.path): \(error)")
            }
            let n = m.tuningManifest().lora.count
            guard n > 0 else { throw TrainingError.plugin("lora.weights \(w.path): its tuning.json lists no LoRA modules") }
            if config.lmHead { m.lmHead.setTrainable(true) }
            return
        }
        var rng = RNG(seed: seed ^ 0x10_7A)
        var attached = 0
        for i in try config.layers.indices(count: m.esm.layers.count) {
            let layer = m.esm.layers[i]
            var linears: [String: Linear] = [:]
            for (name, module) in layer.namedModules() { if let l = module as? Linear, linears[name] == nil { linears[name] = l } }
            var done: [String: String] = [:]   // module -> the target that chose it
            for t in config.targets {
                let (name, lin) = try LoRAConfig.resolve(t, in: linears, layer: i)
                if let other = done[name] { throw TrainingError.plugin("lora: targets '\(other)' and '\(t)' both name \(name)") }
                done[name] = t
                lin.attachLoRA(rank: config.rank, alpha: config.alpha, dropout: config.dropout, rng: &rng)
                attached += 1
            }
        }
        if config.lmHead { m.lmHead.setTrainable(true) }
        precondition(attached > 0)
    }
}

// MARK: adapters

/// `kind: adapters` — bottleneck adapter sets in chosen layers (S-PLM: serial,
/// top 16 layers, bottleneck d/2). `existing:` loads earlier adapter sets from
/// a checkpoint and keeps them frozen beside the new trainable set `name`.
public struct AdaptersConfig: TuningPluginConfig {
    public static let category = PluginCategory.tuning
    public var name: String
    public var bottleneck: Int?
    public var mode: AdapterMode
    public var layers: LayerSelection
    public var existing: RecipePath?

    enum CodingKeys: String, CodingKey { case name, bottleneck, mode, layers, existing }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? "task"
        bottleneck = try c.decodeIfPresent(Int.self, forKey: .bottleneck)
        let m = try c.decodeIfPresent(String.self, forKey: .mode) ?? "serial"
        guard let mode = AdapterMode(rawValue: m) else { throw recipeError(decoder, key: CodingKeys.mode, "must be 'serial' or 'parallel', got '\(m)'") }
        self.mode = mode
        layers = try c.decodeIfPresent(LayerSelection.self, forKey: .layers) ?? .all
        existing = try c.decodeIfPresent(RecipePath.self, forKey: .existing)
        if let b = bottleneck, b < 1 { throw recipeError(decoder, key: CodingKeys.bottleneck, "must be at least 1") }
        if name.isEmpty || name.contains(".") { throw recipeError(decoder, key: CodingKeys.name, "must be a non-empty name without dots") }
    }

    public func makeStrategy(_ ctx: BuildContext) throws -> TuningStrategy { AdaptersStrategy(config: self, seed: ctx.seed) }
}

final class AdaptersStrategy: TuningStrategy {
    let config: AdaptersConfig, seed: UInt64
    init(config: AdaptersConfig, seed: UInt64) { self.config = config; self.seed = seed }
    func apply(to encoder: ProteinEncoder) throws {
        let m = try esmModel(encoder, "adapters")
        if let dir = config.existing {
            let manifestURL = dir.url.appendingPathComponent("tuning.json")
            let manifest: TuningManifest
            do { manifest = try JSONDecoder().decode(TuningManifest.self, from: Data(contentsOf: manifestURL)) } catch {
                throw TrainingError.plugin("adapters.existing: cannot read \(manifestURL.path): \(error.localizedDescription)")
            }
            if manifest.adapters.contains(where: { $0.name == config.name }) {
                throw TrainingError.plugin("adapters: set '\(config.name)' already exists in \(dir.path); choose another name")
            }
            try m.apply(manifest)
            try m.loadTuningWeights(from: dir.url.appendingPathComponent("adapters.safetensors"))
        }
        m.setTrainable(false)   // base and existing sets stay frozen
        var rng = RNG(seed: seed ^ 0xADA_97E)
        let d = m.config.hiddenSize
        for i in try config.layers.indices(count: m.esm.layers.count) {
            let layer = m.esm.layers[i]
            layer.addAdapters(config.name, bottleneck: config.bottleneck ?? d / 2, mode: config.mode, rng: &rng)
        }
    }
}

extension PluginRegistry {
    /// Registers `top_k`, `lora` and `adapters`.
    public func registerTuning() throws {
        try register(TopKConfig.self, kind: "top_k", summary: "train only the top K layers", module: "Tuning")
        try register(LoRAConfig.self, kind: "lora", summary: "low-rank adapters on chosen Linear layers (PEFT-style names)", module: "Tuning")
        try register(AdaptersConfig.self, kind: "adapters", summary: "bottleneck adapter sets (serial S-PLM or parallel)", module: "Tuning")
    }
}
