import Foundation
import PLMData
import PLMNN
import PLMTensor

// The extension points of PLMKit. A recipe names one encoder, one tuning
// strategy, one or more targets and data sources, an optimizer and a
// schedule; each is a plugin whose config type decodes its recipe section.

/// A recipe section's decoded configuration. `Encodable` so that
/// `plm recipe show` can print it fully resolved (defaults filled in).
public protocol PluginConfig: Codable {
    static var category: PluginCategory { get }
}

/// What the trainer hands to plugin factories.
public struct BuildContext {
    public var seed: UInt64
    public var recipeDirectory: URL
    public var maxLength: Int
    public var log: (String) -> Void
    /// The run's data-parallel peers (targets that gather across ranks use it).
    public var communicator: Communicator
    public init(seed: UInt64, recipeDirectory: URL, maxLength: Int, log: @escaping (String) -> Void = { _ in },
                communicator: Communicator = SingleProcessCommunicator()) {
        self.seed = seed; self.recipeDirectory = recipeDirectory; self.maxLength = maxLength; self.log = log
        self.communicator = communicator
    }
}

// MARK: Encoders

/// What a target needs from the encoder's forward pass.
public struct EncoderRequest: Sendable, Equatable {
    public var hiddenStates = false
    public var attentions = false
    public init(hiddenStates: Bool = false, attentions: Bool = false) {
        self.hiddenStates = hiddenStates; self.attentions = attentions
    }
    public func union(_ o: EncoderRequest) -> EncoderRequest {
        EncoderRequest(hiddenStates: hiddenStates || o.hiddenStates, attentions: attentions || o.attentions)
    }
}

/// A sequence encoder (ESM-2 and friends). Its parameters live in `module`,
/// named as in the checkpoint format the encoder reads.
public protocol ProteinEncoder: AnyObject {
    var module: Module { get }
    var hiddenSize: Int { get }
    var layerCount: Int { get }
    var headCount: Int { get }
    /// tokens [B, T] -> representations (and on request all layers / attention maps).
    func encode(_ tokens: IndexTensor, request: EncoderRequest, context: ForwardContext) -> EsmOutput
    /// The forward pass on a whole batch. The default runs `encode(batch.tokens, …)`;
    /// encoders that need more than tokens (CA coordinates for a residue graph) override it.
    func encode(batch: Batch, request: EncoderRequest, context: ForwardContext) throws -> EsmOutput
    /// Masked-LM logits [B, T, V] from final representations, if the encoder has an LM head.
    func lmLogits(_ hidden: Tensor) -> Tensor?
    /// Writes the encoder into a directory loadable by `plm embed` / HF (config.json + model.safetensors).
    func save(to directory: URL) throws
    /// Restores weights written by `save(to:)` into this (identically built and tuned) encoder.
    func load(from directory: URL) throws
}

extension ProteinEncoder {
    public func encode(batch: Batch, request: EncoderRequest, context: ForwardContext) throws -> EsmOutput {
        encode(batch.tokens, request: request, context: context)
    }
}

public protocol EncoderPluginConfig: PluginConfig {
    func makeEncoder(_ ctx: BuildContext) throws -> ProteinEncoder
}

// MARK: Data

/// One training example: a token sequence and optional per-residue and
/// per-pair targets in token space (row 0 = BOS, row T-1 = EOS).
public struct Example {
    public var id: String
    /// `<cls> … <eos>` token ids (multi-chain records keep their linkers).
    public var tokens: [Int32]
    /// Named feature arrays, token space, row-major: `shape[0] == tokens.count`
    /// (per residue, [T, C]) or `shape[0] == shape[1] == tokens.count` (pairs, [T, T, C]).
    public var features: [String: FeatureArray] = [:]
    /// Free-form per-example values (e.g. CA coordinates for a structure encoder).
    public var extras: [String: [Float]] = [:]

    public init(id: String, tokens: [Int32], features: [String: FeatureArray] = [:]) {
        self.id = id; self.tokens = tokens; self.features = features
    }

    /// The window of `length` interior tokens starting at interior position
    /// `start`, re-wrapped in BOS/EOS; features are cropped the same way.
    public func cropped(start: Int, length: Int) -> Example {
        let n = tokens.count - 2
        guard length < n else { return self }
        var e = self
        e.tokens = [tokens[0]] + Array(tokens[(1 + start)..<(1 + start + length)]) + [tokens[tokens.count - 1]]
        let keep = [0] + Array((1 + start)..<(1 + start + length)) + [tokens.count - 1]
        e.features = features.mapValues { $0.selectingTokens(keep) }
        return e
    }
}

/// A float array with a shape (targets, masks) in token space.
public struct FeatureArray: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]
    public init(shape: [Int], values: [Float]) {
        precondition(Shape.count(shape) == values.count, "FeatureArray: shape \(shape) needs \(Shape.count(shape)) values, got \(values.count)")
        self.shape = shape; self.values = values
    }

    /// Keeps token rows (and, for pair arrays, columns) `keep`.
    public func selectingTokens(_ keep: [Int]) -> FeatureArray {
        let t = shape[0]
        // Pair arrays are [T, T, C]; a residue array [T, C] with C == T is not one.
        let isPair = shape.count >= 3 && shape[1] == t
        let c = isPair ? Shape.count(Array(shape.dropFirst(2))) : Shape.count(Array(shape.dropFirst()))
        var out: [Float] = []
        if isPair {
            out.reserveCapacity(keep.count * keep.count * c)
            for i in keep { for j in keep { out += values[((i * t + j) * c)..<((i * t + j + 1) * c)] } }
            return FeatureArray(shape: [keep.count, keep.count] + shape.dropFirst(2), values: out)
        }
        for i in keep { out += values[(i * c)..<((i + 1) * c)] }
        return FeatureArray(shape: [keep.count] + shape.dropFirst(), values: out)
    }
}

/// Random-access examples. `count` must not change during a run.
public protocol DataSource: AnyObject {
    var name: String { get }
    var count: Int { get }
    func example(at index: Int) throws -> Example
    /// The id of example `index` (used for the train/validation split at
    /// start-up; override when reading a whole example is expensive).
    func id(at index: Int) throws -> String
    /// Which split example `index` serves when the source has its own split
    /// (e.g. a CSV's split column); nil: the trainer puts it in training or
    /// validation by a hash of the id and `validation_fraction`.
    func split(of index: Int) -> ExampleSplit?
    /// Residues of example `index` (what `training.length_buckets` sorts by;
    /// override when reading a whole example is expensive).
    func length(at index: Int) throws -> Int
}

/// The part of a run an example serves. Validation examples pick the best
/// checkpoint; test examples are evaluated once, at the end, with that
/// checkpoint (`summary.json` "test"), or with `plm evaluate`.
public enum ExampleSplit: String, Sendable, CaseIterable {
    case train, validation, test
}

extension DataSource {
    public func id(at index: Int) throws -> String { try example(at: index).id }
    public func split(of index: Int) -> ExampleSplit? { nil }
    public func length(at index: Int) throws -> Int { max(try example(at: index).tokens.count - 2, 0) }
}

/// The keys every data source shares — `name`, `weight` (default 1),
/// `group` (default: the name), `validation_fraction` (default 0) — decoded
/// in one place: a source config's `init(from:)` reads them with
/// `DataSourceCommon(from: decoder)` and its own keys beside. Their values
/// are checked for every source, built-in or not, after decoding
/// (`Recipe.validate`: unique non-empty names, weight >= 0, fraction in [0, 1)).
public struct DataSourceCommon: Sendable {
    public var name: String
    public var weight: Float
    public var group: String
    public var validationFraction: Double

    enum CodingKeys: String, CodingKey {
        case name, weight, group, validationFraction = "validation_fraction"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        weight = try c.decodeIfPresent(Float.self, forKey: .weight) ?? 1
        group = try c.decodeIfPresent(String.self, forKey: .group) ?? name
        validationFraction = try c.decodeIfPresent(Double.self, forKey: .validationFraction) ?? 0
    }
}

public protocol DataSourcePluginConfig: PluginConfig {
    /// Unique source name (metrics, loss weights, target selection).
    var name: String { get }
    /// Multiplies every target loss computed on this source.
    var weight: Float { get }
    /// Source group (e.g. SeqDance's md / idrome / nma loss-weight columns).
    var group: String { get }
    /// Fraction of examples held out for evaluation (by a hash of the id).
    var validationFraction: Double { get }
    func makeSource(_ ctx: BuildContext) throws -> DataSource
}

/// A padded batch from one source.
public struct Batch {
    public var source: String
    public var group: String
    public var examples: [Example]
    /// [B, T] right-padded with `<pad>`.
    public var tokens: IndexTensor
    /// Targets may stash prepared values here (e.g. MLM labels).
    public var extras: [String: IndexTensor] = [:]
    /// Position of the first example within the step's global batch (all
    /// ranks of a data-parallel run). Targets that draw per-example randomness
    /// key it on `rowOffset + row`, so a rank's slice of the global batch sees
    /// the same draws as the single-process batch.
    public var rowOffset = 0

    public init(source: String, group: String, examples: [Example], padIndex: Int32 = 1) {
        self.source = source
        self.group = group
        self.examples = examples
        let t = examples.map(\.tokens.count).max() ?? 2
        var ids = [Int32](repeating: padIndex, count: examples.count * t)
        for (b, e) in examples.enumerated() { for (j, v) in e.tokens.enumerated() { ids[b * t + j] = v } }
        tokens = IndexTensor(shape: [examples.count, t], values: ids)
    }

    public var tokenCount: Int { examples.reduce(0) { $0 + $1.tokens.count } }
}

// MARK: Targets

/// A loss and what to log about it.
public struct TargetResult {
    public var loss: Tensor
    public var metrics: [String: Double]
    /// How many items `loss` is a mean over (e.g. masked tokens). In a
    /// data-parallel run the trainer rescales each rank's loss by
    /// `count · ranks / Σ count` so that the averaged gradient is the gradient
    /// of the global-batch mean. `nil`: a mean over the batch's examples.
    public var count: Double?
    /// The loss is the same global value on every rank, computed from
    /// tensors gathered with `Communicator.allGatherRows` (gradient reaching
    /// only this rank's rows): the trainer sums such losses' gradients over
    /// the ranks instead of averaging them. `count` is then ignored.
    public var replicated: Bool
    /// What the target scored in this batch, for whole-set evaluation (see `Predictions`).
    public var predictions: Predictions?
    public init(loss: Tensor, metrics: [String: Double] = [:], count: Double? = nil, replicated: Bool = false,
                predictions: Predictions? = nil) {
        self.loss = loss; self.metrics = metrics; self.count = count; self.replicated = replicated
        self.predictions = predictions
    }
}

/// What a target scored, one row per scored item (a protein or a residue):
/// the model's outputs and the truth. The trainer concatenates the rows of
/// every validation batch so that metrics which do not decompose over
/// batches (macro-F1, AUROC, Fmax, Spearman) are computed once over the
/// whole held-out set (`TrainingTarget.evaluationMetrics`).
public struct Predictions: Sendable {
    public var scores: [[Double]]
    public var truth: [[Double]]
    public init(scores: [[Double]] = [], truth: [[Double]] = []) { self.scores = scores; self.truth = truth }
    public mutating func append(_ o: Predictions) { scores += o.scores; truth += o.truth }
}

/// A training objective: optional head parameters, a batch preparation step
/// (e.g. masking) and a loss on the encoder's output.
public protocol TrainingTarget: AnyObject {
    var name: String { get }
    /// Head parameters (trained with the encoder), if any.
    var head: Module? { get }
    var request: EncoderRequest { get }
    /// Whether this target scores batches of `source` (default: all).
    func applies(to source: String) -> Bool
    /// Changes the batch before the forward pass (masking, noise). `rng` is per step.
    func prepare(_ batch: inout Batch, rng: inout RNG)
    func loss(_ batch: Batch, output: EsmOutput, encoder: ProteinEncoder, context: ForwardContext) throws -> TargetResult
    /// The truth rows of a batch (as in `Predictions.truth`) without running
    /// the model: the trainer reads the training split's with it once, for
    /// the baselines of `evaluationMetrics`. nil: the target has none.
    func truth(_ batch: Batch) throws -> [[Double]]?
    /// Metrics over a whole evaluation set, given every validation batch's
    /// predictions and the training split's truth rows; include the
    /// trivial baseline's numbers (majority class, training mean) under
    /// `baseline_<metric>` so that a run shows whether it beats them. nil:
    /// the batch means of `TargetResult.metrics` are reported.
    func evaluationMetrics(_ predictions: Predictions, trainingTruth: [[Double]]) -> [String: Double]?
}

extension TrainingTarget {
    public func applies(to source: String) -> Bool { true }
    public func prepare(_ batch: inout Batch, rng: inout RNG) {}
    public func truth(_ batch: Batch) throws -> [[Double]]? { nil }
    public func evaluationMetrics(_ predictions: Predictions, trainingTruth: [[Double]]) -> [String: Double]? { nil }
}

public protocol TargetPluginConfig: PluginConfig {
    func makeTarget(_ ctx: BuildContext, encoder: ProteinEncoder) throws -> TrainingTarget
}

// MARK: Tuning, optimizers, schedules

/// Decides which parameters train (and may add new ones, e.g. LoRA).
public protocol TuningStrategy: AnyObject {
    func apply(to encoder: ProteinEncoder) throws
}

public protocol TuningPluginConfig: PluginConfig {
    func makeStrategy(_ ctx: BuildContext) throws -> TuningStrategy
}

public protocol OptimizerPluginConfig: PluginConfig {
    var lr: Float { get }
    func makeOptimizer(_ parameters: [NamedParameter]) -> Optimizer
}

public protocol SchedulePluginConfig: PluginConfig {
    func makeSchedule(baseLR: Float, totalSteps: Int) -> LRSchedule
}
