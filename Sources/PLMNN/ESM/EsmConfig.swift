import Foundation

/// ESM-2 / ESM-1b hyper-parameters: HuggingFace `config.json` fields
/// (snake_case), with the presets of the released models.
public struct EsmConfig: Codable, Equatable, Sendable {
    public var vocabSize = 33
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var layerNormEps: Float = 1e-5
    public var maskTokenId = 32
    public var padTokenId = 1
    public var tokenDropout = true
    /// "rotary" (ESM-2) or "absolute" (ESM-1b).
    public var positionEmbeddingType = "rotary"
    public var embLayerNormBefore = false
    public var maxPositionEmbeddings = 1026
    public var hiddenDropoutProb: Float = 0
    public var attentionProbsDropoutProb: Float = 0
    public var initializerRange: Float = 0.02

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size"
        case layerNormEps = "layer_norm_eps", maskTokenId = "mask_token_id", padTokenId = "pad_token_id"
        case tokenDropout = "token_dropout", positionEmbeddingType = "position_embedding_type"
        case embLayerNormBefore = "emb_layer_norm_before", maxPositionEmbeddings = "max_position_embeddings"
        case hiddenDropoutProb = "hidden_dropout_prob", attentionProbsDropoutProb = "attention_probs_dropout_prob"
        case initializerRange = "initializer_range"
    }

    public init(hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int? = nil) {
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize ?? 4 * hiddenSize
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHiddenLayers = try c.decode(Int.self, forKey: .numHiddenLayers)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? 4 * hiddenSize
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? 33
        // HF's class default (1e-12) is wrong for ESM-2; released files say 1e-5.
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-5
        maskTokenId = try c.decodeIfPresent(Int.self, forKey: .maskTokenId) ?? 32
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? 1
        tokenDropout = try c.decodeIfPresent(Bool.self, forKey: .tokenDropout) ?? true
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? "absolute"
        embLayerNormBefore = try c.decodeIfPresent(Bool.self, forKey: .embLayerNormBefore) ?? false
        maxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 1026
        hiddenDropoutProb = try c.decodeIfPresent(Float.self, forKey: .hiddenDropoutProb) ?? 0
        attentionProbsDropoutProb = try c.decodeIfPresent(Float.self, forKey: .attentionProbsDropoutProb) ?? 0
        initializerRange = try c.decodeIfPresent(Float.self, forKey: .initializerRange) ?? 0.02
    }

    public var headDim: Int { hiddenSize / numAttentionHeads }
    public var isRotary: Bool { positionEmbeddingType == "rotary" }

    /// Checks the invariants the encoder relies on.
    public func validate() throws {
        func bad(_ key: String, _ why: String) -> EsmConfigError { .invalid(key: key, reason: why) }
        if hiddenSize <= 0 { throw bad("hidden_size", "must be positive, got \(hiddenSize)") }
        if numHiddenLayers <= 0 { throw bad("num_hidden_layers", "must be positive, got \(numHiddenLayers)") }
        if numAttentionHeads <= 0 || hiddenSize % numAttentionHeads != 0 {
            throw bad("num_attention_heads", "must divide hidden_size \(hiddenSize), got \(numAttentionHeads)")
        }
        if isRotary && headDim % 2 != 0 { throw bad("num_attention_heads", "rotary needs an even head size, got \(headDim)") }
        if !["rotary", "absolute"].contains(positionEmbeddingType) {
            throw bad("position_embedding_type", "must be \"rotary\" or \"absolute\", got \"\(positionEmbeddingType)\"")
        }
        if vocabSize != 33 { throw bad("vocab_size", "ESM's alphabet has 33 tokens, got \(vocabSize)") }
        if !(maskTokenId >= 0 && maskTokenId < vocabSize) || !(padTokenId >= 0 && padTokenId < vocabSize) {
            throw bad("mask_token_id/pad_token_id", "must lie in 0..<\(vocabSize)")
        }
    }

    /// Reads and validates a HuggingFace `config.json`.
    public static func load(_ url: URL) throws -> EsmConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw EsmConfigError.unreadable(path: url.path, reason: "\(error.localizedDescription)") }
        let cfg: EsmConfig
        do { cfg = try JSONDecoder().decode(EsmConfig.self, from: data) } catch let DecodingError.keyNotFound(k, _) {
            throw EsmConfigError.invalid(key: k.stringValue, reason: "missing in \(url.path)")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw EsmConfigError.invalid(key: ctx.codingPath.map(\.stringValue).joined(separator: "."), reason: "wrong type in \(url.path)")
        } catch {
            throw EsmConfigError.unreadable(path: url.path, reason: "not valid JSON: \(error)")
        }
        try cfg.validate()
        return cfg
    }

    /// The released ESM-2 sizes (FFN 4·d, rotary).
    public static func preset(_ name: String) throws -> EsmConfig {
        let table: [String: (Int, Int, Int)] = [
            "t6_8M": (6, 320, 20), "t12_35M": (12, 480, 20), "t30_150M": (30, 640, 20),
            "t33_650M": (33, 1280, 20), "t36_3B": (36, 2560, 40), "t48_15B": (48, 5120, 40),
        ]
        guard let (l, d, h) = table[name] else {
            throw EsmConfigError.invalid(key: "preset", reason: "unknown preset '\(name)'; known: \(table.keys.sorted().joined(separator: ", "))")
        }
        return EsmConfig(hiddenSize: d, numHiddenLayers: l, numAttentionHeads: h)
    }

    public static let presetNames = ["t6_8M", "t12_35M", "t30_150M", "t33_650M", "t36_3B", "t48_15B"]
}

/// A bad or unreadable model configuration.
public enum EsmConfigError: Error, CustomStringConvertible, Equatable {
    case unreadable(path: String, reason: String)
    case invalid(key: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read model config \(path): \(reason)"
        case let .invalid(key, reason): return "model config key '\(key)': \(reason)"
        }
    }
}
