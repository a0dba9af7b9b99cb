import Foundation
import PLMNN
import PLMTensor

// `plm bench`: the workload of /work/shared/bench/torch_esm_bench.py (the
// PyTorch + HuggingFace reference) so the two can be compared number for
// number: a random-init ESM-2 of a preset (`initialize(.huggingFace)`), one
// batch of B sequences of L tokens (BOS … EOS, residues drawn from the 20
// standard amino acids), MLM cross-entropy on 15% of the residue positions
// (replaced by <mask>) and an AdamW step for `train`; a no-grad forward of the
// unmasked batch through the LM head for `infer`. FLOPs are counted exactly
// as the reference does: 2·(non-embedding parameters) + 4·L·d·layers per token
// for the forward pass, three times that for a training step.

/// What to run.
public struct BenchOptions: Sendable {
    public enum Mode: String, Sendable, CaseIterable { case train, infer }
    public var preset: String
    public var batch: Int
    public var length: Int
    public var mode: Mode
    public var steps: Int
    public var warmup: Int
    /// nil: keep the runtime's choice (all cores or PLM_NUM_THREADS).
    public var threads: Int?
    public var seed: UInt64
    /// Also return every layer's attention probabilities (as SeqDance's pair
    /// head and `plm embed --attentions` need): the unfused attention path.
    public var attentions: Bool

    public init(preset: String = "t6_8M", batch: Int = 8, length: Int = 256, mode: Mode = .train,
                steps: Int = 5, warmup: Int = 2, threads: Int? = nil, seed: UInt64 = 0, attentions: Bool = false) {
        self.preset = preset; self.batch = batch; self.length = length; self.mode = mode
        self.steps = steps; self.warmup = warmup; self.threads = threads; self.seed = seed
        self.attentions = attentions
    }
}

/// One benchmark's measurements (keys as the reference script prints them).
public struct BenchResult: Sendable {
    public var impl: String
    public var preset: String
    public var batch: Int
    public var length: Int
    public var mode: String
    public var threads: Int
    public var blasCore: String
    public var steps: Int
    public var secondsPerStep: Double
    public var tokensPerSecond: Double
    public var gflopsPerSecond: Double
    /// CPU time (user + system, all threads) per timed step: less sensitive
    /// than wall time to other processes competing for the cores.
    public var cpuSecondsPerStep: Double
    /// Minor page faults per timed step (fresh memory being touched).
    public var pageFaultsPerStep: Int
    public var peakRSSBytes: Int
    /// Largest number of bytes held by tensor storages at once (engine view).
    public var peakTensorBytes: Int
    public var lastLoss: Double?
    /// Whether attention probabilities were materialised (`--attentions`).
    public var attentions: Bool = false

    /// One JSON object with sorted keys.
    public func json() -> String {
        var o: [String: Any] = [
            "impl": impl, "preset": preset, "batch": batch, "length": length, "mode": mode,
            "threads": threads, "blas_core": blasCore, "steps": steps,
            "seconds_per_step": secondsPerStep, "tokens_per_second": tokensPerSecond,
            "gflops_per_second": gflopsPerSecond, "cpu_seconds_per_step": cpuSecondsPerStep,
            "page_faults_per_step": pageFaultsPerStep,
            "peak_rss_bytes": peakRSSBytes,
            "peak_tensor_bytes": peakTensorBytes, "attentions": attentions,
        ]
        if let l = lastLoss { o["loss"] = l }
        let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// A few human-readable lines.
    public func summary() -> String {
        var s = String(format: "%@ %@ B=%d L=%d: %.1f tokens/s, %.3f s/step, %.2f GFLOP/s, peak RSS %.0f MiB",
                       preset, mode, batch, length, tokensPerSecond, secondsPerStep, gflopsPerSecond,
                       Double(peakRSSBytes) / 1_048_576)
        s += String(format: "\n  threads %d, OpenBLAS core %@, %d timed steps, %.3f CPU s/step, peak tensor memory %.0f MiB",
                    threads, blasCore, steps, cpuSecondsPerStep, Double(peakTensorBytes) / 1_048_576)
        if let l = lastLoss { s += String(format: ", loss %.4f", l) }
        return s
    }
}

/// A bad benchmark request (names the option).
public struct BenchError: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

public enum Benchmark {
    static func usage() -> rusage {
        var u = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &u)
        #else
        getrusage(RUSAGE_SELF, &u)
        #endif
        return u
    }

    /// CPU seconds (user + system) this process has used so far.
    public static func cpuSeconds() -> Double {
        let u = usage()
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    /// Minor page faults (pages first touched) so far.
    public static func minorFaults() -> Int { Int(usage().ru_minflt) }

    /// Peak resident set size of this process in bytes (getrusage; Linux reports KiB).
    public static func peakRSSBytes() -> Int {
        var u = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Int(u.ru_maxrss) * 1024
        #else
        getrusage(RUSAGE_SELF, &u)
        return Int(u.ru_maxrss)
        #endif
    }

    /// The reference script's batch: ids uniform over the 20 standard amino
    /// acids (4..<24), BOS (0) first and EOS (2) last; 15% of the residue
    /// positions selected, replaced by <mask> (32) in `inputs`, labelled in
    /// `labels` (-100 elsewhere).
    public static func makeBatch(batch b: Int, length l: Int, seed: UInt64)
        -> (ids: IndexTensor, inputs: IndexTensor, labels: IndexTensor) {
        var rng = RNG(seed: seed)
        var ids = [Int32](repeating: 0, count: b * l)
        var inputs = ids, labels = [Int32](repeating: -100, count: b * l)
        for r in 0..<b {
            for j in 0..<l {
                let i = r * l + j
                let v: Int32 = j == 0 ? 0 : (j == l - 1 ? 2 : Int32(4 + rng.nextInt(below: 20)))
                ids[i] = v
                inputs[i] = v
                if j > 0 && j < l - 1 && rng.nextFloat() < 0.15 {
                    labels[i] = v
                    inputs[i] = 32
                }
            }
        }
        return (IndexTensor(shape: [b, l], values: ids), IndexTensor(shape: [b, l], values: inputs),
                IndexTensor(shape: [b, l], values: labels))
    }

    /// Forward FLOPs per token as the reference counts them.
    public static func forwardFLOPsPerToken(_ model: EsmForMaskedLM, length: Int) -> Double {
        let nonEmbedding = model.namedParameters()
            .filter { !$0.name.contains("embeddings") }
            .reduce(0) { $0 + $1.parameter.value.count }
        let c = model.config
        return Double(2 * nonEmbedding + 4 * length * c.hiddenSize * c.numHiddenLayers)
    }

    /// Builds the model and runs `warmup` untimed then `steps` timed steps.
    public static func run(_ o: BenchOptions) throws -> BenchResult {
        guard o.batch >= 1 else { throw BenchError(message: "--batch must be >= 1, got \(o.batch)") }
        guard o.length >= 3 else { throw BenchError(message: "--length must be >= 3 (BOS, a residue, EOS), got \(o.length)") }
        guard o.steps >= 1 else { throw BenchError(message: "--steps must be >= 1, got \(o.steps)") }
        guard o.warmup >= 0 else { throw BenchError(message: "--warmup must be >= 0, got \(o.warmup)") }
        if let t = o.threads {
            guard t >= 1 else { throw BenchError(message: "--threads must be >= 1, got \(t)") }
            Threads.configure(t)
        }
        let config = try EsmConfig.preset(o.preset)
        if o.length > config.maxPositionEmbeddings {
            throw BenchError(message: "--length \(o.length) exceeds the model's \(config.maxPositionEmbeddings) positions")
        }
        let model = EsmForMaskedLM(config)
        model.initialize(.huggingFace, seed: o.seed)
        let (ids, inputs, labels) = makeBatch(batch: o.batch, length: o.length, seed: o.seed &+ 1)
        let flatLabels = IndexTensor(shape: [labels.count], values: labels.values)
        var lastLoss: Double? = nil
        let step: () -> Void
        let forward: (IndexTensor) -> Tensor = { tokens in
            guard o.attentions else { return model.logits(tokens) }
            let out = model.esm(tokens, attentions: true)
            return model.logits(fromHidden: out.lastHiddenState)
        }
        switch o.mode {
        case .train:
            model.train(true)
            let optimizer = AdamW(model.namedParameters(), betas: (0.9, 0.999), eps: 1e-8, weightDecay: 0.01)
            step = {
                let logits = forward(inputs)
                let loss = logits.reshaped([-1, config.vocabSize]).crossEntropy(targets: flatLabels, ignoreIndex: -100)
                loss.backward()
                optimizer.step(lr: 1e-4)
                model.zeroGrad()
                lastLoss = Double(loss.item())
            }
        case .infer:
            model.train(false)
            step = { withNoGrad { _ = forward(ids) } }
        }
        for _ in 0..<o.warmup { step() }
        let t0 = DispatchTime.now().uptimeNanoseconds, c0 = cpuSeconds(), f0 = minorFaults()
        for _ in 0..<o.steps { step() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(o.steps)
        let cpu = (cpuSeconds() - c0) / Double(o.steps)
        let faults = (minorFaults() - f0) / o.steps
        let tokens = Double(o.batch * o.length)
        let flops = forwardFLOPsPerToken(model, length: o.length) * (o.mode == .train ? 3 : 1) * tokens
        return BenchResult(
            impl: "plmkit \(PLMKitVersion.string)", preset: o.preset, batch: o.batch, length: o.length,
            mode: o.mode.rawValue, threads: Threads.count, blasCore: Threads.blasCoreName, steps: o.steps,
            secondsPerStep: seconds, tokensPerSecond: tokens / seconds, gflopsPerSecond: flops / seconds / 1e9,
            cpuSecondsPerStep: cpu, pageFaultsPerStep: faults, peakRSSBytes: peakRSSBytes(), peakTensorBytes: MemoryStats.peakBytes,
            lastLoss: lastLoss, attentions: o.attentions)
    }
}
