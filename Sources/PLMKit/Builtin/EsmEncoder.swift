import Foundation
import PLMNN
import PLMTensor

/// An encoder built around an ESM-2 model — plain (`esm2`) or fused with
/// other branches (`fusion`). Tuning strategies (`top_k`, `lora`, `adapters`)
/// act on `esmBackbone`; other parameters of the encoder (a fusion encoder's
/// graph branch and structure token) keep their trainability.
public protocol EsmBackedEncoder: ProteinEncoder {
    var esmBackbone: EsmForMaskedLM { get }
}

/// ESM-2 / ESM-1b as a `ProteinEncoder` (with its LM head for MLM targets).
public final class EsmEncoder: EsmBackedEncoder {
    public let model: EsmForMaskedLM
    public init(_ model: EsmForMaskedLM) { self.model = model }
    public var esmBackbone: EsmForMaskedLM { model }

    public var module: Module { model }
    public var hiddenSize: Int { model.config.hiddenSize }
    public var layerCount: Int { model.config.numHiddenLayers }
    public var headCount: Int { model.config.numAttentionHeads }

    public func encode(_ tokens: IndexTensor, request: EncoderRequest, context: ForwardContext) -> EsmOutput {
        model.esm(tokens, hiddenStates: request.hiddenStates, attentions: request.attentions, context: context)
    }

    public func lmLogits(_ hidden: Tensor) -> Tensor? { model.logits(fromHidden: hidden) }

    public func save(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try model.save(to: directory)
    }

    public func load(from directory: URL) throws {
        try model.loadDirectoryWeights(directory, copy: true)
    }
}

/// Recipe section `model.encoder` with `kind: esm2`.
///
/// Either `weights:` (a HuggingFace directory, loaded strictly) or a size
/// (`preset:` or `layers`/`hidden_size`/`heads`) with `init: hf | seqdance`.
public struct EsmEncoderConfig: EncoderPluginConfig {
    public static let category = PluginCategory.encoder
    public var preset: String?
    public var layers: Int?
    public var hiddenSize: Int?
    public var heads: Int?
    public var intermediateSize: Int?
    public var positionEmbedding: String
    public var weights: RecipePath?
    public var initScheme: String
    public var dropout: Float?
    public var attentionDropout: Float?

    enum CodingKeys: String, CodingKey {
        case preset, layers, hiddenSize = "hidden_size", heads, intermediateSize = "intermediate_size"
        case positionEmbedding = "position_embedding", weights, initScheme = "init", dropout, attentionDropout = "attention_dropout"
    }

    /// An encoder that loads `weights` (a HuggingFace-layout ESM directory) with every other key at its default.
    public init(weights: RecipePath) {
        self.weights = weights
        positionEmbedding = "rotary"
        initScheme = "hf"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        preset = try c.decodeIfPresent(String.self, forKey: .preset)
        layers = try c.decodeIfPresent(Int.self, forKey: .layers)
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize)
        heads = try c.decodeIfPresent(Int.self, forKey: .heads)
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize)
        positionEmbedding = try c.decodeIfPresent(String.self, forKey: .positionEmbedding) ?? "rotary"
        weights = try c.decodeIfPresent(RecipePath.self, forKey: .weights)
        initScheme = try c.decodeIfPresent(String.self, forKey: .initScheme) ?? "hf"
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout)
        attentionDropout = try c.decodeIfPresent(Float.self, forKey: .attentionDropout)
        func bad(_ k: CodingKeys, _ m: String) -> Error { recipeError(decoder, key: k, m) }
        if weights == nil && preset == nil && (layers == nil || hiddenSize == nil || heads == nil) {
            throw bad(.preset, "give 'weights' (a model directory), a 'preset' (\(EsmConfig.presetNames.joined(separator: ", "))) or layers + hidden_size + heads")
        }
        if EsmInitScheme(rawValue: initScheme) == nil { throw bad(.initScheme, "must be 'hf' or 'seqdance', got '\(initScheme)'") }
        if !["rotary", "absolute"].contains(positionEmbedding) { throw bad(.positionEmbedding, "must be 'rotary' or 'absolute'") }
        if let p = preset, !EsmConfig.presetNames.contains(p) {
            throw bad(.preset, "unknown preset '\(p)'; known: \(EsmConfig.presetNames.joined(separator: ", "))")
        }
    }

    /// The model configuration this section describes (before loading weights).
    public func esmConfig() throws -> EsmConfig {
        var cfg: EsmConfig
        if let w = weights {
            cfg = try EsmConfig.load(w.url.appendingPathComponent("config.json"))
        } else if let p = preset {
            cfg = try EsmConfig.preset(p)
        } else {
            cfg = EsmConfig(hiddenSize: hiddenSize!, numHiddenLayers: layers!, numAttentionHeads: heads!, intermediateSize: intermediateSize)
            cfg.positionEmbeddingType = positionEmbedding
            if positionEmbedding == "absolute" { cfg.embLayerNormBefore = true }
        }
        if let d = dropout { cfg.hiddenDropoutProb = d }
        if let d = attentionDropout { cfg.attentionProbsDropoutProb = d }
        try cfg.validate()
        return cfg
    }

    public func makeEncoder(_ ctx: BuildContext) throws -> ProteinEncoder {
        let cfg = try esmConfig()
        let model = EsmForMaskedLM(cfg)
        if let w = weights {
            try model.loadWeights(from: w.url.appendingPathComponent("model.safetensors"))
            // Training writes into the weights: own them instead of the mapped file.
            for (_, p) in model.namedParameters() { p.value = p.value.copy() }
        } else {
            model.initialize(EsmInitScheme(rawValue: initScheme)!, seed: ctx.seed)
        }
        return EsmEncoder(model)
    }
}
