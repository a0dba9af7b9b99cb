import ArgumentParser
import Foundation
import PLMKit

/// `plm bench`: throughput and memory of one ESM-2 workload (the same as the
/// PyTorch reference script /work/shared/bench/torch_esm_bench.py).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure ESM-2 training or inference throughput (tokens/s, GFLOP/s, peak RSS).",
        discussion: """
        Random-init ESM-2 of a preset, one batch of B sequences of L tokens
        (BOS/EOS included). train: MLM loss on 15% masked positions, backward,
        AdamW step. infer: forward through the LM head without gradients.
        Run one mode per process: peak RSS is per process.
        """)

    @Option(help: "ESM-2 size: t6_8M, t12_35M, t30_150M, t33_650M, ...")
    var preset: String = "t6_8M"
    @Option(help: "Sequences per batch.")
    var batch: Int = 8
    @Option(help: "Tokens per sequence, BOS and EOS included.")
    var length: Int = 256
    @Option(help: "train or infer.")
    var mode: String = "train"
    @Option(help: "Timed steps.")
    var steps: Int = 5
    @Option(help: "Untimed steps first.")
    var warmup: Int = 2
    @Option(help: "Threads (default: all cores or PLM_NUM_THREADS).")
    var threads: Int?
    @Option(help: "Seed for the weights and the batch.")
    var seed: UInt64 = 0
    @Flag(help: "Print one JSON object.")
    var json = false
    @Flag(help: "Also return every layer's attention probabilities (the unfused attention path SeqDance's pair head needs).")
    var attentions = false

    func run() throws {
        try reportingErrors {
            guard let m = BenchOptions.Mode(rawValue: mode) else {
                throw BenchError(message: "--mode must be train or infer, got '\(mode)'")
            }
            let o = BenchOptions(preset: preset, batch: batch, length: length, mode: m, steps: steps,
                                 warmup: warmup, threads: threads, seed: seed, attentions: attentions)
            let r = try Benchmark.run(o)
            print(json ? r.json() : r.summary())
        }
    }
}
