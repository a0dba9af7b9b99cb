import Foundation
import PLMData
import PLMKit
import PLMNN
import PLMTensor

/// `kind: contrastive_structure` — S-PLM's sequence-structure contrastive objective (docs/SPLM.md).
///
/// For a batch of N proteins with CA coordinates (feature `ca`, e.g. from a
/// `kind: structures` source):
/// - structure side: CA distance map -> channels `(d_c - clip(D, 0, d_c)) / d_c`
///   (`distance_thresholds`, default three channels at 22 A) -> non-overlapping
///   `patch_size` x `patch_size` patches -> Linear patch embedding + 2-D
///   positions (`positions: sinusoidal | learned`) -> `depth` pre-LN
///   transformer blocks (`window` > 0: windowed attention in all but the last
///   block) -> masked mean over the patches that overlap the map;
/// - sequence side: the encoder's last hidden state averaged over non-pad
///   tokens (BOS and EOS included, as S-PLM);
/// - both sides: `Linear(in, projection_hidden) -> BatchNorm1d -> ReLU ->
///   Linear(projection_hidden, projection_dim)` (the paper: 4096 and 256;
///   the defaults here, 256 and 128, are sized for CPUs);
/// - loss: NT-Xent over the 2N normalised embeddings at `temperature` (0.05).
///
/// Metrics: `top1_seq_to_struct` (fraction of sequences whose most similar
/// structure in the batch is their own), `top1_struct_to_seq`, and
/// `positive_cosine` (mean cosine of the two views). Training needs batches
/// of at least 2 (BatchNorm and negatives); MoCo-style queues are not implemented.
public struct ContrastiveStructureConfig: TargetPluginConfig {
    public static let category = PluginCategory.target
    public var temperature: Float
    public var distanceThresholds: [Float]
    public var patchSize: Int
    public var dim: Int
    public var depth: Int
    public var heads: Int
    public var intermediateSize: Int?
    public var window: Int
    public var positions: String
    public var dropout: Float
    public var projectionHidden: Int
    public var projectionDim: Int
    /// Source names this target scores (default: all).
    public var sources: [String]?

    enum CodingKeys: String, CodingKey {
        case temperature, distanceThresholds = "distance_thresholds", patchSize = "patch_size", dim, depth, heads
        case intermediateSize = "intermediate_size", window, positions, dropout
        case projectionHidden = "projection_hidden", projectionDim = "projection_dim", sources
    }

    public init() {
        temperature = 0.05; distanceThresholds = [22, 22, 22]; patchSize = 16; dim = 64; depth = 2; heads = 4
        intermediateSize = nil; window = 0; positions = "sinusoidal"; dropout = 0
        projectionHidden = 256; projectionDim = 128; sources = nil
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ContrastiveStructureConfig()
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? d.temperature
        distanceThresholds = try c.decodeIfPresent([Float].self, forKey: .distanceThresholds) ?? d.distanceThresholds
        patchSize = try c.decodeIfPresent(Int.self, forKey: .patchSize) ?? d.patchSize
        dim = try c.decodeIfPresent(Int.self, forKey: .dim) ?? d.dim
        depth = try c.decodeIfPresent(Int.self, forKey: .depth) ?? d.depth
        heads = try c.decodeIfPresent(Int.self, forKey: .heads) ?? d.heads
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize)
        window = try c.decodeIfPresent(Int.self, forKey: .window) ?? d.window
        positions = try c.decodeIfPresent(String.self, forKey: .positions) ?? d.positions
        dropout = try c.decodeIfPresent(Float.self, forKey: .dropout) ?? d.dropout
        projectionHidden = try c.decodeIfPresent(Int.self, forKey: .projectionHidden) ?? d.projectionHidden
        projectionDim = try c.decodeIfPresent(Int.self, forKey: .projectionDim) ?? d.projectionDim
        sources = try c.decodeIfPresent([String].self, forKey: .sources)
        func bad(_ k: CodingKeys, _ m: String) -> Error { recipeError(decoder, key: k, m) }
        if !(temperature > 0) { throw bad(.temperature, "must be positive, got \(temperature)") }
        if distanceThresholds.isEmpty || distanceThresholds.contains(where: { !($0 > 0) }) {
            throw bad(.distanceThresholds, "give one or more positive distances (Angstrom)")
        }
        if patchSize < 1 { throw bad(.patchSize, "must be at least 1, got \(patchSize)") }
        if depth < 1 { throw bad(.depth, "must be at least 1, got \(depth)") }
        if heads < 1 || dim < 1 || dim % heads != 0 { throw bad(.heads, "must divide dim \(dim), got \(heads)") }
        if let i = intermediateSize, i < 1 { throw bad(.intermediateSize, "must be at least 1, got \(i)") }
        if window < 0 { throw bad(.window, "must be 0 (global attention) or a window side in patches, got \(window)") }
        if !["sinusoidal", "learned"].contains(positions) { throw bad(.positions, "must be 'sinusoidal' or 'learned', got '\(positions)'") }
        if positions == "sinusoidal" && dim % 4 != 0 { throw bad(.dim, "sinusoidal 2-D positions need dim divisible by 4, got \(dim)") }
        if !(dropout >= 0 && dropout < 1) { throw bad(.dropout, "must be in [0, 1)") }
        if projectionHidden < 1 { throw bad(.projectionHidden, "must be at least 1") }
        if projectionDim < 1 { throw bad(.projectionDim, "must be at least 1") }
    }

    /// Encoder settings for residue windows of at most `maxLength`.
    public func encoderSettings(maxLength: Int) -> StructureEncoderSettings {
        StructureEncoderSettings(thresholds: distanceThresholds, patchSize: patchSize, dim: dim, depth: depth, heads: heads,
                                 intermediate: intermediateSize, window: window, positions: positions,
                                 maxGrid: DistanceMapPatches.grid(length: maxLength, patch: patchSize, multiple: window),
                                 dropout: dropout)
    }

    public func makeTarget(_ ctx: BuildContext, encoder: ProteinEncoder) throws -> TrainingTarget {
        let head = ContrastiveHead(sequenceDim: encoder.hiddenSize, settings: encoderSettings(maxLength: ctx.maxLength),
                                   projectionHidden: projectionHidden, projectionDim: projectionDim)
        head.initialize(seed: ctx.seed ^ 0x5350_4C4D)  // "SPLM"
        let t = ContrastiveStructureTarget(self, head: head)
        t.communicator = ctx.communicator
        return t
    }
}

/// The trainable parts of the objective: `structure_encoder`, `sequence_projector`, `structure_projector`.
public final class ContrastiveHead: Module {
    public let structureEncoder: DistanceMapEncoder
    public let sequenceProjector: Projector
    public let structureProjector: Projector

    public init(sequenceDim: Int, settings: StructureEncoderSettings, projectionHidden: Int, projectionDim: Int) {
        structureEncoder = DistanceMapEncoder(settings)
        sequenceProjector = Projector(input: sequenceDim, hidden: projectionHidden, output: projectionDim)
        structureProjector = Projector(input: settings.dim, hidden: projectionHidden, output: projectionDim)
        super.init()
        child("structure_encoder", structureEncoder)
        child("sequence_projector", sequenceProjector)
        child("structure_projector", structureProjector)
    }

    /// PyTorch's defaults: Linear weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in));
    /// LayerNorm and BatchNorm 1 / 0; learned positions N(0, 0.02).
    public func initialize(seed: UInt64) {
        var rng = RNG(seed: seed)
        for (_, m) in namedModules() {
            if let l = m as? Linear {
                Init.kaimingUniformLinear(l.weight, fanIn: l.inFeatures, rng: &rng)
                if let b = l.bias { Init.kaimingUniformLinear(b, fanIn: l.inFeatures, rng: &rng) }
            } else if let n = m as? LayerNorm {
                Init.constant(n.weight, 1); Init.constant(n.bias, 0)
            }
        }
        if let r = structureEncoder.rowEmbeddings, let c = structureEncoder.colEmbeddings {
            Init.normal(r, std: 0.02, rng: &rng); Init.normal(c, std: 0.02, rng: &rng)
        }
    }
}

/// Sequence-structure contrastive target (see `ContrastiveStructureConfig`).
public final class ContrastiveStructureTarget: TrainingTarget {
    public let config: ContrastiveStructureConfig
    public let model: ContrastiveHead
    public let name = "contrastive"
    public var head: Module? { model }
    public let request = EncoderRequest()
    /// Data-parallel peers: embeddings of every rank are gathered, so the
    /// negatives span the global batch (as distributed SimCLR).
    public var communicator: Communicator = SingleProcessCommunicator()

    public init(_ c: ContrastiveStructureConfig, head: ContrastiveHead) { config = c; model = head }

    public func applies(to source: String) -> Bool { config.sources?.contains(source) ?? true }

    /// CA coordinates [L * 3] of an example's residues (token rows 1 ..< T-1 of feature `ca`).
    /// `user` names the plugin in errors; `hint` says how to fix a missing `ca`.
    public static func caCoordinates(_ e: Example, user: String = "contrastive_structure",
                                     hint: String = "use a 'structures' data source or restrict the target with 'sources:'") throws -> [Float] {
        let t = e.tokens.count
        if let f = e.features[StructureSourceConfig.caFeature] {
            guard f.shape == [t, 3] else {
                throw TrainingError.plugin("\(user): example '\(e.id)' has feature 'ca' of shape \(f.shape), expected [\(t), 3]")
            }
            return Array(f.values[3..<(3 * (t - 1))])
        }
        // Examples made outside a `structures` source may carry uncropped coordinates in extras.
        if let x = e.extras[StructureSourceConfig.caFeature], x.count == 3 * (t - 2) { return x }
        throw TrainingError.plugin("\(user): example '\(e.id)' has no CA coordinates (feature 'ca'); " + hint)
    }

    /// Mean of `hidden` [B, T, d] over the non-pad tokens of `tokens` [B, T] (BOS/EOS included) -> [B, d].
    public static func sequenceEmbedding(_ hidden: Tensor, tokens: IndexTensor, padIndex: Int32 = Alphabet.esm.padIndex) -> Tensor {
        let b = hidden.shape[0], t = hidden.shape[1]
        var keep = [Float](repeating: 0, count: b * t), inv = [Float](repeating: 0, count: b)
        for r in 0..<b {
            var c = 0
            for j in 0..<t where tokens.values[r * t + j] != padIndex { keep[r * t + j] = 1; c += 1 }
            inv[r] = 1 / Float(Swift.max(c, 1))
        }
        return (hidden * Tensor(shape: [b, t, 1], values: keep)).sum(axis: 1) * Tensor(shape: [b, 1], values: inv)
    }

    public func loss(_ batch: Batch, output: EsmOutput, encoder: ProteinEncoder, context: ForwardContext) throws -> TargetResult {
        let comm = communicator
        let n = batch.examples.count * comm.size
        if model.isTraining && n < 2 {
            throw TrainingError.plugin("contrastive_structure: a training batch needs at least 2 proteins (BatchNorm, negatives); set training.batch_size >= 2")
        }
        let ca = try batch.examples.map { try Self.caCoordinates($0) }
        let needed = model.structureEncoder.grid(forLength: ca.map { $0.count / 3 }.max() ?? 1)
        if model.structureEncoder.rowEmbeddings != nil && needed > model.structureEncoder.settings.maxGrid {
            throw TrainingError.plugin("contrastive_structure: learned positions cover \(model.structureEncoder.settings.maxGrid) patches per side "
                                       + "(data.max_length), this batch needs \(needed); use positions: sinusoidal or a larger max_length")
        }
        // Distributed: the projections of every rank's examples (synchronised
        // BatchNorm), so the loss covers the global batch — its negatives span all
        // ranks — and is the same on every rank (replicated; see Projector.global).
        let replicated = model.isTraining && comm.isDistributed
        let structure = model.structureProjector.global(model.structureEncoder.encode(ca, context: context), communicator: comm)
        let sequence = model.sequenceProjector.global(Self.sequenceEmbedding(output.lastHiddenState, tokens: batch.tokens), communicator: comm)
        let loss = NTXent.loss(structure, sequence, temperature: config.temperature)
        let positive = withNoGrad { Tensor.cosineSimilarity(structure, sequence).mean().item() }
        return TargetResult(loss: loss, metrics: [
            "top1_seq_to_struct": NTXent.top1(queries: sequence, keys: structure),
            "top1_struct_to_seq": NTXent.top1(queries: structure, keys: sequence),
            "positive_cosine": Double(positive),
        ], replicated: replicated)
    }
}

extension PluginRegistry {
    /// Registers `contrastive_structure` (target) and `structures` (data source).
    public func registerContrastiveStructure() throws {
        try register(ContrastiveStructureConfig.self, kind: "contrastive_structure",
                     summary: "S-PLM sequence-structure contrastive learning (distance-map ViT, NT-Xent)", module: "ContrastiveStructure")
        try register(StructureSourceConfig.self, kind: "structures",
                     summary: "protein chains (sequence + CA coordinates) from PDB/mmCIF files", module: "ContrastiveStructure")
    }
}
