import ContrastiveStructure
import Foundation
import PLMData
import PLMKit
import PLMNN
import PLMTensor

/// `kind: multiview_contrast` — GearNet's multiview contrastive pre-training
/// (3DProtLM's objective).
///
/// `prepare` replaces a batch of N proteins by 2N views (views 1 of every
/// protein, then views 2): each view is, with probability `crop_probability`
/// (0.5), a random contiguous crop of `crop_length` (50) residues (shorter
/// proteins are kept whole), otherwise the whole protein with a random
/// `edge_mask` (0.15) fraction of its residue-graph edges removed (applied by
/// the encoder when it builds the graph). The encoder's protein features go
/// through a 2-layer MLP head (`Linear(F, hidden) -> ReLU -> Linear(hidden,
/// output)`), and the loss is InfoNCE/NT-Xent over the 2N projections at
/// `temperature` (0.07): each view's only positive is the other view of its
/// protein. Other targets on the same source see the 2N views too (give
/// them their own sources). Metrics: `top1` (view 1 -> view 2 retrieval),
/// `positive_cosine`.
public struct MultiviewContrastConfig: TargetPluginConfig {
    public static let category = PluginCategory.target
    public var cropLength: Int
    public var cropProbability: Float
    public var edgeMask: Float
    public var temperature: Float
    public var hidden: Int
    public var output: Int
    public var sources: [String]?

    enum CodingKeys: String, CodingKey {
        case cropLength = "crop_length", cropProbability = "crop_probability", edgeMask = "edge_mask", temperature, hidden, output, sources
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        cropLength = try c.decodeIfPresent(Int.self, forKey: .cropLength) ?? 50
        cropProbability = try c.decodeIfPresent(Float.self, forKey: .cropProbability) ?? 0.5
        edgeMask = try c.decodeIfPresent(Float.self, forKey: .edgeMask) ?? 0.15
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? 0.07
        hidden = try c.decodeIfPresent(Int.self, forKey: .hidden) ?? 256
        output = try c.decodeIfPresent(Int.self, forKey: .output) ?? 128
        sources = try c.decodeIfPresent([String].self, forKey: .sources)
        func bad(_ k: CodingKeys, _ m: String) -> Error { recipeError(decoder, key: k, m) }
        if cropLength < 1 { throw bad(.cropLength, "must be at least 1, got \(cropLength)") }
        if !(0...1).contains(cropProbability) { throw bad(.cropProbability, "must be in [0, 1], got \(cropProbability)") }
        if !(edgeMask >= 0 && edgeMask < 1) { throw bad(.edgeMask, "must be in [0, 1), got \(edgeMask)") }
        if !(temperature > 0) { throw bad(.temperature, "must be positive, got \(temperature)") }
        if hidden < 1 { throw bad(.hidden, "must be at least 1") }
        if output < 1 { throw bad(.output, "must be at least 1") }
    }

    public func makeTarget(_ ctx: BuildContext, encoder: ProteinEncoder) throws -> TrainingTarget {
        let f = proteinFeatureSize(of: encoder)
        let head = MultiviewHead(input: f, hidden: hidden, output: output)
        initializeGraphModule(head, seed: ctx.seed ^ 0x4D56_4357)  // "MVCW"
        return MultiviewContrastTarget(self, head: head)
    }
}

/// `fc1` -> ReLU -> `fc2`.
public final class MultiviewHead: Module {
    public let fc1: Linear, fc2: Linear
    public init(input: Int, hidden: Int, output: Int) {
        fc1 = Linear(input, hidden); fc2 = Linear(hidden, output)
        super.init()
        child("fc1", fc1); child("fc2", fc2)
    }
    public func callAsFunction(_ x: Tensor) -> Tensor { fc2(fc1(x).relu()) }
}

public final class MultiviewContrastTarget: TrainingTarget {
    public let config: MultiviewContrastConfig
    public let model: MultiviewHead
    public let name = "multiview"
    public var head: Module? { model }
    public let request = EncoderRequest()

    public init(_ c: MultiviewContrastConfig, head: MultiviewHead) { config = c; model = head }

    public func applies(to source: String) -> Bool { config.sources?.contains(source) ?? true }

    /// One random view of `e`.
    public func view(_ e: Example, rng: inout RNG) -> Example {
        let n = e.tokens.count - 2
        if rng.nextFloat() < config.cropProbability {
            guard n > config.cropLength else { return e }
            var v = e.cropped(start: rng.nextInt(below: n - config.cropLength + 1), length: config.cropLength)
            v.id = e.id + "#crop"
            return v
        }
        var v = e
        v.extras[PackedGraph.edgeMaskKey] = [config.edgeMask, Float(rng.nextInt(below: 1 << 24))]
        v.id = e.id + "#edgemask"
        return v
    }

    public func prepare(_ batch: inout Batch, rng: inout RNG) {
        let first = batch.examples.map { view($0, rng: &rng) }
        let second = batch.examples.map { view($0, rng: &rng) }
        batch = Batch(source: batch.source, group: batch.group, examples: first + second)
    }

    public func loss(_ batch: Batch, output: EsmOutput, encoder: ProteinEncoder, context: ForwardContext) throws -> TargetResult {
        let m = batch.examples.count
        guard m % 2 == 0 else { throw TrainingError.plugin("multiview_contrast: expected 2N views, got \(m) examples") }
        let n = m / 2
        if model.isTraining && n < 2 {
            throw TrainingError.plugin("multiview_contrast: a training batch needs at least 2 proteins (negatives); set training.batch_size >= 2")
        }
        let features = proteinFeatures(of: encoder, output, tokens: batch.tokens)
        let z = model(features)
        let a = z.gatherRows((0..<n).map(Int32.init)), b = z.gatherRows((n..<m).map(Int32.init))
        let loss = NTXent.loss(a, b, temperature: config.temperature)
        let positive = withNoGrad { Tensor.cosineSimilarity(a, b).mean().item() }
        return TargetResult(loss: loss, metrics: ["top1": NTXent.top1(queries: a, keys: b), "positive_cosine": Double(positive)])
    }
}

extension PluginRegistry {
    /// Registers `residue_graph` and `fusion` (encoders), `multiview_contrast` (target)
    /// and `labelled_structures` (data source).
    public func registerGraphFusion() throws {
        try register(ResidueGraphEncoderConfig.self, kind: "residue_graph",
                     summary: "GearNet-style relational graph encoder over the 7-relation residue graph", module: "GraphFusion")
        try register(FusionEncoderConfig.self, kind: "fusion",
                     summary: "3DProtLM/FusionProt: ESM-2 + residue graph linked by a structure token", module: "GraphFusion")
        try register(MultiviewContrastConfig.self, kind: "multiview_contrast",
                     summary: "GearNet multiview contrast (crop / edge-mask views, InfoNCE)", module: "GraphFusion")
        try register(LabelledStructuresConfig.self, kind: "labelled_structures",
                     summary: "structures (sequence + CA) with protein-level labels from a CSV", module: "GraphFusion")
    }
}
