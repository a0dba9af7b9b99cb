import Foundation
import PLMData
import PLMKit
import PLMNN
import PLMTensor

// Downstream heads: `classification`, `residue_classification`, `regression`.
// Metrics are computed per batch and averaged by the trainer (weighted by
// examples for validation), which is exact for accuracy-like means over
// equal batches but only an approximation for macro-F1, Fmax, AUROC and
// correlations; whole-set metrics need a trainer hook that collects
// predictions over the validation set (not there yet).

/// Linear, or a one-hidden-layer MLP (`dense` -> GELU -> dropout -> `out_proj`),
/// on features [N, d] -> [N, outputs]. Dropout is applied to the input as well.
/// Weights are drawn as torch's `nn.Linear` default (Kaiming-uniform, bound
/// 1/sqrt(fan_in)) from `seed`; biases start at 0.
public final class DownstreamHead: Module {
    public let dense: Linear?
    public let outProj: Linear
    public let dropout: Float

    public init(inFeatures d: Int, hidden: Int, outputs: Int, dropout: Float, seed: UInt64) {
        self.dropout = dropout
        dense = hidden > 0 ? Linear(d, hidden) : nil
        outProj = Linear(hidden > 0 ? hidden : d, outputs)
        super.init()
        if let dense { _ = child("dense", dense) }
        _ = child("out_proj", outProj)
        var rng = RNG(seed: seed)
        for l in [dense, outProj].compactMap({ $0 }) {
            Init.kaimingUniformLinear(l.weight, fanIn: l.inFeatures, rng: &rng)
            if let b = l.bias { Init.constant(b, 0) }
        }
    }

    /// x [N, d] -> [N, outputs].
    public func callAsFunction(_ x: Tensor, context: ForwardContext) -> Tensor {
        var h = x.dropout(dropout, rng: &context.rng, training: isTraining)
        if let l = dense {
            h = l(h).gelu().dropout(dropout, rng: &context.rng, training: isTraining)
        }
        return outProj(h)
    }
}

/// How a protein-level head turns [B, T, d] into [B, d].
public enum Pooling: String, Codable, Sendable {
    /// Mean over residue tokens (not BOS/EOS/pad; multi-chain linkers excluded too).
    case mean
    /// The BOS (`<cls>`) token's state.
    case cls

    /// Pooling weights [B, 1, T] for `tokens` [B, T] (a constant: the gradient flows through `hidden`).
    func weights(_ tokens: IndexTensor) -> Tensor {
        let b = tokens.shape[0], t = tokens.shape[1]
        let a = Alphabet.esm
        var w = [Float](repeating: 0, count: b * t)
        for i in 0..<b {
            if self == .cls { w[i * t] = 1; continue }
            var n = 0
            for j in 0..<t where ![a.clsIndex, a.eosIndex, a.padIndex].contains(tokens.values[i * t + j]) { n += 1 }
            for j in 0..<t where ![a.clsIndex, a.eosIndex, a.padIndex].contains(tokens.values[i * t + j]) { w[i * t + j] = 1 / Float(max(n, 1)) }
        }
        return Tensor(shape: [b, 1, t], values: w)
    }

    /// hidden [B, T, d] -> [B, d].
    func pool(_ hidden: Tensor, tokens: IndexTensor) -> Tensor {
        weights(tokens).matmul(hidden).reshaped([hidden.shape[0], hidden.shape[2]])
    }
}

/// Settings shared by the three heads.
struct HeadSettings {
    var key: String
    var hidden: Int
    var dropout: Float
    var sources: [String]?

    static func decode<K: CodingKey>(_ c: KeyedDecodingContainer<K>, _ decoder: Decoder, defaultKey: String,
                                     key: K, hidden: K, dropout: K, sources: K) throws -> HeadSettings {
        let s = HeadSettings(key: try c.decodeIfPresent(String.self, forKey: key) ?? defaultKey,
                             hidden: try c.decodeIfPresent(Int.self, forKey: hidden) ?? 0,
                             dropout: try c.decodeIfPresent(Float.self, forKey: dropout) ?? 0.1,
                             sources: try c.decodeIfPresent([String].self, forKey: sources))
        if s.hidden < 0 { throw recipeError(decoder, key: hidden, "must be 0 (a Linear head) or a hidden width") }
        if !(0..<1).contains(s.dropout) { throw recipeError(decoder, key: dropout, "must be in [0, 1)") }
        return s
    }

    /// The protein-level label vectors of a batch, each of length `width`.
    func labels(_ batch: Batch, target: String, width: Int) throws -> [[Float]] {
        try batch.examples.map { e in
            guard let v = e.extras[key] else {
                throw TrainingError.plugin("\(target): example '\(e.id)' of source '\(batch.source)' has no label '\(key)' (labelled_csv `labels:` key)")
            }
            guard v.count == width else {
                throw TrainingError.plugin("\(target): label '\(key)' of '\(e.id)' has \(v.count) values, the head expects \(width)")
            }
            return v
        }
    }
}

// MARK: classification

/// `kind: classification` — protein-level classification on pooled encoder states.
///
/// Single-label (`loss: cross_entropy` or `focal`, softmax) or multi-label
/// (`multi_label: true`, `loss: bce` or `focal`, sigmoid). Metrics:
/// single-label `accuracy`, `macro_f1`, `auroc` (binary; one-vs-rest macro for
/// more classes); multi-label `fmax`, `auroc` (macro over labels).
public struct ClassificationConfig: TargetPluginConfig {
    public static let category = PluginCategory.target
    public enum Loss: String, Codable, Sendable { case crossEntropy = "cross_entropy", bce, focal }
    public var classes: Int
    public var multiLabel: Bool
    public var loss: Loss
    public var gamma: Float
    public var pooling: Pooling
    public var key: String
    public var hidden: Int
    public var dropout: Float
    public var sources: [String]?

    enum CodingKeys: String, CodingKey { case classes, multiLabel = "multi_label", loss, gamma, pooling, key, hidden, dropout, sources }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        classes = try c.decode(Int.self, forKey: .classes)
        multiLabel = try c.decodeIfPresent(Bool.self, forKey: .multiLabel) ?? false
        let l = try c.decodeIfPresent(String.self, forKey: .loss) ?? (multiLabel ? "bce" : "cross_entropy")
        guard let loss = Loss(rawValue: l) else { throw recipeError(decoder, key: CodingKeys.loss, "must be cross_entropy, bce or focal, got '\(l)'") }
        self.loss = loss
        gamma = try c.decodeIfPresent(Float.self, forKey: .gamma) ?? 2
        let p = try c.decodeIfPresent(String.self, forKey: .pooling) ?? "mean"
        guard let pooling = Pooling(rawValue: p) else { throw recipeError(decoder, key: CodingKeys.pooling, "must be mean or cls, got '\(p)'") }
        self.pooling = pooling
        let s = try HeadSettings.decode(c, decoder, defaultKey: "label", key: .key, hidden: .hidden, dropout: .dropout, sources: .sources)
        key = s.key; hidden = s.hidden; dropout = s.dropout; sources = s.sources
        if classes < (multiLabel ? 1 : 2) { throw recipeError(decoder, key: CodingKeys.classes, multiLabel ? "must be at least 1" : "must be at least 2") }
        if multiLabel && loss == .crossEntropy { throw recipeError(decoder, key: CodingKeys.loss, "multi_label uses bce or focal") }
        if !multiLabel && loss == .bce { throw recipeError(decoder, key: CodingKeys.loss, "bce needs multi_label: true (single-label: cross_entropy or focal)") }
        if gamma < 0 { throw recipeError(decoder, key: CodingKeys.gamma, "must be >= 0") }
    }

    public func makeTarget(_ ctx: BuildContext, encoder: ProteinEncoder) throws -> TrainingTarget {
        ClassificationTarget(self, head: DownstreamHead(inFeatures: encoder.hiddenSize, hidden: hidden, outputs: classes, dropout: dropout,
                                                   seed: ctx.seed ^ 0xC1A5_5E5))
    }
}

public final class ClassificationTarget: TrainingTarget {
    let config: ClassificationConfig
    let model: DownstreamHead
    public let name = "classification"
    public var head: Module? { model }
    public let request = EncoderRequest()
    var settings: HeadSettings { HeadSettings(key: config.key, hidden: config.hidden, dropout: config.dropout, sources: config.sources) }

    init(_ c: ClassificationConfig, head: DownstreamHead) { config = c; model = head }

    public func applies(to source: String) -> Bool { config.sources?.contains(source) ?? true }

    public func loss(_ batch: Batch, output: EsmOutput, encoder: ProteinEncoder, context: ForwardContext) throws -> TargetResult {
        let c = config.classes, b = batch.examples.count
        let logits = model(config.pooling.pool(output.lastHiddenState, tokens: batch.tokens), context: context)  // [B, C]
        let loss: Tensor
        let predictions: Predictions
        if config.multiLabel {
            let y = try settings.labels(batch, target: name, width: c)
            let yt = Tensor(shape: [b, c], values: y.flatMap { $0 })
            let bce = logits.softplus() - logits * yt  // log(1 + e^x) - y x
            if config.loss == .focal {
                let p = logits.sigmoid()
                let pt = p * yt + (1 - p) * (1 - yt)
                loss = (bce * (1 - pt).clamp(min: 1e-12).pow(config.gamma)).mean()
            } else {
                loss = bce.mean()
            }
            let probs = withNoGrad { logits.sigmoid() }.toArray().chunked(c).map { $0.map(Double.init) }
            predictions = Predictions(scores: probs, truth: y.map { $0.map(Double.init) })
        } else {
            let y = try settings.labels(batch, target: name, width: 1).map { Int($0[0]) }
            for (i, t) in y.enumerated() where t < -1 || t >= c {
                throw TrainingError.plugin("\(name): class \(t) of '\(batch.examples[i].id)' outside 0..<\(c) (classes: \(c))")
            }
            let targets = IndexTensor(shape: [b], values: y.map(Int32.init))
            if config.loss == .focal {
                let logp = logits.logSoftmax()
                let lpt = logp.gather(axis: 1, index: IndexTensor(shape: [b, 1], values: y.map { Int32(max($0, 0)) }))  // [B, 1]
                let mask = Tensor(shape: [b, 1], values: y.map { $0 >= 0 ? 1 : 0 })
                let w = (1 - lpt.exp()).clamp(min: 1e-12).pow(config.gamma)
                loss = (w * lpt * mask).sum() * (-1 / Float(max(y.filter { $0 >= 0 }.count, 1)))
            } else {
                loss = logits.crossEntropy(targets: targets, ignoreIndex: -1)
            }
            let p = DownstreamMetrics.softmaxRows(withNoGrad { logits }.toArray(), columns: c)
            let labelled = y.indices.filter { y[$0] >= 0 }
            predictions = Predictions(scores: labelled.map { p[$0] }, truth: labelled.map { [Double(y[$0])] })
        }
        return TargetResult(loss: loss, metrics: metrics(predictions), predictions: predictions)
    }

    /// Multi-label `fmax`, `auroc`; single-label `accuracy`, `macro_f1`,
    /// `auroc` (argmax of the class probabilities) — of one batch or a whole set.
    func metrics(_ p: Predictions) -> [String: Double] {
        var m: [String: Double] = [:]
        if config.multiLabel {
            let truth = p.truth.map { $0.map { $0 > 0.5 } }
            m["fmax"] = DownstreamMetrics.fmax(scores: p.scores, labels: truth)
            m["auroc"] = DownstreamMetrics.macroAUROC(scores: p.scores, labels: truth)
        } else {
            let truth = p.truth.map { Int($0[0]) }
            let guess = p.scores.map { row in row.indices.max(by: { row[$0] < row[$1] }) ?? 0 }
            m["accuracy"] = DownstreamMetrics.accuracy(predicted: guess, truth: truth)
            m["macro_f1"] = DownstreamMetrics.macroF1(predicted: guess, truth: truth)
            m["auroc"] = Self.auroc(p.scores, truth, classes: config.classes)
        }
        return m
    }

    static func auroc(_ p: [[Double]], _ truth: [Int], classes c: Int) -> Double? {
        c == 2 ? DownstreamMetrics.auroc(scores: p.map { $0[1] }, labels: truth.map { $0 == 1 })
               : DownstreamMetrics.macroAUROC(scores: p, labels: truth.map { t in (0..<c).map { $0 == t } })
    }

    public func truth(_ batch: Batch) throws -> [[Double]]? {
        if config.multiLabel { return try settings.labels(batch, target: name, width: config.classes).map { $0.map(Double.init) } }
        return try settings.labels(batch, target: name, width: 1).compactMap { $0[0] >= 0 ? [Double($0[0])] : nil }
    }

    /// Whole-set metrics; baseline: the training split's majority class
    /// (single-label) or per-label training frequencies as scores (multi-label).
    public func evaluationMetrics(_ p: Predictions, trainingTruth: [[Double]]) -> [String: Double]? {
        guard !p.truth.isEmpty else { return nil }
        var m = metrics(p)
        m["items"] = Double(p.truth.count)
        if config.multiLabel {
            if !trainingTruth.isEmpty {
                let freq = (0..<config.classes).map { j in trainingTruth.reduce(0) { $0 + $1[j] } / Double(trainingTruth.count) }
                m["baseline_fmax"] = DownstreamMetrics.fmax(scores: Array(repeating: freq, count: p.truth.count),
                                                            labels: p.truth.map { $0.map { $0 > 0.5 } })
            }
        } else {
            m.merge(majorityBaseline(truth: p.truth.map { Int($0[0]) }, trainingTruth: trainingTruth)) { a, _ in a }
        }
        return m
    }
}

/// `baseline_accuracy` and `baseline_macro_f1` of always answering the
/// training split's most frequent class (ties: the lower class index).
func majorityBaseline(truth: [Int], trainingTruth: [[Double]]) -> [String: Double] {
    guard !trainingTruth.isEmpty else { return [:] }
    var counts: [Int: Int] = [:]
    for t in trainingTruth { counts[Int(t[0]), default: 0] += 1 }
    let majority = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) })!.key
    let guess = Array(repeating: majority, count: truth.count)
    var m: [String: Double] = ["baseline_class": Double(majority)]
    m["baseline_accuracy"] = DownstreamMetrics.accuracy(predicted: guess, truth: truth)
    m["baseline_macro_f1"] = DownstreamMetrics.macroF1(predicted: guess, truth: truth)
    return m
}

// MARK: residue_classification

/// `kind: residue_classification` — a per-residue head (e.g. 3- or 8-class
/// secondary structure) on the encoder's last hidden state. Labels -1 (BOS,
/// EOS, padding, unlabelled residues) are ignored. Metrics: `accuracy` (Q3 for
/// 3 classes) and `macro_f1` over the labelled residues of the batch.
public struct ResidueClassificationConfig: TargetPluginConfig {
    public static let category = PluginCategory.target
    public var classes: Int
    public var key: String
    public var hidden: Int
    public var dropout: Float
    public var sources: [String]?

    enum CodingKeys: String, CodingKey { case classes, key, hidden, dropout, sources }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        classes = try c.decode(Int.self, forKey: .classes)
        let s = try HeadSettings.decode(c, decoder, defaultKey: "residue_label", key: .key, hidden: .hidden, dropout: .dropout, sources: .sources)
        key = s.key; hidden = s.hidden; dropout = s.dropout; sources = s.sources
        if classes < 2 { throw recipeError(decoder, key: CodingKeys.classes, "must be at least 2") }
    }

    public func makeTarget(_ ctx: BuildContext, encoder: ProteinEncoder) throws -> TrainingTarget {
        ResidueClassificationTarget(self, head: DownstreamHead(inFeatures: encoder.hiddenSize, hidden: hidden, outputs: classes, dropout: dropout,
                                                          seed: ctx.seed ^ 0x5E_51D0E))
    }
}

public final class ResidueClassificationTarget: TrainingTarget {
    let config: ResidueClassificationConfig
    let model: DownstreamHead
    public let name = "residue_classification"
    public var head: Module? { model }
    public let request = EncoderRequest()

    init(_ c: ResidueClassificationConfig, head: DownstreamHead) { config = c; model = head }

    public func applies(to source: String) -> Bool { config.sources?.contains(source) ?? true }

    /// Labels [B * T] in the batch's padded token layout (-1 where there is none).
    func labels(_ batch: Batch) throws -> [Int32] {
        let b = batch.tokens.shape[0], t = batch.tokens.shape[1]
        var out = [Int32](repeating: -1, count: b * t)
        for (i, e) in batch.examples.enumerated() {
            guard let f = e.features[config.key] else {
                throw TrainingError.plugin("\(name): example '\(e.id)' of source '\(batch.source)' has no per-residue label '\(config.key)' (labelled_csv `residue_labels:` key)")
            }
            guard f.shape == [e.tokens.count, 1] else {
                throw TrainingError.plugin("\(name): label '\(config.key)' of '\(e.id)' has shape \(f.shape), expected [\(e.tokens.count), 1]")
            }
            for (j, v) in f.values.enumerated() {
                let k = Int32(v)
                if k < -1 || k >= Int32(config.classes) {
                    throw TrainingError.plugin("\(name): class \(k) at token \(j) of '\(e.id)' outside 0..<\(config.classes)")
                }
                out[i * t + j] = k
            }
        }
        return out
    }

    public func loss(_ batch: Batch, output: EsmOutput, encoder: ProteinEncoder, context: ForwardContext) throws -> TargetResult {
        let h = output.lastHiddenState
        let y = try labels(batch)
        let logits = model(h.reshaped([-1, h.shape[2]]), context: context)  // [B*T, C]
        let loss = logits.crossEntropy(targets: IndexTensor(shape: [y.count], values: y), ignoreIndex: -1)
        let pred = DownstreamMetrics.argmax(withNoGrad { logits }.toArray(), columns: config.classes)
        let idx = y.indices.filter { y[$0] >= 0 }
        let predictions = Predictions(scores: idx.map { [Double(pred[$0])] }, truth: idx.map { [Double(y[$0])] })
        return TargetResult(loss: loss, metrics: Self.metrics(predictions), count: Double(idx.count),   // a mean over labelled residues
                            predictions: predictions)
    }

    /// `residues`, `accuracy` (Q3 for 3 classes), `macro_f1` of one batch or a
    /// whole set (scores here are the predicted class, one per residue).
    static func metrics(_ p: Predictions) -> [String: Double] {
        let truth = p.truth.map { Int($0[0]) }, guess = p.scores.map { Int($0[0]) }
        var m: [String: Double] = ["residues": Double(truth.count)]
        m["accuracy"] = DownstreamMetrics.accuracy(predicted: guess, truth: truth)
        m["macro_f1"] = DownstreamMetrics.macroF1(predicted: guess, truth: truth)
        return m
    }

    public func truth(_ batch: Batch) throws -> [[Double]]? {
        try labels(batch).compactMap { $0 >= 0 ? [Double($0)] : nil }
    }

    /// Whole-set accuracy (Q3 for 3 classes) and macro-F1 over every labelled
    /// residue; baseline: the training split's most frequent residue class.
    public func evaluationMetrics(_ p: Predictions, trainingTruth: [[Double]]) -> [String: Double]? {
        guard !p.truth.isEmpty else { return nil }
        var m = Self.metrics(p)
        m.merge(majorityBaseline(truth: p.truth.map { Int($0[0]) }, trainingTruth: trainingTruth)) { a, _ in a }
        return m
    }
}

// MARK: regression

/// `kind: regression` — protein-level regression (MSE) of `outputs` values
/// on pooled encoder states. Metrics: `spearman` and `pearson` (mean over
/// outputs when there are several; left out when a batch's values are constant).
public struct RegressionConfig: TargetPluginConfig {
    public static let category = PluginCategory.target
    public var outputs: Int
    public var pooling: Pooling
    public var key: String
    public var hidden: Int
    public var dropout: Float
    public var sources: [String]?

    enum CodingKeys: String, CodingKey { case outputs, pooling, key, hidden, dropout, sources }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        outputs = try c.decodeIfPresent(Int.self, forKey: .outputs) ?? 1
        let p = try c.decodeIfPresent(String.self, forKey: .pooling) ?? "mean"
        guard let pooling = Pooling(rawValue: p) else { throw recipeError(decoder, key: CodingKeys.pooling, "must be mean or cls, got '\(p)'") }
        self.pooling = pooling
        let s = try HeadSettings.decode(c, decoder, defaultKey: "label", key: .key, hidden: .hidden, dropout: .dropout, sources: .sources)
        key = s.key; hidden = s.hidden; dropout = s.dropout; sources = s.sources
        if outputs < 1 { throw recipeError(decoder, key: CodingKeys.outputs, "must be at least 1") }
    }

    public func makeTarget(_ ctx: BuildContext, encoder: ProteinEncoder) throws -> TrainingTarget {
        RegressionTarget(self, head: DownstreamHead(inFeatures: encoder.hiddenSize, hidden: hidden, outputs: outputs, dropout: dropout,
                                                seed: ctx.seed ^ 0x4E_6E55))
    }
}

public final class RegressionTarget: TrainingTarget {
    let config: RegressionConfig
    let model: DownstreamHead
    public let name = "regression"
    public var head: Module? { model }
    public let request = EncoderRequest()

    init(_ c: RegressionConfig, head: DownstreamHead) { config = c; model = head }

    public func applies(to source: String) -> Bool { config.sources?.contains(source) ?? true }

    public func loss(_ batch: Batch, output: EsmOutput, encoder: ProteinEncoder, context: ForwardContext) throws -> TargetResult {
        let k = config.outputs, b = batch.examples.count
        let settings = HeadSettings(key: config.key, hidden: config.hidden, dropout: config.dropout, sources: config.sources)
        let y = try settings.labels(batch, target: name, width: k)
        let pred = model(config.pooling.pool(output.lastHiddenState, tokens: batch.tokens), context: context)  // [B, K]
        let loss = pred.mseLoss(Tensor(shape: [b, k], values: y.flatMap { $0 }))
        let predictions = Predictions(scores: withNoGrad { pred }.toArray().chunked(k).map { $0.map(Double.init) },
                                      truth: y.map { $0.map(Double.init) })
        return TargetResult(loss: loss, metrics: Self.correlations(predictions, outputs: k), predictions: predictions)
    }

    /// `spearman` and `pearson`, means over the outputs where defined (left
    /// out when the values are constant), of one batch or a whole set.
    static func correlations(_ p: Predictions, outputs k: Int) -> [String: Double] {
        var sp: [Double] = [], pe: [Double] = []
        for j in 0..<k {
            let x = p.scores.map { $0[j] }, t = p.truth.map { $0[j] }
            if let v = DownstreamMetrics.spearman(x, t) { sp.append(v) }
            if let v = DownstreamMetrics.pearson(x, t) { pe.append(v) }
        }
        var m: [String: Double] = [:]
        if !sp.isEmpty { m["spearman"] = sp.reduce(0, +) / Double(sp.count) }
        if !pe.isEmpty { m["pearson"] = pe.reduce(0, +) / Double(pe.count) }
        return m
    }

    public func truth(_ batch: Batch) throws -> [[Double]]? {
        try HeadSettings(key: config.key, hidden: config.hidden, dropout: config.dropout, sources: config.sources)
            .labels(batch, target: name, width: config.outputs).map { $0.map(Double.init) }
    }

    /// Whole-set `spearman`, `pearson` (means over outputs) and `mse`;
    /// baseline: predicting the training split's mean (`baseline_mse`).
    public func evaluationMetrics(_ p: Predictions, trainingTruth: [[Double]]) -> [String: Double]? {
        guard !p.truth.isEmpty else { return nil }
        let k = config.outputs, n = Double(p.truth.count)
        var m = Self.correlations(p, outputs: k)
        m["items"] = n
        m["mse"] = zip(p.scores, p.truth).reduce(0) { acc, r in acc + zip(r.0, r.1).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } } / (n * Double(k))
        if !trainingTruth.isEmpty {
            let mean = (0..<k).map { j in trainingTruth.reduce(0) { $0 + $1[j] } / Double(trainingTruth.count) }
            m["baseline_mse"] = p.truth.reduce(0) { acc, r in acc + (0..<k).reduce(0) { $0 + (r[$1] - mean[$1]) * (r[$1] - mean[$1]) } } / (n * Double(k))
        }
        return m
    }
}

extension Array where Element == Float {
    func chunked(_ n: Int) -> [[Float]] { stride(from: 0, to: count, by: n).map { Array(self[$0..<Swift.min($0 + n, count)]) } }
}

extension PluginRegistry {
    /// Registers `labelled_csv`, `classification`, `residue_classification` and `regression`.
    public func registerDownstream() throws {
        try register(LabelledSourceConfig.self, kind: "labelled_csv", summary: "sequences with protein- and residue-level labels (CSV/TSV, or FASTA + labels)", module: "Downstream")
        try register(ClassificationConfig.self, kind: "classification", summary: "protein-level classification head (mean/CLS pooling; CE, BCE or focal)", module: "Downstream")
        try register(ResidueClassificationConfig.self, kind: "residue_classification", summary: "per-residue classification head (e.g. 3-class secondary structure)", module: "Downstream")
        try register(RegressionConfig.self, kind: "regression", summary: "protein-level regression head (MSE)", module: "Downstream")
    }
}
