import Foundation
import PLMData
import PLMNN
import PLMTensor

/// What `summary.json` holds at the end of a run.
public struct TrainingSummary: Codable, Sendable {
    public var steps: Int
    public var finalLoss: Double
    public var trainableParameters: Int
    public var totalParameters: Int
    public var tokensPerSecond: Double
    public var seconds: Double
    public var bestValidationLoss: Double?
    public var resumedFrom: Int?
    public var interrupted: Bool
    /// `training.early_stopping` ended the run before `training.steps`.
    public var stoppedEarly = false
    /// Metrics of the last evaluation on the validation split (whole-set
    /// metrics and `baseline_*` numbers where the targets provide them).
    public var validation: [String: Double]? = nil
    /// Metrics on the test split (sources with their own test rows), computed
    /// once at the end of a completed run with `testCheckpoint`'s weights.
    public var test: [String: Double]? = nil
    /// The checkpoint the test metrics come from: `best` (lowest validation
    /// loss) when the run validated, else the final `checkpoint-N`.
    public var testCheckpoint: String? = nil
    /// Data-parallel ranks; present when more than one.
    public var worldSize: Int? = nil
    /// Mean seconds per step spent in the gradient all-reduce (distributed runs).
    public var allReduceSecondsPerStep: Double? = nil
    /// Mean seconds per step that ranks waited for the slowest one before the all-reduce.
    public var rankWaitSecondsPerStep: Double? = nil

    enum CodingKeys: String, CodingKey {
        case steps, finalLoss = "final_loss", trainableParameters = "trainable_parameters"
        case totalParameters = "total_parameters", tokensPerSecond = "tokens_per_second", seconds
        case bestValidationLoss = "best_validation_loss", resumedFrom = "resumed_from", interrupted, validation
        case stoppedEarly = "stopped_early"
        case test, testCheckpoint = "test_checkpoint"
        case worldSize = "world_size", allReduceSecondsPerStep = "allreduce_seconds_per_step"
        case rankWaitSecondsPerStep = "rank_wait_seconds_per_step"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(steps, forKey: .steps)
        if finalLoss.isFinite { try c.encode(finalLoss, forKey: .finalLoss) } else { try c.encodeNil(forKey: .finalLoss) }  // no step run
        try c.encode(trainableParameters, forKey: .trainableParameters)
        try c.encode(totalParameters, forKey: .totalParameters)
        try c.encode(tokensPerSecond, forKey: .tokensPerSecond)
        try c.encode(seconds, forKey: .seconds)
        try c.encodeIfPresent(bestValidationLoss, forKey: .bestValidationLoss)
        try c.encodeIfPresent(resumedFrom, forKey: .resumedFrom)
        try c.encode(interrupted, forKey: .interrupted)
        if stoppedEarly { try c.encode(true, forKey: .stoppedEarly) }
        try c.encodeIfPresent(validation, forKey: .validation)
        try c.encodeIfPresent(test, forKey: .test)
        try c.encodeIfPresent(testCheckpoint, forKey: .testCheckpoint)
        try c.encodeIfPresent(worldSize, forKey: .worldSize)
        try c.encodeIfPresent(allReduceSecondsPerStep, forKey: .allReduceSecondsPerStep)
        try c.encodeIfPresent(rankWaitSecondsPerStep, forKey: .rankWaitSecondsPerStep)
    }
}

/// Errors that stop a run.
public enum TrainingError: Error, CustomStringConvertible {
    case runDirectoryExists(String)
    case noCheckpoint(String)
    case checkpointMismatch(String)
    case plugin(String)
    case nonFiniteLoss(step: Int, detail: String)

    public var description: String {
        switch self {
        case let .runDirectoryExists(p): return "run directory \(p) already holds a run; use --resume \(p) to continue it or --out for a new one"
        case let .noCheckpoint(p): return "no checkpoint-N directory in \(p) to resume from"
        case let .checkpointMismatch(m): return "checkpoint does not fit this recipe: \(m)"
        case let .plugin(m): return m
        case let .nonFiniteLoss(step, d): return "loss is not finite at step \(step) (\(d)); lower the learning rate or enable clipping"
        }
    }
}

/// Runs a recipe: builds the plugins, trains, evaluates, checkpoints.
///
/// Every random choice of step s (data order, crops, masking, dropout) is
/// drawn from generators seeded by (seed, s, purpose), so the run's whole
/// state is its parameters, optimizer moments and step count: resuming from a
/// checkpoint continues bit-exactly.
public final class Trainer {
    public let recipe: Recipe
    public let runDirectory: URL
    public let encoder: ProteinEncoder
    public let targets: [TrainingTarget]
    let targetNames: [String]
    struct Source {
        let config: DataSourcePluginConfig
        let data: DataSource
        let train: [Int]
        let validation: [Int]
        let test: [Int]

        func indices(_ split: ExampleSplit) -> [Int] {
            switch split {
            case .train: return train
            case .validation: return validation
            case .test: return test
            }
        }
    }
    let sources: [Source]
    public let parameters: [NamedParameter]
    let optimizer: Optimizer
    let schedule: LRSchedule
    let baseLR: Float
    public private(set) var step = 0
    var resumedFrom: Int? = nil
    /// Early-stopping state (saved in each checkpoint's state.json).
    var evaluationsWithoutImprovement = 0
    var stoppedEarly = false
    var trainingTruthCache: [String: [[Double]]] = [:]
    /// The last evaluation's metrics (written to summary.json).
    var lastEvaluation: [String: Double]? = nil
    /// Ranks whose global batch sizes evaluation chunks when evaluating a
    /// checkpoint of a data-parallel run in one process (its `world_size`), so
    /// chunks and MLM masks match the ones its training logged; nil: this run's.
    var evaluationRanks: Int? = nil
    let log: (String) -> Void
    let showProgress: Bool
    let resolvedYAML: String
    /// Data-parallel peers (a single process unless started under MPI).
    public let communicator: Communicator
    /// Gradient all-reduce bucket size in floats (`PLM_ALLREDUCE_BUCKET_MB`, default 4 MB).
    let bucketElements: Int
    /// Under MPI, ends this rank when nothing moves for a long time (a frozen peer).
    var watchdog: StallWatchdog? = nil
    /// Per source: the newest epoch order (`epochOrder`).
    var orderCache: [Int: (epoch: Int, order: [Int])] = [:]
    /// Per source: residues of each training example by example index (`training.length_buckets`).
    public private(set) var trainLengths: [Int: [Int: Int]] = [:]

    /// Progress for the stall watchdog.
    @inline(__always) func progressed() { watchdog?.touch() }

    /// Builds everything a recipe names. With `resume`, loads the newest
    /// checkpoint in `runDirectory`; otherwise the directory must not hold a run.
    ///
    /// With a `communicator` of more than one rank the run is data-parallel:
    /// rank r trains on its slice of every step's global batch
    /// (`training.batch_size` examples per rank and source), gradients are
    /// averaged over the ranks, every rank takes the same optimizer step, and
    /// rank 0 alone writes the run directory (which must be visible to every
    /// rank for `--resume`).
    public convenience init(recipe: Recipe, runDirectory: URL, resume: Bool, showProgress: Bool = true,
                            communicator: Communicator = SingleProcessCommunicator(),
                            log: @escaping (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws {
        try self.init(recipe: recipe, runDirectory: runDirectory, start: resume ? .resume : .new, showProgress: showProgress,
                      communicator: communicator, log: log)
    }

    /// A trainer for evaluating the checkpoints of an existing run
    /// (`plm evaluate`, `plm embed --structures`): built from the run's
    /// `config.resolved.yaml` (with `overrides`, `key.path=value` as for
    /// `--set`); nothing is loaded or written until
    /// `evaluate(checkpoint:split:)` / `loadCheckpointModel(_:)`. Sources
    /// may be all validation or test here (nothing trains).
    public static func evaluating(runDirectory: URL, registry: PluginRegistry, overrides: [String] = [],
                                  log: @escaping (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) throws -> Trainer {
        let config = runDirectory.appendingPathComponent("config.resolved.yaml")
        guard FileManager.default.fileExists(atPath: config.path) else {
            throw TrainingError.plugin("\(runDirectory.path) is not a run directory (no config.resolved.yaml)")
        }
        let (r, _) = try RecipeLoader.load(path: config.path, overrides: overrides, registry: registry)
        return try Trainer(recipe: r, runDirectory: runDirectory, start: .evaluate, showProgress: false, log: log)
    }

    /// How a trainer starts: a new run, the newest checkpoint of a run, or
    /// evaluation only (the run directory is left alone).
    enum Start { case new, resume, evaluate }

    init(recipe: Recipe, runDirectory: URL, start: Start, showProgress: Bool,
         communicator: Communicator = SingleProcessCommunicator(), log: @escaping (String) -> Void) throws {
        self.recipe = recipe
        self.runDirectory = runDirectory
        self.log = communicator.isRoot ? log : { _ in }
        self.showProgress = showProgress && communicator.isRoot
        self.communicator = communicator
        if communicator.isDistributed && start != .evaluate {
            // From here on every collective (the resume barrier, the rank check, each step) is watched.
            watchdog = StallWatchdog(seconds: StallWatchdog.configuredSeconds, message: """
                plm rank \(communicator.rank)/\(communicator.size): no progress for {seconds} s (PLM_MPI_STALL_SECONDS): a peer rank is \
                stuck or unreachable; ending this rank so the launcher ends the job; continue from the newest checkpoint with \
                --resume \(runDirectory.path)

                """)
        }
        let mb = ProcessInfo.processInfo.environment["PLM_ALLREDUCE_BUCKET_MB"].flatMap(Double.init) ?? 4
        bucketElements = max(1024, Int(mb * 262_144))
        resolvedYAML = try RecipeLoader.resolvedYAML(recipe)
        if let t = recipe.training.threads { Threads.configure(t) }
        let ctx = BuildContext(seed: recipe.seed, recipeDirectory: runDirectory, maxLength: recipe.data.maxLength, log: self.log,
                               communicator: communicator)

        guard let encCfg = recipe.model.encoder.config as? EncoderPluginConfig else {
            throw TrainingError.plugin("model.encoder kind '\(recipe.model.encoder.kind)' does not build an encoder")
        }
        encoder = try encCfg.makeEncoder(ctx)
        encoder.module.train(true)
        let tuning = recipe.model.tuning?.config as? TuningPluginConfig ?? FullTuningConfigDefault()
        try tuning.makeStrategy(ctx).apply(to: encoder)

        var ts: [TrainingTarget] = [], names: [String] = []
        for (i, sec) in recipe.targets.enumerated() {
            guard let c = sec.config as? TargetPluginConfig else { throw TrainingError.plugin("targets.\(i): kind '\(sec.kind)' is not a target") }
            let t = try c.makeTarget(ctx, encoder: encoder)
            t.head?.train(true)
            ts.append(t)
            names.append(recipe.targets.filter { $0.kind == sec.kind }.count > 1 ? "\(t.name)\(i)" : t.name)
        }
        targets = ts
        targetNames = names

        var srcs: [Source] = []
        for (i, sec) in recipe.data.sources.enumerated() {
            guard let c = sec.config as? DataSourcePluginConfig else { throw TrainingError.plugin("data.sources.\(i): kind '\(sec.kind)' is not a data source") }
            let d = try c.makeSource(ctx)
            guard d.count > 0 else { throw TrainingError.plugin("data source '\(c.name)' has no examples") }
            var train: [Int] = [], val: [Int] = [], test: [Int] = []
            let role = recipe.data.sources[i].role   // a whole-source split wins
            for k in 0..<d.count {
                switch role ?? d.split(of: k) {   // else the source's own split, else a hash of the id
                case .train?: train.append(k)
                case .validation?: val.append(k)
                case .test?: test.append(k)
                case nil:
                    let id = try d.id(at: k)
                    if c.validationFraction > 0 && Trainer.unitHash(id) < c.validationFraction { val.append(k) } else { train.append(k) }
                }
            }
            guard !train.isEmpty || role != nil || start == .evaluate else {
                throw TrainingError.plugin("data source '\(c.name)': every example went to validation or test (give it `role: validation` if that is meant)")
            }
            srcs.append(Source(config: c, data: d, train: train, validation: val, test: test))
        }
        guard srcs.contains(where: { !$0.train.isEmpty }) || start == .evaluate else {
            throw TrainingError.plugin("no data source has training examples (every source has role validation or test)")
        }
        sources = srcs
        if recipe.training.lengthBuckets != nil {
            for (si, src) in srcs.enumerated() where !src.train.isEmpty {
                var lengths: [Int: Int] = [:]
                for k in src.train { lengths[k] = try src.data.length(at: k) }
                trainLengths[si] = lengths
            }
        }

        var params = encoder.module.namedParameters().filter { $0.parameter.isTrainable }
        for (t, n) in zip(targets, targetNames) {
            if let h = t.head { params += h.namedParameters(prefix: "heads.\(n).").filter { $0.parameter.isTrainable } }
        }
        parameters = params
        guard let optCfg = recipe.optimizer.config as? OptimizerPluginConfig else {
            throw TrainingError.plugin("optimizer kind '\(recipe.optimizer.kind)' is not an optimizer")
        }
        optimizer = optCfg.makeOptimizer(params)
        baseLR = optCfg.lr
        let schedCfg = recipe.schedule?.config as? SchedulePluginConfig
        schedule = schedCfg?.makeSchedule(baseLR: optCfg.lr, totalSteps: recipe.training.steps) ?? ConstantLR(optCfg.lr)

        let fm = FileManager.default
        if start == .evaluate { return }
        if start == .resume {
            if communicator.isRoot {
                for name in Checkpoints.recover(in: runDirectory) { log("restored \(name)/ (its replacement was interrupted)") }
            }
            communicator.barrier()
            // The newest checkpoint that loads (they are written atomically, but a disk can
            // still damage one): an unreadable one is reported and the one before it is tried.
            var loaded: Int? = nil
            var failures: [String] = []
            for (n, dir) in Checkpoints.all(in: runDirectory).reversed() {
                do {
                    try loadCheckpoint(dir)
                    loaded = n
                    break
                } catch {
                    failures.append("checkpoint-\(n): \(error)")
                    log("cannot resume from checkpoint-\(n) (\(error)); trying the one before it")
                }
            }
            guard let n = loaded else {
                if failures.isEmpty { throw TrainingError.noCheckpoint(runDirectory.path) }
                throw TrainingError.checkpointMismatch("no checkpoint in \(runDirectory.path) loads: " + failures.joined(separator: "; "))
            }
            step = n
            resumedFrom = n
        } else if communicator.isRoot && (fm.fileExists(atPath: runDirectory.appendingPathComponent("metrics.jsonl").path)
                    || Checkpoints.latest(in: runDirectory) != nil) {
            throw TrainingError.runDirectoryExists(runDirectory.path)
        }
        if communicator.isRoot { try fm.createDirectory(at: runDirectory, withIntermediateDirectories: true) }
    }

    /// Trainable parameters (encoder + heads) and all parameters.
    public var parameterCounts: (trainable: Int, total: Int) {
        let trainable = parameters.reduce(0) { $0 + $1.parameter.value.count }
        var total = encoder.module.parameterCount
        for t in targets { total += t.head?.parameterCount ?? 0 }
        return (trainable, total)
    }

    // MARK: Deterministic randomness

    enum Purpose: UInt64 { case order = 1, crop, prepare, dropout }

    /// A generator for (purpose, step, a, b): a pure function of the seed.
    func rng(_ p: Purpose, _ step: Int, _ a: Int = 0, _ b: Int = 0) -> RNG {
        var r = RNG(seed: recipe.seed ^ (p.rawValue &* 0x9E37_79B9_7F4A_7C15),
                    offset: UInt64(step) &* 0x1_0000_0000 &+ UInt64(a) &* 0x10000 &+ UInt64(b))
        return RNG(seed: r.nextUInt64())
    }

    /// FNV-1a of the id mapped to [0, 1): a stable train/validation split.
    static func unitHash(_ s: String) -> Double {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Double(h >> 11) / Double(1 << 53)
    }

    /// The k-th training example of source `si` (epoch-wise shuffled, deterministic).
    func trainIndex(_ si: Int, _ k: Int) -> Int {
        let n = sources[si].train.count
        return epochOrder(si, k / n)[k % n]
    }

    /// Source `si`'s training examples in the order of `epoch`: a seeded shuffle, then
    /// (`training.length_buckets: W`) each window of W global batches sorted by length
    /// (capped at data.max_length, ties by shuffled position), cut into global batches and
    /// those shuffled again (a trailing partial batch stays last). A pure function of the
    /// seed, epoch and source, so resume and MPI shards see the same order; cached per source.
    public func epochOrder(_ si: Int, _ epoch: Int) -> [Int] {
        if let c = orderCache[si], c.epoch == epoch { return c.order }
        var order = sources[si].train
        var r = rng(.order, epoch, si)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, r.nextInt(below: i + 1)) }
        if let w = recipe.training.lengthBuckets, let lengths = trainLengths[si] {
            let global = recipe.training.batchSize * communicator.size
            let cap = recipe.data.maxLength
            var bucketRNG = rng(.order, epoch, si + 0x4000)
            var out: [Int] = []
            out.reserveCapacity(order.count)
            for start in stride(from: 0, to: order.count, by: global * w) {
                let window = order[start..<min(start + global * w, order.count)]
                let sorted = window.enumerated().sorted {
                    let a = min(lengths[$0.element] ?? 0, cap), b = min(lengths[$1.element] ?? 0, cap)
                    return a != b ? a < b : $0.offset < $1.offset
                }.map(\.element)
                var batches = stride(from: 0, to: sorted.count, by: global).map { Array(sorted[$0..<min($0 + global, sorted.count)]) }
                let full = batches.last?.count == global ? batches.count : batches.count - 1
                for i in stride(from: full - 1, to: 0, by: -1) { batches.swapAt(i, bucketRNG.nextInt(below: i + 1)) }
                out += batches.joined()
            }
            order = out
        }
        orderCache[si] = (epoch, order)
        return order
    }

    /// This rank's slice of the global batch of (source, step, micro-batch).
    ///
    /// The global batch holds `batch_size · ranks` consecutive examples of the
    /// source's deterministic order; rank r reads positions
    /// `r · batch_size ..< (r + 1) · batch_size` of it, so the ranks' shards are
    /// disjoint and together equal the single-process batch of `batch_size · ranks`.
    /// Crop windows are drawn per global position (not per rank).
    func batch(source si: Int, step: Int, micro: Int, maxLength: Int) throws -> Batch {
        let bs = recipe.training.batchSize
        let global = bs * communicator.size
        let first = (step * recipe.training.gradAccumulation + micro) * global
        let offset = communicator.rank * bs
        var examples: [Example] = []
        var cropBase = rng(.crop, step, si, micro)
        let cropSeed = cropBase.nextUInt64()
        for b in offset..<(offset + bs) {
            var e = try sources[si].data.example(at: trainIndex(si, first + b))
            let n = e.tokens.count - 2
            if n > maxLength {
                var r = RNG(seed: cropSeed, offset: UInt64(b))
                e = e.cropped(start: r.nextInt(below: n - maxLength + 1), length: maxLength)
            }
            examples.append(e)
        }
        let c = sources[si].config
        var batch = Batch(source: c.name, group: c.group, examples: examples)
        batch.rowOffset = offset
        return batch
    }

    /// Averages the gradients over the ranks: parameters in order, packed into
    /// buckets of `bucketElements` floats, one in-place all-reduce per bucket.
    /// A parameter without a gradient on some rank counts as zeros there; one
    /// without a gradient on every rank keeps none (as in a single process).
    func allReduceGradients() {
        guard communicator.isDistributed else { return }
        var has = parameters.map { $0.parameter.value.grad == nil ? 0.0 : 1.0 }
        communicator.allReduceMax(&has)
        var grads: [Tensor] = []
        for (i, np) in parameters.enumerated() where has[i] > 0 {
            let v = np.parameter.value
            if v.grad == nil { v.grad = Tensor.zeros(v.shape) }
            grads.append(v.grad!)
        }
        let scale = 1 / Float(communicator.size)
        var buffer = [Float](repeating: 0, count: bucketElements)
        var i = 0
        while i < grads.count {
            var j = i, n = 0
            while j < grads.count && (n == 0 || n + grads[j].count <= bucketElements) { n += grads[j].count; j += 1 }
            if buffer.count < n { buffer = [Float](repeating: 0, count: n) }
            buffer.withUnsafeMutableBufferPointer { buf in
                let p = buf.baseAddress!
                var o = 0
                for g in grads[i..<j] { p.advanced(by: o).update(from: g.data, count: g.count); o += g.count }
                communicator.allReduceSum(p, count: n)
                o = 0
                for g in grads[i..<j] {
                    let d = g.data
                    for k in 0..<g.count { d[k] = p[o + k] * scale }
                    o += g.count
                }
            }
            i = j
        }
    }

    // MARK: Training

    /// Trains to `recipe.training.steps` (or until `interrupt`), writing
    /// metrics, checkpoints and the summary into the run directory.
    /// `stopAfter` ends the run early at that step as an interrupt would (checkpoint saved).
    public func run(interrupt: InterruptFlag? = nil, stopAfter: Int? = nil) throws -> TrainingSummary {
        let comm = communicator
        let root = comm.isRoot
        var metrics: MetricsLog? = nil
        if root {
            try resolvedYAML.write(to: runDirectory.appendingPathComponent("config.resolved.yaml"), atomically: true, encoding: .utf8)
            metrics = try MetricsLog(url: runDirectory.appendingPathComponent("metrics.jsonl"), truncateAfterStep: resumedFrom ?? 0)
        }
        let counts = parameterCounts
        log("parameters: \(counts.trainable.formatted()) trainable of \(counts.total.formatted())")
        log("threads: \(Threads.count), OpenBLAS core: \(Threads.blasCoreName); run directory: \(runDirectory.path)")
        if comm.isDistributed {
            log("data-parallel: \(comm.size) ranks × batch \(recipe.training.batchSize) per source = global batch \(comm.size * recipe.training.batchSize)")
            try checkRanksAgree()
        }
        if let r = resumedFrom { log("resuming from step \(r)") }
        defer { watchdog?.stop(); watchdog = nil }
        var allReduceSeconds = 0.0, waitSeconds = 0.0, allReduceSteps = 0

        let total = recipe.training.steps
        let bar = ProgressBar("train", total: total - step, unit: "steps", enabled: showProgress)
        let t0 = Date()
        var tokensTotal = 0
        var window = MetricWindow()
        var lastLoss = Double.nan
        var bestVal: Double? = try? Checkpoints.bestValidationLoss(in: runDirectory)
        if comm.isDistributed {   // rank 0's best validation loss everywhere (early stopping compares with it)
            var b = [comm.isRoot ? (bestVal ?? .infinity) : -.infinity]
            comm.allReduceMax(&b)
            bestVal = b[0] == .infinity ? nil : b[0]
        }
        var interrupted = false
        if stoppedEarly { log("the run stopped early at step \(step) (training.early_stopping); nothing to do") }
        let clip = recipe.training.clip

        while step < total && !stoppedEarly {
            var stop = [interrupt?.isRaised == true || stopAfter.map({ step >= $0 }) == true ? 1.0 : 0.0]
            if comm.isDistributed { comm.allReduceMax(&stop) }   // every rank stops at the same step
            if stop[0] > 0 { interrupted = true; break }
            let lr = schedule.lr(at: step)
            let maxLength = recipe.maxLength(atStep: step)
            var stepTokens = 0
            var stepLoss = 0.0
            var microValue = 0.0
            for micro in 0..<recipe.training.gradAccumulation {
                // Every loss of this micro-batch: (source, target, loss, count it averages over, value).
                var microTokens = 0
                var terms: [(si: Int, ti: Int, key: String, loss: Tensor, count: Double, value: Double, replicated: Bool)] = []
                for si in sources.indices where !sources[si].train.isEmpty {   // validation/test-only sources never train
                    var b = try batch(source: si, step: step, micro: micro, maxLength: maxLength)
                    let active = targets.indices.filter { targets[$0].applies(to: b.source) }
                    if active.isEmpty { continue }
                    for ti in active {
                        var r = rng(.prepare, step, si * 64 + ti, micro)
                        targets[ti].prepare(&b, rng: &r)
                    }
                    let request = active.reduce(EncoderRequest()) { $0.union(targets[$1].request) }
                    // Dropout masks differ per rank (rank 0 keeps the single-process stream):
                    // runs with dropout are equivalent in distribution, not bit for bit.
                    let ctx = ForwardContext(rng: rng(.dropout, step, si + 4096 * communicator.rank, micro))
                    let out = try encoder.encode(batch: b, request: request, context: ctx)
                    progressed()
                    for ti in active {
                        let res = try targets[ti].loss(b, output: out, encoder: encoder, context: ctx)
                        let key = sources.count > 1 ? "\(targetNames[ti])/\(b.source)" : targetNames[ti]
                        terms.append((si, ti, key, res.loss, res.replicated ? 1 : res.count ?? Double(b.examples.count), Double(res.loss.item()), res.replicated))
                        for (k, v) in res.metrics { window.add("\(key)/\(k)", v) }
                    }
                    microTokens += b.tokenCount
                }
                // Data-parallel: each rank's loss is a mean over its own items; rescaled by
                // count · ranks / Σ count, the rank-averaged gradient is the gradient of the
                // mean over the whole global batch (MLM: masked tokens differ per rank).
                var global = terms.flatMap { [$0.count, $0.count * $0.value] } + [Double(microTokens)]
                if comm.isDistributed { comm.allReduceSum(&global) }
                stepTokens += comm.isDistributed ? Int(global[global.count - 1]) : microTokens   // tokens of all ranks
                var microLoss: Tensor? = nil
                for (n, t) in terms.enumerated() {
                    var l = t.loss * sources[t.si].config.weight
                    var value = t.value
                    if comm.isDistributed {
                        let totalCount = global[2 * n]
                        value = totalCount > 0 ? global[2 * n + 1] / totalCount : 0
                        // A replicated loss (same value on every rank, gradient through local rows only) is summed.
                        l = l * Float(t.replicated ? Double(comm.size) : totalCount > 0 ? t.count * Double(comm.size) / totalCount : 0)
                    }
                    microLoss = microLoss.map { $0 + l } ?? l
                    window.add(t.key + "/loss", value)
                }
                if comm.isDistributed {
                    microValue = terms.indices.reduce(0.0) { acc, n in
                        let c = global[2 * n]
                        return acc + (c > 0 ? global[2 * n + 1] / c : 0) * Double(sources[terms[n].si].config.weight)
                    }
                }
                guard let ml = microLoss else { continue }
                let value = comm.isDistributed ? microValue : Double(ml.item())
                guard value.isFinite else { throw TrainingError.nonFiniteLoss(step: step, detail: "loss \(value)") }
                stepLoss += value / Double(recipe.training.gradAccumulation)
                (ml * (1 / Float(recipe.training.gradAccumulation))).backward()
            }
            if comm.isDistributed {
                // The barrier separates waiting for the slowest rank from the all-reduce itself.
                let w0 = comm.wallTime()
                comm.barrier()
                let a0 = comm.wallTime()
                allReduceGradients()
                allReduceSeconds += comm.wallTime() - a0
                waitSeconds += a0 - w0
                allReduceSteps += 1
            }
            if let v = clip?.value { GradientClipping.clipValue(parameters, v) }
            if let n = clip?.norm { window.add("grad_norm", Double(GradientClipping.clipNorm(parameters, n))) }
            optimizer.step(lr: lr)
            for (_, p) in parameters { p.value.grad = nil }
            step += 1
            progressed()
            tokensTotal += stepTokens
            window.add("loss", stepLoss)
            lastLoss = stepLoss
            let elapsed = Date().timeIntervalSince(t0)
            bar.advance(1, tokens: stepTokens, note: String(format: "loss %.4f  lr %.2e", stepLoss, lr))

            if step % recipe.training.logEvery == 0 || step == total {
                // Every rank logs the same steps: a collective, so metrics cover every rank's rows.
                var line = comm.isDistributed ? window.means(over: comm) : window.means()
                line["step"] = Double(step)
                line["lr"] = Double(lr)
                line["tokens_per_second"] = elapsed > 0 ? Double(tokensTotal) / elapsed : 0
                line["elapsed_seconds"] = elapsed
                if comm.isDistributed {
                    line["ranks"] = Double(comm.size)
                    line["allreduce_seconds"] = allReduceSteps > 0 ? allReduceSeconds / Double(allReduceSteps) : 0
                    line["rank_wait_seconds"] = allReduceSteps > 0 ? waitSeconds / Double(allReduceSteps) : 0
                }
                try metrics?.append(line, split: "train")
                window = MetricWindow()
            }
            // Evaluation is collective under MPI: each rank scores its share of the chunks and
            // every rank gets the result, so early-stopping decisions agree.
            if let e = recipe.training.evalEvery, step % e == 0 || step == total, let v = try evaluate() {
                if root {
                    lastEvaluation = v
                    var line = v
                    line["step"] = Double(step)
                    try metrics?.append(line, split: "validation")
                }
                if let l = v["loss"], let es = recipe.training.earlyStopping {
                    if bestVal.map({ l < $0 - es.minDelta }) ?? true { evaluationsWithoutImprovement = 0 } else { evaluationsWithoutImprovement += 1 }
                    if evaluationsWithoutImprovement >= es.patience && step < total {
                        stoppedEarly = true
                        log(String(format: "early stopping at step %d: validation loss %.5f has not improved on %.5f by more than %g for %d evaluation(s)",
                                   step, l, bestVal ?? l, es.minDelta, es.patience))
                    }
                }
                if let l = v["loss"], bestVal.map({ l < $0 }) ?? true {
                    bestVal = l
                    try saveCheckpoint(name: "best", loss: lastLoss, validationLoss: l)   // rank 0 writes
                }
            }
            if let c = recipe.training.checkpointEvery, step % c == 0, step < total {
                try saveCheckpoint(name: "checkpoint-\(step)", loss: lastLoss)
            }
        }
        if step > (resumedFrom ?? 0) || interrupted {
            try saveCheckpoint(name: "checkpoint-\(step)", loss: lastLoss)
        }
        bar.finish()
        let elapsed = Date().timeIntervalSince(t0)
        var summary = TrainingSummary(steps: step, finalLoss: lastLoss, trainableParameters: counts.trainable,
                                      totalParameters: counts.total,
                                      tokensPerSecond: elapsed > 0 ? Double(tokensTotal) / elapsed : 0,
                                      seconds: elapsed, bestValidationLoss: bestVal, resumedFrom: resumedFrom,
                                      interrupted: interrupted)
        summary.stoppedEarly = stoppedEarly
        summary.validation = lastEvaluation
        // The test split, once, on a completed run: with the best checkpoint's
        // weights when the run validated; the final weights are loaded back after.
        // Rank 0 alone: only it is sure to see best/ (the run directory may be local to it).
        if root, !interrupted, step == total || stoppedEarly, sources.contains(where: { !$0.test.isEmpty }) {
            let best = runDirectory.appendingPathComponent("best")
            let name = FileManager.default.fileExists(atPath: best.appendingPathComponent("state.json").path) ? "best" : "checkpoint-\(step)"
            if name == "best" { try loadModel(best) }
            let scored = try evaluate(.test, collective: false)
            if name == "best" { try loadModel(runDirectory.appendingPathComponent("checkpoint-\(step)")) }
            if var t = scored {
                summary.test = t
                summary.testCheckpoint = name
                let from = (try? JSONDecoder().decode(CheckpointState.self, from: Data(contentsOf: runDirectory.appendingPathComponent(name + "/state.json"))))?.step ?? step
                log("test (\(name), step \(from)): " + t.sorted { $0.key < $1.key }
                    .map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))
                t["step"] = Double(step)
                t["checkpoint_step"] = Double(from)
                try metrics?.append(t, split: "test")
            }
        }
        if comm.isDistributed {
            summary.worldSize = comm.size
            summary.allReduceSecondsPerStep = allReduceSteps > 0 ? allReduceSeconds / Double(allReduceSteps) : 0
            summary.rankWaitSecondsPerStep = allReduceSteps > 0 ? waitSeconds / Double(allReduceSteps) : 0
        }
        if root {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(summary).write(to: runDirectory.appendingPathComponent("summary.json"), options: .atomic)
        }
        comm.barrier()   // no rank reports success before rank 0 has written the run
        return summary
    }

    /// Loads a checkpoint's model and heads (not the optimizer) and evaluates
    /// one split: what `plm evaluate` prints. `checkpoint` is a directory of
    /// this run (`best`, `checkpoint-N`) or a path. Nil when the split is empty.
    public func evaluate(checkpoint: URL, split: ExampleSplit) throws -> [String: Double]? {
        try loadCheckpointModel(checkpoint)
        let state = try? JSONDecoder().decode(CheckpointState.self, from: Data(contentsOf: checkpoint.appendingPathComponent("state.json")))
        evaluationRanks = state?.worldSize ?? 1
        return try evaluate(split)
    }

    /// Loads a checkpoint's encoder and heads (not the optimizer), e.g. before `embed(to:…)`.
    public func loadCheckpointModel(_ checkpoint: URL) throws {
        guard FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent("state.json").path) else {
            throw TrainingError.noCheckpoint(checkpoint.path)
        }
        try loadModel(checkpoint)
    }

    /// Mean losses over every example of `split` (no grad, eval mode, no crop
    /// randomness), with the targets' whole-set metrics and baselines.
    /// `collective` (data-parallel runs): every rank calls it at the same
    /// step and scores a share of the chunks, and every rank gets the result;
    /// otherwise this process scores them all (the chunks, and MLM masks, are
    /// the same either way).
    func evaluate(_ split: ExampleSplit = .validation, collective: Bool = true) throws -> [String: Double]? {
        guard sources.contains(where: { !$0.indices(split).isEmpty }) else { return nil }
        encoder.module.train(false)
        for t in targets { t.head?.train(false) }
        defer {
            if encoder.module.namedParameters().contains(where: { $0.parameter.isTrainable }) { encoder.module.train(true) }
            for t in targets { t.head?.train(true) }
        }
        var window = MetricWindow()
        var predictions: [String: (target: Int, source: Int, rows: Predictions)] = [:]
        let comm: Communicator = collective ? communicator : SingleProcessCommunicator()
        var chunkNumber = 0   // over all sources: under MPI rank r evaluates chunks r, r + N, …
        try withNoGrad {
            for (si, s) in sources.enumerated() where !s.indices(split).isEmpty {
                let rows = s.indices(split)
                // The global batch: the same chunks (and MLM masks) for every rank count.
                let bs = recipe.training.batchSize * (evaluationRanks ?? communicator.size)
                for chunk in stride(from: 0, to: rows.count, by: bs) {
                    chunkNumber += 1
                    if comm.isDistributed && (chunkNumber - 1) % comm.size != comm.rank { continue }
                    var examples: [Example] = []
                    for k in rows[chunk..<min(chunk + bs, rows.count)] {
                        examples.append(try evaluationExample(s, k))
                    }
                    var b = Batch(source: s.config.name, group: s.config.group, examples: examples)
                    let active = targets.indices.filter { targets[$0].applies(to: b.source) }
                    for ti in active {
                        var r = rng(.prepare, -1 & 0x7fff_ffff, si * 64 + ti, chunk)
                        targets[ti].prepare(&b, rng: &r)
                    }
                    let request = active.reduce(EncoderRequest()) { $0.union(targets[$1].request) }
                    let ctx = ForwardContext()
                    let out = try encoder.encode(batch: b, request: request, context: ctx)
                    progressed()
                    var total = 0.0
                    for ti in active {
                        let res = try targets[ti].loss(b, output: out, encoder: encoder, context: ctx)
                        let key = sources.count > 1 ? "\(targetNames[ti])/\(b.source)" : targetNames[ti]
                        let l = Double(res.loss.item())
                        total += l * Double(s.config.weight)
                        window.add(key + "/loss", l, weight: Double(examples.count))
                        for (k, v) in res.metrics { window.add("\(key)/\(k)", v, weight: Double(examples.count)) }
                        if let p = res.predictions { predictions[key, default: (ti, si, Predictions())].rows.append(p) }
                    }
                    window.add("loss", total, weight: Double(examples.count))
                }
            }
        }
        var means = comm.isDistributed ? window.means(over: comm) : window.means()
        if comm.isDistributed { predictions = Self.gather(predictions, over: comm) }
        // Whole-set metrics (and their baselines) replace the batch means.
        for (key, p) in predictions.sorted(by: { $0.key < $1.key }) {
            let truth = try trainingTruth(target: p.target, source: p.source)
            guard let m = targets[p.target].evaluationMetrics(p.rows, trainingTruth: truth) else { continue }
            for k in means.keys where k.hasPrefix(key + "/") && k != key + "/loss" { means[k] = nil }
            for (k, v) in m { means["\(key)/\(k)"] = v }
        }
        return means
    }

    /// Every rank's predictions merged (a collective), rows in rank order per key.
    static func gather(_ mine: [String: (target: Int, source: Int, rows: Predictions)],
                       over comm: Communicator) -> [String: (target: Int, source: Int, rows: Predictions)] {
        let keys = mine.keys.sorted()
        var payload: [Double] = []
        func put(_ rows: [[Double]]) {
            payload.append(Double(rows.count))
            for r in rows { payload.append(Double(r.count)); payload += r }
        }
        for k in keys {
            let p = mine[k]!
            payload += [Double(p.target), Double(p.source)]
            put(p.rows.scores)
            put(p.rows.truth)
        }
        let allKeys = comm.allGatherStrings(keys), allPayloads = comm.allGatherDoubles(payload)
        var out: [String: (target: Int, source: Int, rows: Predictions)] = [:]
        for (rankKeys, data) in zip(allKeys, allPayloads) {
            var i = 0
            func take() -> [[Double]] {
                let n = Int(data[i]); i += 1
                var rows: [[Double]] = []
                for _ in 0..<n { let w = Int(data[i]); rows.append(Array(data[(i + 1)..<(i + 1 + w)])); i += 1 + w }
                return rows
            }
            for k in rankKeys {
                let ti = Int(data[i]), si = Int(data[i + 1]); i += 2
                let scores = take(), truth = take()
                out[k, default: (ti, si, Predictions())].rows.append(Predictions(scores: scores, truth: truth))
            }
        }
        return out
    }

    /// Evaluation example `k` of `s` as evaluation sees it (cropped from the start).
    func evaluationExample(_ s: Source, _ k: Int) throws -> Example {
        let e = try s.data.example(at: k)
        return e.tokens.count - 2 > recipe.data.maxLength ? e.cropped(start: 0, length: recipe.data.maxLength) : e
    }

    /// Truth rows of a source's training split for one target (read once,
    /// cached): the baselines' training data. A source without training
    /// examples (`role: validation` / `test`) uses every training source the
    /// target scores instead.
    func trainingTruth(target ti: Int, source si: Int) throws -> [[Double]] {
        if let t = trainingTruthCache["\(ti)/\(si)"] { return t }
        let from = !sources[si].train.isEmpty ? [si]
            : sources.indices.filter { !sources[$0].train.isEmpty && targets[ti].applies(to: sources[$0].config.name) }
        let bs = max(recipe.training.batchSize, 16)
        var rows: [[Double]] = []
        for j in from {
            let s = sources[j]
            for chunk in stride(from: 0, to: s.train.count, by: bs) {
                let examples = try s.train[chunk..<min(chunk + bs, s.train.count)].map { try evaluationExample(s, $0) }
                guard let t = try targets[ti].truth(Batch(source: s.config.name, group: s.config.group, examples: examples)) else { break }
                rows += t
            }
        }
        trainingTruthCache["\(ti)/\(si)"] = rows
        return rows
    }

    // MARK: Checkpoints

    /// Writes `name/` atomically: the encoder (HF layout), heads, optimizer state, state.json.
    /// Rank 0 only (other ranks return at once); written to a temporary
    /// directory and renamed, so a rank killed mid-write leaves no corrupt checkpoint.
    func saveCheckpoint(name: String, loss: Double, validationLoss: Double? = nil) throws {
        guard communicator.isRoot else { return }
        let fm = FileManager.default
        let final = runDirectory.appendingPathComponent(name)
        let tmp = runDirectory.appendingPathComponent(".\(name).tmp-\(getpid())")
        try? fm.removeItem(at: tmp)
        try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        try encoder.save(to: tmp)
        var heads: [String: Tensor] = [:]
        for (t, n) in zip(targets, targetNames) {
            guard let h = t.head else { continue }
            for (k, v) in h.stateDict() { heads["heads.\(n).\(k)"] = v }
        }
        if !heads.isEmpty { try SafeTensors.write(heads, to: tmp.appendingPathComponent("heads.safetensors")) }
        try SafeTensors.write(optimizer.stateTensors(), to: tmp.appendingPathComponent("optimizer.safetensors"))
        let state = CheckpointState(step: step, seed: recipe.seed, loss: loss.isFinite ? loss : nil,
                                    validationLoss: validationLoss, recipeSHA: Checkpoints.digest(resolvedYAML),
                                    threads: Threads.count, blasCore: Threads.blasCoreName,
                                    worldSize: communicator.isDistributed ? communicator.size : nil,
                                    evaluationsWithoutImprovement: recipe.training.earlyStopping == nil ? nil : evaluationsWithoutImprovement,
                                    stoppedEarly: stoppedEarly ? true : nil)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(state).write(to: tmp.appendingPathComponent("state.json"))
        if fm.fileExists(atPath: final.path) {
            // Replace by two renames, never delete-then-move: a kill between them leaves the
            // previous copy as `.NAME.old-PID`, which `Checkpoints.recover` puts back.
            let old = runDirectory.appendingPathComponent(".\(name).old-\(getpid())")
            try? fm.removeItem(at: old)
            try fm.moveItem(at: final, to: old)
            try fm.moveItem(at: tmp, to: final)
            try? fm.removeItem(at: old)
        } else {
            try fm.moveItem(at: tmp, to: final)
        }
        if name.hasPrefix("checkpoint-") { Checkpoints.prune(runDirectory, keep: recipe.training.keepCheckpoints) }
        progressed()
    }

    /// Every rank must start from the same step and parameters: compares a
    /// checksum of them across ranks (a collective).
    func checkRanksAgree() throws {
        var sum = 0.0, weighted = 0.0
        var k = 0.0
        for (_, p) in parameters {
            let v = p.value, d = v.data
            for i in stride(from: 0, to: v.count, by: max(1, v.count / 64)) { sum += Double(d[i]); k += 1; weighted += Double(d[i]) * k }
        }
        let mine: [Float] = [Float(step), Float(sum), Float(weighted)]
        let all = communicator.allGather(mine)
        for r in 1..<communicator.size where Array(all[(3 * r)..<(3 * r + 3)]) != Array(all[0..<3]) {
            throw TrainingError.plugin("rank \(r) starts from a different state than rank 0 (step \(Int(all[3 * r])) vs \(Int(all[0])), or different parameters); the run directory must be the same for every rank")
        }
    }

    func loadCheckpoint(_ dir: URL) throws {
        if let st = try? JSONDecoder().decode(CheckpointState.self, from: Data(contentsOf: dir.appendingPathComponent("state.json"))) {
            if st.recipeSHA != Checkpoints.digest(resolvedYAML) {
                log("note: the recipe differs from the one this checkpoint was trained with")
            }
            if (st.worldSize ?? 1) != communicator.size {
                log("note: checkpoint was written by \(st.worldSize ?? 1) rank(s), this run has \(communicator.size): the global batch is batch_size × ranks, so the continuation differs from the original run")
            }
            evaluationsWithoutImprovement = st.evaluationsWithoutImprovement ?? 0
            stoppedEarly = st.stoppedEarly ?? false
            if let t = st.threads, let c = st.blasCore, t != Threads.count || c != Threads.blasCoreName {
                log("note: checkpoint was written with \(t) threads on OpenBLAS \(c), this run uses \(Threads.count) on \(Threads.blasCoreName); the continuation is not bit-identical to an uninterrupted run")
            }
        }
        try loadModel(dir)
        let opt = try SafeTensorsFile(url: dir.appendingPathComponent("optimizer.safetensors"))
        do { try optimizer.loadState(try opt.tensors(copy: true)) } catch {
            throw TrainingError.checkpointMismatch("\(error)")
        }
    }

    /// Loads a checkpoint's encoder and head weights (the optimizer is left alone).
    func loadModel(_ dir: URL) throws {
        try encoder.load(from: dir)
        let headsURL = dir.appendingPathComponent("heads.safetensors")
        if targets.contains(where: { $0.head != nil }) {
            let hf = try SafeTensorsFile(url: headsURL)
            var exp: [String: [Int]] = [:]
            for (t, n) in zip(targets, targetNames) { for (k, s) in t.head?.expectedShapes() ?? [:] { exp["heads.\(n).\(k)"] = s } }
            let ht = try hf.loadParameters(exp, copy: true)
            for (t, n) in zip(targets, targetNames) {
                guard let h = t.head else { continue }
                var mine: [String: Tensor] = [:]
                for (k, v) in ht where k.hasPrefix("heads.\(n).") { mine[String(k.dropFirst("heads.\(n).".count))] = v }
                h.load(mine)
            }
        }
        // Parameters were replaced: re-apply trainability flags on the new tensors.
        for (_, p) in encoder.module.namedParameters() { let t = p.isTrainable; p.isTrainable = t }
    }
}

/// Default tuning when a recipe gives none.
struct FullTuningConfigDefault: TuningPluginConfig {
    static let category = PluginCategory.tuning
    init() {}
    init(from decoder: Decoder) throws {}
    func encode(to encoder: Encoder) throws {}
    func makeStrategy(_ ctx: BuildContext) throws -> TuningStrategy { SetTrainable(true) }
}

/// Running means of named values between log lines.
struct MetricWindow {
    var sums: [String: Double] = [:], weights: [String: Double] = [:]
    mutating func add(_ k: String, _ v: Double, weight: Double = 1) {
        sums[k, default: 0] += v * weight
        weights[k, default: 0] += weight
    }
    func means() -> [String: Double] {
        var out: [String: Double] = [:]
        for (k, s) in sums { out[k] = s / max(weights[k] ?? 1, 1e-12) }
        return out
    }

    /// The means over every rank's window (a collective: every rank calls it
    /// at the same step). Each metric is the weighted mean over the ranks'
    /// entries (losses, already global, come out unchanged); a metric only
    /// some ranks have is averaged over those.
    func means(over comm: Communicator) -> [String: Double] {
        let keys = Set(comm.allGatherStrings(sums.keys.sorted()).joined()).sorted()
        var packed: [Double] = []
        for k in keys { packed.append(sums[k] ?? 0); packed.append(weights[k] ?? 0) }
        comm.allReduceSum(&packed)
        var out: [String: Double] = [:]
        for (i, k) in keys.enumerated() where packed[2 * i + 1] > 0 { out[k] = packed[2 * i] / packed[2 * i + 1] }
        return out
    }
}
