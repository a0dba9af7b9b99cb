import Foundation
import PLMData
import PLMNN
import PLMTensor

// MARK: Tuning: full / frozen

/// Every encoder parameter trains.
public struct FullTuningConfig: TuningPluginConfig {
    public static let category = PluginCategory.tuning
    public init() {}
    public init(from decoder: Decoder) throws { _ = try decoder.container(keyedBy: EmptyKeys.self) }
    public func encode(to encoder: Encoder) throws {}
    public func makeStrategy(_ ctx: BuildContext) throws -> TuningStrategy { SetTrainable(true) }
}

/// No encoder parameter trains (heads only; ESMDance).
public struct FrozenTuningConfig: TuningPluginConfig {
    public static let category = PluginCategory.tuning
    public init(from decoder: Decoder) throws { _ = try decoder.container(keyedBy: EmptyKeys.self) }
    public func encode(to encoder: Encoder) throws {}
    public func makeStrategy(_ ctx: BuildContext) throws -> TuningStrategy { SetTrainable(false) }
}

enum EmptyKeys: CodingKey {}

final class SetTrainable: TuningStrategy {
    let on: Bool
    init(_ on: Bool) { self.on = on }
    func apply(to encoder: ProteinEncoder) throws {
        encoder.module.setTrainable(on)
        if !on { encoder.module.train(false) }  // a frozen encoder runs in eval mode (no dropout)
    }
}

// MARK: Optimizers

/// `kind: adamw` — torch.optim.AdamW.
public struct AdamWConfig: OptimizerPluginConfig {
    public static let category = PluginCategory.optimizer
    public var lr: Float
    public var betas: [Float]
    public var eps: Float
    public var weightDecay: Float

    enum CodingKeys: String, CodingKey { case lr, betas, eps, weightDecay = "weight_decay" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        lr = try c.decode(Float.self, forKey: .lr)
        betas = try c.decodeIfPresent([Float].self, forKey: .betas) ?? [0.9, 0.999]
        eps = try c.decodeIfPresent(Float.self, forKey: .eps) ?? 1e-8
        weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? 0.01
        if betas.count != 2 || betas.contains(where: { !(0..<1).contains($0) }) {
            throw recipeError(decoder, key: CodingKeys.betas, "betas must be two numbers in [0, 1)")
        }
    }

    public func makeOptimizer(_ parameters: [NamedParameter]) -> Optimizer {
        AdamW(parameters, betas: (betas[0], betas[1]), eps: eps, weightDecay: weightDecay)
    }
}

/// `kind: sgd` — torch.optim.SGD with momentum.
public struct SGDConfig: OptimizerPluginConfig {
    public static let category = PluginCategory.optimizer
    public var lr: Float
    public var momentum: Float
    public var weightDecay: Float
    public var nesterov: Bool

    enum CodingKeys: String, CodingKey { case lr, momentum, weightDecay = "weight_decay", nesterov }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        lr = try c.decode(Float.self, forKey: .lr)
        momentum = try c.decodeIfPresent(Float.self, forKey: .momentum) ?? 0.9
        weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? 0
        nesterov = try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? false
    }

    public func makeOptimizer(_ parameters: [NamedParameter]) -> Optimizer {
        SGD(parameters, momentum: momentum, weightDecay: weightDecay, nesterov: nesterov)
    }
}

// MARK: Schedules

/// `kind: constant`.
public struct ConstantScheduleConfig: SchedulePluginConfig {
    public static let category = PluginCategory.schedule
    public init(from decoder: Decoder) throws { _ = try decoder.container(keyedBy: EmptyKeys.self) }
    public func encode(to encoder: Encoder) throws {}
    public func makeSchedule(baseLR: Float, totalSteps: Int) -> LRSchedule { ConstantLR(baseLR) }
}

/// `kind: warmup_linear` — SeqDance: warmup, linear decay to `decay_to`·lr at `decay_end`·steps, then constant.
public struct WarmupLinearConfig: SchedulePluginConfig {
    public static let category = PluginCategory.schedule
    public var warmupSteps: Int
    public var decayTo: Float
    public var decayEnd: Float

    enum CodingKeys: String, CodingKey { case warmupSteps = "warmup_steps", decayTo = "decay_to", decayEnd = "decay_end" }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? 0
        decayTo = try c.decodeIfPresent(Float.self, forKey: .decayTo) ?? 0.1
        decayEnd = try c.decodeIfPresent(Float.self, forKey: .decayEnd) ?? 0.9
    }

    public func makeSchedule(baseLR: Float, totalSteps: Int) -> LRSchedule {
        WarmupLinearLR(base: baseLR, warmupSteps: warmupSteps, totalSteps: totalSteps, decayTo: decayTo, decayEnd: decayEnd)
    }
}

/// `kind: cosine_restarts` — S-PLM: cosine with warmup and restarts.
public struct CosineRestartsConfig: SchedulePluginConfig {
    public static let category = PluginCategory.schedule
    public var firstCycleSteps: Int
    public var cycleMult: Float
    public var warmupSteps: Int
    public var minLR: Float
    public var gamma: Float

    enum CodingKeys: String, CodingKey {
        case firstCycleSteps = "first_cycle_steps", cycleMult = "cycle_mult", warmupSteps = "warmup_steps", minLR = "min_lr", gamma
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        firstCycleSteps = try c.decode(Int.self, forKey: .firstCycleSteps)
        cycleMult = try c.decodeIfPresent(Float.self, forKey: .cycleMult) ?? 1
        warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? 0
        minLR = try c.decodeIfPresent(Float.self, forKey: .minLR) ?? 0
        gamma = try c.decodeIfPresent(Float.self, forKey: .gamma) ?? 1
    }

    public func makeSchedule(baseLR: Float, totalSteps: Int) -> LRSchedule {
        CosineRestartsLR(base: baseLR, minLR: minLR, firstCycleSteps: firstCycleSteps, cycleMult: cycleMult,
                         warmupSteps: warmupSteps, gamma: gamma)
    }
}

// MARK: Data: FASTA sequences

/// `kind: fasta` — sequences for MLM or any sequence-only target.
public struct FastaSourceConfig: DataSourcePluginConfig {
    public static let category = PluginCategory.dataSource
    public var name: String
    public var path: RecipePath
    public var weight: Float
    public var group: String
    public var validationFraction: Double
    public var maxRecords: Int?

    enum CodingKeys: String, CodingKey {
        case name, path, weight, group, validationFraction = "validation_fraction", maxRecords = "max_records"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let common = try DataSourceCommon(from: decoder)
        name = common.name; weight = common.weight; group = common.group; validationFraction = common.validationFraction
        path = try c.decode(RecipePath.self, forKey: .path)
        maxRecords = try c.decodeIfPresent(Int.self, forKey: .maxRecords)
    }

    public func makeSource(_ ctx: BuildContext) throws -> DataSource {
        var records = try FASTAReader.read(url: path.url)
        if let m = maxRecords { records = Array(records.prefix(m)) }
        let tok = Tokenizer()
        let examples = try records.map { Example(id: $0.id, tokens: try tok.encode($0)) }
        return InMemorySource(name: name, examples: examples)
    }
}

/// Examples held in memory.
public final class InMemorySource: DataSource {
    public let name: String
    public let examples: [Example]
    /// Per example: its split, or nil for the trainer's hash split.
    public let splits: [ExampleSplit?]?
    public init(name: String, examples: [Example], splits: [ExampleSplit?]? = nil) {
        precondition(splits.map { $0.count == examples.count } ?? true, "InMemorySource: \(splits?.count ?? 0) splits for \(examples.count) examples")
        self.name = name; self.examples = examples; self.splits = splits
    }
    public var count: Int { examples.count }
    public func example(at index: Int) throws -> Example { examples[index] }
    public func split(of index: Int) -> ExampleSplit? { splits?[index] ?? nil }
}

// MARK: Registration

extension PluginRegistry {
    /// Registers the plugins that live in PLMKit itself.
    public func registerCoreBuiltins() throws {
        try register(EsmEncoderConfig.self, kind: "esm2", summary: "ESM-2 / ESM-1b encoder (HF weights, preset or custom size)")
        try register(FullTuningConfig.self, kind: "full", summary: "train every encoder parameter")
        try register(FrozenTuningConfig.self, kind: "frozen", summary: "freeze the encoder (heads only)")
        try register(FastaSourceConfig.self, kind: "fasta", summary: "sequences from a FASTA file")
        try register(AdamWConfig.self, kind: "adamw", summary: "AdamW (decoupled weight decay)")
        try register(SGDConfig.self, kind: "sgd", summary: "SGD with momentum")
        try register(ConstantScheduleConfig.self, kind: "constant", summary: "constant learning rate")
        try register(WarmupLinearConfig.self, kind: "warmup_linear", summary: "warmup, linear decay to a fraction, then constant (SeqDance)")
        try register(CosineRestartsConfig.self, kind: "cosine_restarts", summary: "cosine with warmup and restarts (S-PLM)")
    }
}
