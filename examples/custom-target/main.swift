// How a third party adds a training target to PLMKit without touching it:
// define a config type (decoded strictly from its recipe section), a target
// (head parameters + loss), register the kind, then train from a recipe.
//
//   swift run custom-target-example examples/custom-target/recipe.yaml --out /tmp/hydropathy-run
//
// The target here regresses each residue's Kyte–Doolittle hydropathy from the
// encoder's final representations with a small head (MSE over residues).
import Foundation
import PLMKit
import PLMNN
import PLMTensor

/// Recipe section: `- {kind: hydropathy, hidden: 32}`.
struct HydropathyConfig: TargetPluginConfig {
    static let category = PluginCategory.target
    var hidden: Int

    enum CodingKeys: String, CodingKey { case hidden }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hidden = try c.decodeIfPresent(Int.self, forKey: .hidden) ?? 32
        if hidden < 1 { throw recipeError(decoder, key: CodingKeys.hidden, "must be at least 1") }
    }

    func makeTarget(_ ctx: BuildContext, encoder: ProteinEncoder) throws -> TrainingTarget {
        HydropathyTarget(dim: encoder.hiddenSize, hidden: hidden, seed: ctx.seed)
    }
}

/// Kyte & Doolittle (1982) hydropathy by ESM token id (0 for non-standard tokens).
let hydropathy: [Int32: Float] = {
    let scale: [Character: Float] = ["I": 4.5, "V": 4.2, "L": 3.8, "F": 2.8, "C": 2.5, "M": 1.9, "A": 1.8, "G": -0.4, "T": -0.7,
                                     "S": -0.8, "W": -0.9, "Y": -1.3, "P": -1.6, "H": -3.2, "E": -3.5, "Q": -3.5, "D": -3.5,
                                     "N": -3.5, "K": -3.9, "R": -4.5]
    let tokens = ["L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N", "F", "Y", "M", "H", "W", "C"]
    var out: [Int32: Float] = [:]
    for (i, t) in tokens.enumerated() { out[Int32(4 + i)] = scale[Character(t)]! }
    return out
}()

final class HydropathyTarget: TrainingTarget {
    let name = "hydropathy"
    let request = EncoderRequest()
    let headModule = ModuleGroup()
    let fc1: Linear, fc2: Linear
    var head: Module? { headModule }

    init(dim: Int, hidden: Int, seed: UInt64) {
        fc1 = Linear(dim, hidden)
        fc2 = Linear(hidden, 1)
        headModule.child("fc1", fc1)
        headModule.child("fc2", fc2)
        var rng = RNG(seed: seed ^ 0xC0FFEE)
        Init.kaimingUniformLinear(fc1.weight, fanIn: dim, rng: &rng)
        Init.kaimingUniformLinear(fc2.weight, fanIn: hidden, rng: &rng)
    }

    func loss(_ batch: Batch, output: EsmOutput, encoder: ProteinEncoder, context: ForwardContext) throws -> TargetResult {
        let h = output.lastHiddenState                                    // [B, T, d]
        let pred = fc2(fc1(h).gelu()).squeezed(-1)                         // [B, T]
        var target = [Float](repeating: 0, count: batch.tokens.count), mask = target
        for (i, t) in batch.tokens.values.enumerated() {
            if let v = hydropathy[t] { target[i] = v / 4.5; mask[i] = 1 }  // residues only, scaled to [-1, 1]
        }
        let m = Tensor(shape: batch.tokens.shape, values: mask)
        let diff = (pred - Tensor(shape: batch.tokens.shape, values: target)) * m
        let n = max(mask.reduce(0, +), 1)
        let loss = (diff * diff).sum() * (1 / n)
        return TargetResult(loss: loss, metrics: ["rmse": Double(loss.item()).squareRoot()])
    }
}

// --- the program -----------------------------------------------------------
let args = CommandLine.arguments.dropFirst()
guard let recipePath = args.first else {
    FileHandle.standardError.write(Data("usage: custom-target-example RECIPE.yaml [--out RUN_DIR]\n".utf8))
    exit(2)
}
let out = args.firstIndex(of: "--out").flatMap { args.index(after: $0) < args.endIndex ? args[args.index(after: $0)] : nil }
    ?? "runs/custom-target"
do {
    let registry = PluginRegistry()
    try registry.registerCoreBuiltins()                    // esm2, fasta, adamw, … (what `plm` registers)
    try registry.register(HydropathyConfig.self, kind: "hydropathy", summary: "per-residue Kyte–Doolittle regression",
                          module: "custom-target-example")
    let (recipe, _) = try RecipeLoader.load(path: recipePath, registry: registry)
    let trainer = try Trainer(recipe: recipe, runDirectory: URL(fileURLWithPath: out), resume: false, showProgress: false)
    let s = try trainer.run()
    print(String(format: "hydropathy run: %d steps, final loss %.4f, run directory %@", s.steps, s.finalLoss, out))
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(1)
}
