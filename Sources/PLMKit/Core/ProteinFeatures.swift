import PLMData
import PLMNN
import PLMTensor

/// An encoder with a protein-level feature of its own: the fusion encoder
/// (pooled ESM ‖ summed graph readout), the residue-graph encoder (summed
/// readout). Used by `multiview_contrast` and by `plm embed --structures`;
/// other encoders' protein feature is the mean over residues
/// (`proteinFeatures(of:_:tokens:)`).
public protocol ProteinFeatureEncoder: ProteinEncoder {
    var proteinFeatureSize: Int { get }
    /// output of `encode(batch:…)` -> [B, proteinFeatureSize].
    func proteinFeatures(_ output: EsmOutput, tokens: IndexTensor) -> Tensor
}

/// Width of `proteinFeatures(of:_:tokens:)` for `encoder`.
public func proteinFeatureSize(of encoder: ProteinEncoder) -> Int {
    (encoder as? ProteinFeatureEncoder)?.proteinFeatureSize ?? encoder.hiddenSize
}

/// The encoder's protein-level features [B, F]: its own when it has them,
/// else the mean of the last hidden state over residue tokens.
public func proteinFeatures(of encoder: ProteinEncoder, _ output: EsmOutput, tokens: IndexTensor) -> Tensor {
    (encoder as? ProteinFeatureEncoder)?.proteinFeatures(output, tokens: tokens)
        ?? meanOverResidues(output.lastHiddenState, tokens: tokens)
}

/// Mean over residue tokens (no BOS/EOS/pad) of hidden [B, T, w] -> [B, w].
public func meanOverResidues(_ hidden: Tensor, tokens: IndexTensor) -> Tensor {
    let b = tokens.shape[0], t = tokens.shape[1], a = Alphabet.esm
    var w = [Float](repeating: 0, count: b * t)
    for i in 0..<b {
        let keep = (0..<t).filter { ![a.clsIndex, a.eosIndex, a.padIndex].contains(tokens.values[i * t + $0]) }
        for j in keep { w[i * t + j] = 1 / Float(keep.count) }
    }
    return Tensor(shape: [b, 1, t], values: w).matmul(hidden).reshaped([b, hidden.shape[2]])
}
