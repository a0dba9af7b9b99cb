import Foundation
import PLMData
import PLMKit
import PLMNN
import PLMTensor

/// `kind: dynamics_regression` — SeqDance / ESMDance: regress MD and NMA
/// features from the encoder's final representations and attention maps.
///
/// ```yaml
/// targets:
///   - kind: dynamics_regression
///     heads: seqdance          # the head architecture (the only one so far)
///     weights: seqdance        # loss-weight table, see LossWeights
///     groups: {ATLAS: md}      # source group -> weight column (defaults: md, idrome, nma and SeqDance's source names)
///     sources: [md, nma]       # sources scored (default: all)
///     dropout: 0.1             # head dropout
///     pair_hidden: 240         # width of pair_middle_linear (default layers × heads, as SeqDance's `atten_dim`)
///     pair_impl: fused         # fused | autograd (see PairMid.swift)
///     pair_chunk: 4194304      # fused row-block size in floats
/// ```
/// Loss (SEQDANCE.md "Loss"): per feature and protein the RMSE over the
/// protein's valid elements (binned features over every bin), averaged over
/// the proteins of the batch that carry the feature, then Σ_f loss_f ·
/// weight[column(group), f]. Valid residues are those whose stored column 0
/// is not -1, valid pairs those whose stored channel 0 is not -1 (SeqDance's
/// masks). Every feature's batch loss is reported as a metric.
public struct DynamicsRegressionConfig: TargetPluginConfig {
    public static let category = PluginCategory.target
    public var heads: String
    public var weights: LossWeights
    public var groups: [String: String]
    public var sources: [String]?
    public var dropout: Float
    public var pairHidden: Int?
    public var pairImpl: PairImplementation
    public var pairChunk: Int

    enum CodingKeys: String, CodingKey {
        case heads, weights, groups, sources, dropout, pairHidden = "pair_hidden", pairImpl = "pair_impl", pairChunk = "pair_chunk"
    }

    public init(weights: LossWeights = LossWeights(), groups: [String: String] = [:], sources: [String]? = nil,
                dropout: Float = 0.1, pairHidden: Int? = nil, pairImpl: PairImplementation = .fused, pairChunk: Int = 1 << 22) {
        heads = "seqdance"
        self.weights = weights; self.groups = groups; self.sources = sources
        self.dropout = dropout; self.pairHidden = pairHidden; self.pairImpl = pairImpl; self.pairChunk = pairChunk
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        heads = try c.decodeIfPresent(String.self, forKey: .heads) ?? "seqdance"
        weights = try c.decodeIfPresent(LossWeights.self, forKey: .weights) ?? LossWeights()
        groups = try c.decodeIfPresent([String: String].self, forKey: .groups) ?? [:]
        sources = try c.decodeIfPresent([String].self, forKey: .sources)
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? 0.1
        pairHidden = try c.decodeIfPresent(Int.self, forKey: .pairHidden)
        let impl = try c.decodeIfPresent(String.self, forKey: .pairImpl) ?? "fused"
        guard let pi = PairImplementation(rawValue: impl) else {
            throw recipeError(decoder, key: CodingKeys.pairImpl, "must be 'fused' or 'autograd', got '\(impl)'")
        }
        pairImpl = pi
        pairChunk = try c.decodeIfPresent(Int.self, forKey: .pairChunk) ?? 1 << 22
        if heads != "seqdance" { throw recipeError(decoder, key: CodingKeys.heads, "unknown head set '\(heads)'; known: seqdance") }
        if !(0..<1).contains(dropout) { throw recipeError(decoder, key: CodingKeys.dropout, "must be in [0, 1)") }
        if let p = pairHidden, p < 1 { throw recipeError(decoder, key: CodingKeys.pairHidden, "must be at least 1") }
        if pairChunk < 1 { throw recipeError(decoder, key: CodingKeys.pairChunk, "must be at least 1") }
        let columns = Set(weights.table().keys)
        for (g, col) in groups where !columns.contains(col) {
            throw recipeError(decoder, key: CodingKeys.groups,
                              "group '\(g)' maps to '\(col)', which is not a weight column (\(columns.sorted().joined(separator: ", ")))")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(heads, forKey: .heads)
        try c.encode(weights, forKey: .weights)
        if !groups.isEmpty { try c.encode(groups, forKey: .groups) }
        try c.encodeIfPresent(sources, forKey: .sources)
        try c.encode(dropout, forKey: .dropout)
        try c.encodeIfPresent(pairHidden, forKey: .pairHidden)
        try c.encode(pairImpl.rawValue, forKey: .pairImpl)
        try c.encode(pairChunk, forKey: .pairChunk)
    }

    public func makeTarget(_ ctx: BuildContext, encoder: ProteinEncoder) throws -> TrainingTarget {
        let heads = DynamicsHeads(hidden: encoder.hiddenSize, layers: encoder.layerCount, heads: encoder.headCount,
                                  pairHidden: pairHidden, dropout: dropout, implementation: pairImpl, chunkElements: pairChunk)
        heads.initialize(seed: ctx.seed ^ 0x5EED_DA4C_E000_0001)
        return DynamicsTarget(self, heads: heads)
    }
}

/// The SeqDance heads and loss as a `TrainingTarget`.
public final class DynamicsTarget: TrainingTarget {
    public let config: DynamicsRegressionConfig
    public let heads: DynamicsHeads
    public let name = "dynamics"
    public var head: Module? { heads }
    public let request = EncoderRequest(attentions: true)
    let table: [String: [String: Float]]

    public init(_ c: DynamicsRegressionConfig, heads: DynamicsHeads) {
        config = c
        self.heads = heads
        table = c.weights.table()
    }

    public func applies(to source: String) -> Bool { config.sources?.contains(source) ?? true }

    /// The weight column a source group uses.
    public func column(for group: String) throws -> String {
        if let c = config.groups[group] { return c }
        if table[group] != nil { return group }
        if let c = SeqDanceSchema.defaultGroupColumns[group.lowercased()], table[c] != nil { return c }
        throw TrainingError.plugin("dynamics_regression: source group '\(group)' has no loss-weight column; "
            + "map it with groups: {\(group): md|idrome|nma} (columns: \(table.keys.sorted().joined(separator: ", ")))")
    }

    /// Weights of every feature (in `SeqDanceSchema.features` order) for a group.
    public func featureWeights(group: String) throws -> [Float] {
        let col = table[try column(for: group)]!
        return SeqDanceSchema.featureNames.map { col[$0] ?? 0 }
    }

    public func loss(_ batch: Batch, output: EsmOutput, encoder: ProteinEncoder, context: ForwardContext) throws -> TargetResult {
        let targets = try DynamicsBatchTargets(batch)
        let w = try featureWeights(group: batch.group)
        guard output.attentions.count == heads.layers else {
            throw TrainingError.plugin("dynamics_regression: the encoder returned \(output.attentions.count) attention maps, the heads need \(heads.layers)")
        }
        let h = output.lastHiddenState
        // Residue branch.
        let resPred = DynamicsTarget.activate(heads.residueLogits(h, rng: &context.rng), SeqDanceSchema.residueFeatures)
        let (resLoss, resValues) = targets.weightedLoss(.residue, prediction: resPred, weights: w)
        // Pair branch.
        let (q, k) = heads.pairQK(h, rng: &context.rng)
        let (w1, w2) = heads.middleWeights()
        let wm = heads.outputMiddleWeight()
        let u = q.matmul(w2, transposeB: true) + heads.pairMiddle.bias!.value      // [B, T, P]
        let v = -(k.matmul(w2, transposeB: true))                                  // [B, T, P]
        let attn = heads.attentionLogits(output.attentions)                        // [B, T, T, O]
        let bias = heads.pairOutput.bias!.value
        var pairLoss: Tensor, pairValues: [Double?]
        switch heads.implementation {
        case .autograd:
            let logits = pairMidAutograd(q: q, k: k, u: u, v: v, w1: w1, wm: wm) + attn + bias
            (pairLoss, pairValues) = targets.weightedLoss(.pair, prediction: DynamicsTarget.activate(logits, SeqDanceSchema.pairFeatures), weights: w)
        case .fused:
            let fused = FusedPairMid(q: q, k: k, u: u, v: v, w1: w1, wm: wm, lengths: batch.examples.map(\.tokens.count),
                                     chunkElements: heads.chunkElements)
            let y = fused.forward()
            let logits = y + attn + bias
            (pairLoss, pairValues) = targets.weightedLoss(.pair, prediction: DynamicsTarget.activate(logits, SeqDanceSchema.pairFeatures), weights: w)
            if GradMode.isEnabled && [q, k, u, v, w1, wm].contains(where: \.requiresGrad) {
                // dL/dY from the pair loss alone, on a leaf that shares Y's storage.
                let leaf = Tensor(shape: y.shape, storage: y.storage, requiresGrad: true)
                let local = leaf + attn.detached() + bias.detached()
                let (l, _) = targets.weightedLoss(.pair, prediction: DynamicsTarget.activate(local, SeqDanceSchema.pairFeatures), weights: w)
                if l.requiresGrad {
                    l.backward()
                    if let g = leaf.grad { pairLoss = pairLoss + fused.surrogate(g) }
                }
            }
        }
        var metrics: [String: Double] = [:]
        for (f, val) in zip(SeqDanceSchema.features, resValues + pairValues) { if let val { metrics[f.name] = val } }
        return TargetResult(loss: resLoss + pairLoss, metrics: metrics)
    }

    /// Output activations per feature over the last axis: logits [..., C] -> predictions [..., C].
    public static func activate(_ logits: Tensor, _ features: [DynamicsFeature]) -> Tensor {
        var pieces: [Tensor] = []
        var i = 0
        while i < features.count {
            // Merge neighbouring single-column features with the same activation into one slice.
            var j = i
            while j + 1 < features.count, features[j + 1].activation == features[i].activation, features[i].activation != .softmax,
                  features[j + 1].columns.lowerBound == features[j].columns.upperBound { j += 1 }
            let x = logits.slice(axis: -1, start: features[i].columns.lowerBound, end: features[j].columns.upperBound)
            switch features[i].activation {
            case .sigmoid: pieces.append(x.sigmoid())
            case .softmax: pieces.append(x.softmax())
            case .softplus: pieces.append(x.softplus(beta: 1, threshold: 2))
            case .signedSigmoid: pieces.append(x.sigmoid() * 2 - 1)
            }
            i = j + 1
        }
        return pieces.count == 1 ? pieces[0] : Tensor.concat(pieces, axis: -1)
    }
}

/// A batch's targets in head space: residue [B, T, 50], pair [B, T, T, 13], masks and counts.
struct DynamicsBatchTargets {
    let b: Int, t: Int
    var residue: [Float], residueMask: [Float]      // [B, T, R], [B, T]
    var pair: [Float], pairMask: [Float]            // [B, T, T, O], [B, T, T]
    var validRows: [Int], validPairs: [Int]         // per protein
    var present: [[Bool]]                           // [B][F]

    init(_ batch: Batch) throws {
        b = batch.examples.count
        t = batch.tokens.shape[1]
        let R = SeqDanceSchema.residueColumns, O = SeqDanceSchema.pairColumns, F = SeqDanceSchema.features.count
        residue = [Float](repeating: 0, count: b * t * R)
        residueMask = [Float](repeating: 0, count: b * t)
        pair = [Float](repeating: 0, count: b * t * t * O)
        pairMask = [Float](repeating: 0, count: b * t * t)
        validRows = [Int](repeating: 0, count: b)
        validPairs = [Int](repeating: 0, count: b)
        present = [[Bool]](repeating: [Bool](repeating: false, count: F), count: b)
        let invalid = SeqDanceTokenSpace.invalid
        for (bi, e) in batch.examples.enumerated() {
            guard let res = e.features[DynamicsFeatureKeys.residue], let pr = e.features[DynamicsFeatureKeys.pair] else {
                throw TrainingError.plugin("dynamics_regression: example '\(e.id)' of source '\(batch.source)' has no '\(DynamicsFeatureKeys.residue)'/'\(DynamicsFeatureKeys.pair)' features (use an hdf5_features source)")
            }
            let te = e.tokens.count
            guard res.shape.count == 2, res.shape[0] == te, pr.shape.count == 3, pr.shape[0] == te, pr.shape[1] == te,
                  let kind = SeqDanceFeatureKind(residueChannels: res.shape[1], pairChannels: pr.shape[2]) else {
                throw TrainingError.plugin("dynamics_regression: example '\(e.id)': features residue \(res.shape) and pair \(pr.shape) do not fit \(te) tokens as SeqDance md ([T, 47], [T, T, 10]) or nma ([T, 3], [T, T, 3])")
            }
            let cr = res.shape[1], cp = pr.shape[2]
            let ro = SeqDanceSchema.residueOffset(kind), po = SeqDanceSchema.pairOffset(kind)
            var rows = 0, pairs = 0
            residue.withUnsafeMutableBufferPointer { dst in
                residueMask.withUnsafeMutableBufferPointer { m in
                    res.values.withUnsafeBufferPointer { src in
                        for i in 0..<te where src[i * cr] != invalid {
                            m[bi * t + i] = 1
                            rows += 1
                            for c in 0..<cr { dst[(bi * t + i) * R + ro + c] = src[i * cr + c] }
                        }
                    }
                }
            }
            pair.withUnsafeMutableBufferPointer { dst in
                pairMask.withUnsafeMutableBufferPointer { m in
                    pr.values.withUnsafeBufferPointer { src in
                        for i in 0..<te {
                            for j in 0..<te where src[(i * te + j) * cp] != invalid {
                                m[(bi * t + i) * t + j] = 1
                                pairs += 1
                                let d = ((bi * t + i) * t + j) * O + po, s = (i * te + j) * cp
                                for c in 0..<cp { dst[d + c] = src[s + c] }
                            }
                        }
                    }
                }
            }
            validRows[bi] = rows
            validPairs[bi] = pairs
            for f in SeqDanceSchema.features(of: kind) {
                present[bi][f] = SeqDanceSchema.features[f].level == .residue ? rows > 0 : pairs > 0
            }
        }
    }

    /// Σ_f weight_f · mean over proteins carrying f of RMSE_f, for the features of one level;
    /// also each feature's batch loss (nil where no protein carries it).
    func weightedLoss(_ level: DynamicsLevel, prediction: Tensor, weights: [Float]) -> (Tensor, [Double?]) {
        let featureIdx = SeqDanceSchema.features.indices.filter { SeqDanceSchema.features[$0].level == level }
        let nf = featureIdx.count
        let sse: Tensor                                                   // [B, nf]
        if level == .residue {
            let R = SeqDanceSchema.residueColumns
            let d = (prediction - Tensor(shape: [b, t, R], values: residue)) * Tensor(shape: [b, t, 1], values: residueMask)
            var group = [Float](repeating: 0, count: R * nf)               // column -> feature
            for (fi, f) in featureIdx.enumerated() { for c in SeqDanceSchema.features[f].columns { group[c * nf + fi] = 1 } }
            sse = (d * d).sum(axis: 1).matmul(Tensor(shape: [R, nf], values: group))
        } else {
            let O = SeqDanceSchema.pairColumns
            let d = (prediction - Tensor(shape: [b, t, t, O], values: pair)) * Tensor(shape: [b, t, t, 1], values: pairMask)
            sse = (d * d).sum(axes: [1, 2])                                // pair features are single columns 0..<13
        }
        var invCount = [Float](repeating: 0, count: b * nf), coef = [Float](repeating: 0, count: b * nf)
        var carriers = [Int](repeating: 0, count: nf)
        for (fi, f) in featureIdx.enumerated() { for bi in 0..<b where present[bi][f] { carriers[fi] += 1 } }
        for (fi, f) in featureIdx.enumerated() {
            let width = SeqDanceSchema.features[f].columns.count
            for bi in 0..<b where present[bi][f] {
                let n = level == .residue ? validRows[bi] * width : validPairs[bi]
                invCount[bi * nf + fi] = 1 / Float(n)
                coef[bi * nf + fi] = weights[f] / Float(carriers[fi])
            }
        }
        // clamp: a protein predicted exactly (mse 0) gets no gradient instead of sqrt'(0) = inf.
        let rmse = (sse * Tensor(shape: [b, nf], values: invCount)).clamp(min: 1e-12).sqrt()
        let loss = (rmse * Tensor(shape: [b, nf], values: coef)).sum()
        let r = rmse.toArray()
        var values: [Double?] = []
        for (fi, f) in featureIdx.enumerated() {
            guard carriers[fi] > 0 else { values.append(nil); continue }
            var s = 0.0
            for bi in 0..<b where present[bi][f] { s += Double(r[bi * nf + fi]) }
            values.append(s / Double(carriers[fi]))
        }
        return (loss, values)
    }
}

extension PluginRegistry {
    /// Registers `dynamics_regression` (target) and `hdf5_features` (data source).
    public func registerDynamicsRegression() throws {
        try register(DynamicsRegressionConfig.self, kind: "dynamics_regression",
                     summary: "SeqDance heads: MD/NMA residue and pair features from representations + attention maps", module: "DynamicsRegression")
        try register(HDF5FeatureSourceConfig.self, kind: "hdf5_features",
                     summary: "proteins and dynamics features from a SeqDance-layout HDF5 store", module: "DynamicsRegression")
    }
}
