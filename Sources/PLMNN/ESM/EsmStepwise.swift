import Foundation
import PLMTensor

// Layer-by-layer access to the ESM encoder for models that interleave other
// computation with the transformer layers (the 3DProtLM fusion encoder).
// `embed` + every `runLayer` + `finalNorm` is exactly `callAsFunction`.

extension EsmModel {
    /// tokens [B, T] -> embeddings [B, T, d] (token dropout, positions, pad rows zero).
    public func embed(_ tokens: IndexTensor) -> Tensor { embeddings(tokens) }

    /// The key-padding mask [B, T] the layers use (true at `<pad>`).
    public func keyPadding(_ tokens: IndexTensor) -> MaskTensor {
        let pad = Int32(config.padTokenId)
        return MaskTensor(shape: tokens.shape, values: tokens.values.map { $0 == pad })
    }

    /// Layer `index` on x [B, T, d] -> (x', attention probabilities [B, H, T, T]
    /// when `attentions`; without them the fused attention kernel runs).
    public func runLayer(_ index: Int, _ x: Tensor, keyPadding: MaskTensor, attentions: Bool = false,
                         context: ForwardContext) -> (Tensor, Tensor?) {
        layers[index](x, keyPadding: keyPadding, wantProbabilities: attentions, ctx: context)
    }

    /// `emb_layer_norm_after`.
    public func finalNorm(_ x: Tensor) -> Tensor { embLayerNormAfter(x) }
}

extension EsmOutput {
    /// For encoders outside PLMNN that assemble their own output.
    public init(hidden: Tensor, hiddenStates: [Tensor] = [], attentions: [Tensor] = []) {
        self.init(lastHiddenState: hidden, hiddenStates: hiddenStates, attentions: attentions)
    }
}
