import Foundation
import PLMTensor

/// Parameter initialisers (all seeded, deterministic).
public enum Init {
    /// N(0, std²) — HuggingFace ESM's default (std = initializer_range, 0.02).
    public static func normal(_ p: Parameter, std: Float, rng: inout RNG) {
        rng.fillNormal(p.value.data, p.value.count, mean: 0, std: std)
    }

    /// Xavier/Glorot uniform: U(-a, a), a = gain·√(6 / (fan_in + fan_out)), for [out, in] weights.
    public static func xavierUniform(_ p: Parameter, gain: Float = 1, rng: inout RNG) {
        precondition(p.shape.count == 2, "xavierUniform needs a 2-D weight, got \(Shape.describe(p.shape))")
        let a = gain * (6 / Float(p.shape[0] + p.shape[1])).squareRoot()
        rng.fillUniform(p.value.data, p.value.count, low: -a, high: a)
    }

    /// Kaiming-uniform as torch.nn.Linear's default (a = √5): U(-1/√fan_in, 1/√fan_in).
    public static func kaimingUniformLinear(_ p: Parameter, fanIn: Int, rng: inout RNG) {
        let b = 1 / Float(fanIn).squareRoot()
        rng.fillUniform(p.value.data, p.value.count, low: -b, high: b)
    }

    public static func constant(_ p: Parameter, _ v: Float) { p.value.fill(v) }
}
