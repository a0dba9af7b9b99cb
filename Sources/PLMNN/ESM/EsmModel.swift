import Foundation
import PLMTensor

// ESM-2 (rotary) and ESM-1b (absolute positions) encoders, laid out module
// by module as HuggingFace's `modeling_esm.py`, so parameter paths are HF's
// state-dict names. Spec: docs/ESM2.md. Shapes: B batch, T tokens (BOS/EOS
// included), d hidden, H heads, Dh = d/H.

/// A module that only groups children under a name (HF's `intermediate`, `output`, …).
public final class ModuleGroup: Module {}

/// Per-forward state: the dropout RNG (used only in training mode).
public final class ForwardContext {
    public var rng: RNG
    public init(rng: RNG = RNG(seed: 0)) { self.rng = rng }
}

/// Token (+ absolute position) embeddings with ESM's token-dropout rescaling.
public final class EsmEmbeddings: Module {
    public let config: EsmConfig
    public let wordEmbeddings: Embedding
    public let positionEmbeddings: Embedding?
    public let layerNorm: LayerNorm?

    init(_ c: EsmConfig) {
        config = c
        wordEmbeddings = Embedding(c.vocabSize, c.hiddenSize, paddingIndex: c.padTokenId)
        positionEmbeddings = c.isRotary ? nil : Embedding(c.maxPositionEmbeddings, c.hiddenSize, paddingIndex: c.padTokenId)
        layerNorm = c.embLayerNormBefore ? LayerNorm(c.hiddenSize, eps: c.layerNormEps) : nil
        super.init()
        child("word_embeddings", wordEmbeddings)
        if let p = positionEmbeddings { child("position_embeddings", p) }
        if let l = layerNorm { child("layer_norm", l) }
    }

    /// tokens [B, T] -> [B, T, d]; rows of `<pad>` are zero.
    func callAsFunction(_ tokens: IndexTensor) -> Tensor {
        let b = tokens.shape[0], t = tokens.shape[1]
        var x = wordEmbeddings(tokens)
        let pad = Int32(config.padTokenId), mask = Int32(config.maskTokenId)
        var keep = [Float](repeating: 0, count: b * t)     // 1 for non-pad rows
        for i in 0..<(b * t) where tokens.values[i] != pad { keep[i] = 1 }
        if config.tokenDropout {
            // Zero <mask> rows, scale by 0.88 / (1 - observed mask ratio) per sequence.
            var factor = [Float](repeating: 0, count: b * t)
            for r in 0..<b {
                var n = 0, m = 0
                for j in 0..<t {
                    let v = tokens.values[r * t + j]
                    if v != pad { n += 1 }
                    if v == mask { m += 1 }
                }
                let observed = n > 0 ? Float(m) / Float(n) : 0
                let s = Float(1 - 0.15 * 0.8) / (1 - observed)
                for j in 0..<t { factor[r * t + j] = tokens.values[r * t + j] == mask ? 0 : s }
            }
            x = x * Tensor(shape: [b, t, 1], values: factor)
        }
        if let pe = positionEmbeddings {
            // fairseq positions: padding_idx + 1 + (index among non-pad tokens); pads get padding_idx.
            var pos = [Int32](repeating: pad, count: b * t)
            for r in 0..<b {
                var c: Int32 = 0
                for j in 0..<t where tokens.values[r * t + j] != pad {
                    c += 1
                    pos[r * t + j] = pad + c
                }
            }
            if let mx = pos.max(), Int(mx) >= config.maxPositionEmbeddings {
                preconditionFailure("sequence needs position \(mx); this model has \(config.maxPositionEmbeddings) positions")
            }
            x = x + pe(IndexTensor(shape: [b, t], values: pos))
        }
        if let ln = layerNorm { x = ln(x) }
        return x * Tensor(shape: [b, t, 1], values: keep)
    }
}

/// Holds the rotary `inv_freq` buffer (loaded from the checkpoint when present).
public final class RotaryEmbedding: Module {
    public let invFreq: Parameter

    init(headDim: Int) {
        // As torch computes it: 1 / 10000^(arange(0, Dh, 2) / Dh) in float32.
        let v = stride(from: 0, to: headDim, by: 2).map { i -> Float in
            1 / Foundation.pow(Float(10000), Float(i) / Float(headDim))
        }
        invFreq = Parameter(Tensor(shape: [headDim / 2], values: v), trainable: false)
        super.init()
        registerBuffer("inv_freq", invFreq)
    }
}

/// Multi-head self-attention with q scaled before rotary (ESM convention).
public final class EsmSelfAttention: Module {
    let heads: Int, headDim: Int
    public let query: Linear, key: Linear, value: Linear
    public let rotary: RotaryEmbedding?
    let dropoutP: Float

    init(_ c: EsmConfig) {
        heads = c.numAttentionHeads
        headDim = c.headDim
        query = Linear(c.hiddenSize, c.hiddenSize)
        key = Linear(c.hiddenSize, c.hiddenSize)
        value = Linear(c.hiddenSize, c.hiddenSize)
        rotary = c.isRotary ? RotaryEmbedding(headDim: c.headDim) : nil
        dropoutP = c.attentionProbsDropoutProb
        super.init()
        child("query", query); child("key", key); child("value", value)
        if let r = rotary { child("rotary_embeddings", r) }
    }

    /// x [B, T, d] -> (context [B, T, d], probabilities [B, H, T, T] when
    /// `wantProbabilities`). Without them (and without attention dropout,
    /// which needs the probabilities) the fused kernel runs: no head
    /// split/merge copies and no B·H·T·T tensor kept for backward.
    func callAsFunction(_ x: Tensor, keyPadding: MaskTensor, wantProbabilities: Bool,
                        ctx: ForwardContext) -> (Tensor, Tensor?) {
        let b = x.shape[0], t = x.shape[1]
        let scale = 1 / Float(headDim).squareRoot()
        let inv = rotary?.invFreq.value.toArray()
        let probsDropout = isTraining && dropoutP > 0
        if !wantProbabilities && !probsDropout {
            let context = Tensor.multiHeadAttention(q: query(x, context: ctx), k: key(x, context: ctx), v: value(x, context: ctx),
                                                    heads: heads, keyPaddingMask: keyPadding, scale: scale, rotaryInvFreq: inv)
            return (context, nil)
        }
        func split(_ y: Tensor) -> Tensor { y.reshaped([b, t, heads, headDim]).permuted([0, 2, 1, 3]) }
        var q = split(query(x, context: ctx)) * scale
        var k = split(key(x, context: ctx))
        let v = split(value(x, context: ctx))
        if let inv {
            q = q.rotaryEmbedding(invFreq: inv)
            k = k.rotaryEmbedding(invFreq: inv)
        }
        let probs = Tensor.attentionProbabilities(q: q, k: k, keyPaddingMask: keyPadding, scale: 1)
        let dropped = probsDropout ? probs.dropout(dropoutP, rng: &ctx.rng) : probs
        let context = dropped.matmul(v).permuted([0, 2, 1, 3]).reshaped([b, t, heads * headDim])
        return (context, wantProbabilities ? probs : nil)
    }
}

/// One pre-LayerNorm transformer block.
public final class EsmLayer: Module {
    public let selfAttention: EsmSelfAttention
    public let attentionOutput: Linear     // attention.output.dense
    public let attentionLayerNorm: LayerNorm  // attention.LayerNorm (LN1)
    public let fc1: Linear                 // intermediate.dense
    public let fc2: Linear                 // output.dense
    public let finalLayerNorm: LayerNorm   // LayerNorm (LN2)
    let dropoutP: Float
    /// Adapter sets (empty unless a tuning strategy adds them).
    public let adapters = LayerAdapters()

    init(_ c: EsmConfig) {
        selfAttention = EsmSelfAttention(c)
        attentionOutput = Linear(c.hiddenSize, c.hiddenSize)
        attentionLayerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        fc1 = Linear(c.hiddenSize, c.intermediateSize)
        fc2 = Linear(c.intermediateSize, c.hiddenSize)
        finalLayerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        dropoutP = c.hiddenDropoutProb
        super.init()
        let attention = child("attention", ModuleGroup())
        attention.child("self", selfAttention)
        attention.child("output", ModuleGroup()).child("dense", attentionOutput)
        attention.child("LayerNorm", attentionLayerNorm)
        child("intermediate", ModuleGroup()).child("dense", fc1)
        child("output", ModuleGroup()).child("dense", fc2)
        child("LayerNorm", finalLayerNorm)
    }

    func dropout(_ x: Tensor, _ ctx: ForwardContext) -> Tensor {
        isTraining && dropoutP > 0 ? x.dropout(dropoutP, rng: &ctx.rng) : x
    }

    /// x [B, T, d] -> (x' [B, T, d], attention probabilities [B, H, T, T] when asked)
    func callAsFunction(_ x: Tensor, keyPadding: MaskTensor, wantProbabilities: Bool = true,
                        ctx: ForwardContext) -> (Tensor, Tensor?) {
        let (a, probs) = selfAttention(attentionLayerNorm(x), keyPadding: keyPadding,
                                       wantProbabilities: wantProbabilities, ctx: ctx)
        var attn = dropout(attentionOutput(a, context: ctx), ctx)
        if !adapters.isEmpty { attn = LayerAdapters.apply(adapters.attention, to: attn, input: x) }
        let h = x + attn
        var f = dropout(fc2(fc1(finalLayerNorm(h), context: ctx).gelu(), context: ctx), ctx)
        if !adapters.isEmpty { f = LayerAdapters.apply(adapters.output, to: f, input: h) }
        return (h + f, probs)
    }
}

/// Contacts from attention maps: symmetrise, APC, logistic regression.
public final class EsmContactHead: Module {
    public let regression: Linear
    let eosIndex: Int32 = 2

    init(_ c: EsmConfig) {
        regression = Linear(c.numHiddenLayers * c.numAttentionHeads, 1)
        super.init()
        child("regression", regression)
    }

    /// tokens [B, T], attentions L × [B, H, T, T] -> contact probabilities [B, T-2, T-2].
    /// Entry (i, j) is residue i vs j (BOS/EOS dropped); rows past a
    /// sequence's length are padding.
    public func callAsFunction(_ tokens: IndexTensor, attentions: [Tensor], padIndex: Int32) -> Tensor {
        let b = tokens.shape[0], t = tokens.shape[1]
        var keep = [Float](repeating: 0, count: b * t * t)
        for r in 0..<b {
            for i in 0..<t {
                let ti = tokens.values[r * t + i]
                if ti == padIndex || ti == eosIndex { continue }
                for j in 0..<t {
                    let tj = tokens.values[r * t + j]
                    if tj != padIndex && tj != eosIndex { keep[(r * t + i) * t + j] = 1 }
                }
            }
        }
        var a = Tensor.concat(attentions, axis: 1) * Tensor(shape: [b, 1, t, t], values: keep)  // [B, C, T, T]
        a = a.slice(axis: 2, start: 1, end: t - 1).slice(axis: 3, start: 1, end: t - 1)
        a = a + a.transposed(-1, -2)
        let a1 = a.sum(axis: -1, keepDims: true), a2 = a.sum(axis: -2, keepDims: true)
        let a12 = a.sum(axes: [-1, -2], keepDims: true)
        a = a - a1 * a2 / a12
        let features = a.permuted([0, 2, 3, 1])                      // [B, T', T', C]
        return regression(features).squeezed(-1).sigmoid()
    }
}

/// What an encoder forward returns.
public struct EsmOutput {
    /// Final representations after `emb_layer_norm_after` [B, T, d].
    public var lastHiddenState: Tensor
    /// When requested: L+1 tensors [B, T, d]: the embeddings, each layer's
    /// raw residual stream, and (last) the final normed representations.
    public var hiddenStates: [Tensor]
    /// When requested (or needed for contacts): L tensors [B, H, T, T].
    public var attentions: [Tensor]
}

/// The ESM encoder (`esm.*` in HuggingFace files).
public final class EsmModel: Module {
    public let config: EsmConfig
    public let embeddings: EsmEmbeddings
    public let layers: [EsmLayer]
    public let embLayerNormAfter: LayerNorm
    public let contactHead: EsmContactHead

    public init(_ c: EsmConfig) {
        config = c
        embeddings = EsmEmbeddings(c)
        layers = (0..<c.numHiddenLayers).map { _ in EsmLayer(c) }
        embLayerNormAfter = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        contactHead = EsmContactHead(c)
        super.init()
        child("embeddings", embeddings)
        let encoder = child("encoder", ModuleGroup())
        for (i, l) in layers.enumerated() { encoder.child("layer.\(i)", l) }
        encoder.child("emb_layer_norm_after", embLayerNormAfter)
        child("contact_head", contactHead)
    }

    /// tokens [B, T] (`<cls> … <eos>`, right-padded with `<pad>`).
    public func callAsFunction(_ tokens: IndexTensor, hiddenStates wantHidden: Bool = false,
                               attentions wantAttn: Bool = false, context: ForwardContext = ForwardContext()) -> EsmOutput {
        precondition(tokens.shape.count == 2, "EsmModel: tokens must be [B, T], got \(Shape.describe(tokens.shape))")
        let pad = Int32(config.padTokenId)
        let keyPadding = MaskTensor(shape: tokens.shape, values: tokens.values.map { $0 == pad })
        var x = embeddings(tokens)
        var hidden: [Tensor] = []
        var attn: [Tensor] = []
        for layer in layers {
            if wantHidden { hidden.append(x) }
            let (y, p) = layer(x, keyPadding: keyPadding, wantProbabilities: wantAttn, ctx: context)
            if wantAttn, let p { attn.append(p) }
            x = y
        }
        x = embLayerNormAfter(x)
        if wantHidden { hidden.append(x) }
        return EsmOutput(lastHiddenState: x, hiddenStates: hidden, attentions: attn)
    }

    /// Contact probabilities [B, T-2, T-2] (runs the encoder with attentions).
    public func predictContacts(_ tokens: IndexTensor) -> Tensor {
        let out = self(tokens, attentions: true)
        return contactHead(tokens, attentions: out.attentions, padIndex: Int32(config.padTokenId))
    }
}

/// LM head: dense -> GELU -> LayerNorm -> tied decoder (token embeddings) + bias.
public final class EsmLMHead: Module {
    public let dense: Linear
    public let layerNorm: LayerNorm
    public let bias: Parameter

    init(_ c: EsmConfig) {
        dense = Linear(c.hiddenSize, c.hiddenSize)
        layerNorm = LayerNorm(c.hiddenSize, eps: c.layerNormEps)
        bias = Parameter(Tensor.zeros([c.vocabSize]), trainable: true)
        super.init()
        child("dense", dense)
        child("layer_norm", layerNorm)
        registerExisting("bias", bias)
    }

    /// x [B, T, d], decoder weight [V, d] -> logits [B, T, V]
    func callAsFunction(_ x: Tensor, decoder: Tensor) -> Tensor {
        layerNorm(dense(x).gelu()).matmul(decoder, transposeB: true) + bias.value
    }
}

/// ESM with its masked-LM head: HuggingFace's `EsmForMaskedLM`.
public final class EsmForMaskedLM: Module {
    public let config: EsmConfig
    public let esm: EsmModel
    public let lmHead: EsmLMHead

    public init(_ c: EsmConfig) {
        config = c
        esm = EsmModel(c)
        lmHead = EsmLMHead(c)
        super.init()
        child("esm", esm)
        child("lm_head", lmHead)
    }

    /// Logits [B, T, 33] for tokens [B, T].
    public func logits(_ tokens: IndexTensor, context: ForwardContext = ForwardContext()) -> Tensor {
        lmHead(esm(tokens, context: context).lastHiddenState, decoder: esm.embeddings.wordEmbeddings.weight.value)
    }

    /// Logits from already computed final representations [B, T, d].
    public func logits(fromHidden h: Tensor) -> Tensor {
        lmHead(h, decoder: esm.embeddings.wordEmbeddings.weight.value)
    }

    /// Fills every weight: `.huggingFace` draws N(0, initializer_range) for
    /// Linear/Embedding weights; `.seqDance` uses Xavier-uniform (gain 1/√2
    /// for query/key/value). Biases 0, LayerNorms 1/0, padding rows 0.
    public func initialize(_ scheme: EsmInitScheme, seed: UInt64) {
        var rng = RNG(seed: seed)
        for (name, m) in namedModules() {
            if let l = m as? Linear {
                switch scheme {
                case .huggingFace: Init.normal(l.weight, std: config.initializerRange, rng: &rng)
                case .seqDance:
                    let qkv = name.hasSuffix(".query") || name.hasSuffix(".key") || name.hasSuffix(".value")
                    Init.xavierUniform(l.weight, gain: qkv ? 1 / Float(2).squareRoot() : 1, rng: &rng)
                }
                if let b = l.bias { Init.constant(b, 0) }
            } else if let e = m as? Embedding {
                switch scheme {
                case .huggingFace: Init.normal(e.weight, std: config.initializerRange, rng: &rng)
                case .seqDance: Init.xavierUniform(e.weight, rng: &rng)
                }
                if let p = e.paddingIndex {
                    let d = e.weight.shape[1]
                    (e.weight.value.data + p * d).update(repeating: 0, count: d)
                }
            } else if let n = m as? LayerNorm {
                Init.constant(n.weight, 1)
                Init.constant(n.bias, 0)
            }
        }
        Init.constant(lmHead.bias, 0)
    }
}

/// How a freshly built encoder's weights are drawn.
public enum EsmInitScheme: String, Sendable, Codable {
    case huggingFace = "hf", seqDance = "seqdance"
}
