import Foundation
import PLMData
import PLMKit
import PLMNN
import PLMTensor

/// `kind: mlm` — ESM/BERT masked language modelling.
///
/// Each residue token is selected with `probability` (15%); a selected token
/// becomes `<mask>` with `mask_fraction` (80%), a random standard amino acid
/// with `random_fraction` (10%), or stays as it is. The loss is cross-entropy
/// on the selected positions; `ece` (exp of the mean loss) and `accuracy` are
/// reported. Needs an encoder with an LM head.
public struct MaskedLMConfig: TargetPluginConfig {
    public static let category = PluginCategory.target
    public var probability: Double
    public var maskFraction: Double
    public var randomFraction: Double
    /// Source names this target scores (default: all).
    public var sources: [String]?

    enum CodingKeys: String, CodingKey {
        case probability, maskFraction = "mask_fraction", randomFraction = "random_fraction", sources
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        probability = try c.decodeIfPresent(Double.self, forKey: .probability) ?? 0.15
        maskFraction = try c.decodeIfPresent(Double.self, forKey: .maskFraction) ?? 0.8
        randomFraction = try c.decodeIfPresent(Double.self, forKey: .randomFraction) ?? 0.1
        sources = try c.decodeIfPresent([String].self, forKey: .sources)
        if !(probability > 0 && probability < 1) { throw recipeError(decoder, key: CodingKeys.probability, "must be in (0, 1)") }
        if maskFraction < 0 || randomFraction < 0 || maskFraction + randomFraction > 1 {
            throw recipeError(decoder, key: CodingKeys.maskFraction, "mask_fraction + random_fraction must lie in [0, 1]")
        }
    }

    public func makeTarget(_ ctx: BuildContext, encoder: ProteinEncoder) throws -> TrainingTarget {
        guard encoder.lmLogits(Tensor.zeros([1, 1, encoder.hiddenSize])) != nil else {
            throw TrainingError.plugin("target mlm needs an encoder with a language-model head")
        }
        return MaskedLMTarget(self)
    }
}

public final class MaskedLMTarget: TrainingTarget {
    let config: MaskedLMConfig
    public let name = "mlm"
    public let head: Module? = nil
    public let request = EncoderRequest()
    static let labelsKey = "mlm.labels"

    init(_ c: MaskedLMConfig) { config = c }

    public func applies(to source: String) -> Bool { config.sources?.contains(source) ?? true }

    /// Selects and corrupts positions; labels go to `batch.extras["mlm.labels"]` (-100 elsewhere).
    public func prepare(_ batch: inout Batch, rng: inout RNG) {
        var ids = batch.tokens.values
        var labels = [Int32](repeating: -100, count: ids.count)
        let a = Alphabet.esm
        let special: Set<Int32> = [a.clsIndex, a.eosIndex, a.padIndex, a.maskIndex]
        // One counter range per example of the global batch (2^24 draws each):
        // the draws of an example do not depend on padding or on which rank holds it.
        let base = rng.nextUInt64()
        let t = batch.tokens.shape[1]
        for row in 0..<batch.tokens.shape[0] {
            var rng = RNG(seed: base, offset: UInt64(batch.rowOffset + row) << 24)
            for i in (row * t)..<((row + 1) * t) where !special.contains(ids[i]) {
                guard Double(rng.nextFloat()) < config.probability else { continue }
                labels[i] = ids[i]
                let r = Double(rng.nextFloat())
                if r < config.maskFraction { ids[i] = a.maskIndex }
                else if r < config.maskFraction + config.randomFraction { ids[i] = Int32(4 + rng.nextInt(below: 20)) }  // L A G V … C
            }
        }
        batch.tokens = IndexTensor(shape: batch.tokens.shape, values: ids)
        batch.extras[Self.labelsKey] = IndexTensor(shape: batch.tokens.shape, values: labels)
    }

    public func loss(_ batch: Batch, output: EsmOutput, encoder: ProteinEncoder, context: ForwardContext) throws -> TargetResult {
        guard let labels = batch.extras[Self.labelsKey] else { throw TrainingError.plugin("mlm: batch was not prepared") }
        guard let logits = encoder.lmLogits(output.lastHiddenState) else { throw TrainingError.plugin("mlm: encoder has no LM head") }
        let v = logits.shape[2]
        let flat = logits.reshaped([-1, v])
        let targets = IndexTensor(shape: [labels.count], values: labels.values)
        let loss = flat.crossEntropy(targets: targets, ignoreIndex: -100)
        // accuracy on selected positions
        var correct = 0, n = 0
        let p = flat.data
        for (i, t) in labels.values.enumerated() where t != -100 {
            n += 1
            var best = 0
            for j in 1..<v where p[i * v + j] > p[i * v + best] { best = j }
            if best == Int(t) { correct += 1 }
        }
        let l = Double(loss.item())
        return TargetResult(loss: loss, metrics: ["ece": Foundation.exp(l), "accuracy": n > 0 ? Double(correct) / Double(n) : 0,
                                                  "selected": Double(n)], count: Double(n))
    }
}

extension PluginRegistry {
    /// Registers `mlm`.
    public func registerMaskedLM() throws {
        try register(MaskedLMConfig.self, kind: "mlm", summary: "masked language modelling (15%, 80/10/10)", module: "MaskedLM")
    }
}
