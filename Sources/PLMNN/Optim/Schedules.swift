import Foundation

/// Learning rate as a function of the (0-based) optimizer step.
public protocol LRSchedule: Sendable {
    func lr(at step: Int) -> Float
}

/// A constant rate.
public struct ConstantLR: LRSchedule {
    public let base: Float
    public init(_ base: Float) { self.base = base }
    public func lr(at step: Int) -> Float { base }
}

/// SeqDance's schedule: linear warmup from 0 to `base` over `warmupSteps`,
/// linear decay to `decayTo · base` at step `decayEnd · totalSteps`, then constant.
public struct WarmupLinearLR: LRSchedule {
    public let base: Float, warmupSteps: Int, totalSteps: Int, decayTo: Float, decayEnd: Float

    public init(base: Float, warmupSteps: Int, totalSteps: Int, decayTo: Float = 0.1, decayEnd: Float = 0.9) {
        self.base = base; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
        self.decayTo = decayTo; self.decayEnd = decayEnd
    }

    public func lr(at step: Int) -> Float {
        if step < warmupSteps { return base * Float(step + 1) / Float(max(warmupSteps, 1)) }
        let end = max(Int((Double(decayEnd) * Double(totalSteps)).rounded()), warmupSteps + 1)
        if step >= end { return base * decayTo }
        let f = Float(step - warmupSteps) / Float(end - warmupSteps)
        return base * (1 - f * (1 - decayTo))
    }
}

/// S-PLM's cosine schedule with warmup and restarts: cycle k lasts
/// `firstCycleSteps · cycleMult^k` steps; each starts with `warmupSteps` of
/// linear warmup from `minLR` to the cycle's peak (`base · gamma^k`), then a
/// cosine down to `minLR`.
public struct CosineRestartsLR: LRSchedule {
    public let base: Float, minLR: Float, firstCycleSteps: Int, cycleMult: Float, warmupSteps: Int, gamma: Float

    public init(base: Float, minLR: Float = 0, firstCycleSteps: Int, cycleMult: Float = 1, warmupSteps: Int = 0, gamma: Float = 1) {
        self.base = base; self.minLR = minLR; self.firstCycleSteps = max(firstCycleSteps, 1)
        self.cycleMult = max(cycleMult, 1); self.warmupSteps = warmupSteps; self.gamma = gamma
    }

    public func lr(at step: Int) -> Float {
        var s = step, len = firstCycleSteps, k = 0
        while s >= len {
            s -= len; k += 1
            len = max(1, Int((Float(len) * cycleMult).rounded()))
        }
        let peak = base * Foundation.pow(gamma, Float(k))
        if s < warmupSteps { return minLR + (peak - minLR) * Float(s) / Float(warmupSteps) }
        let f = Float(s - warmupSteps) / Float(max(len - warmupSteps, 1))
        return minLR + (peak - minLR) * 0.5 * (1 + Foundation.cos(Float.pi * f))
    }
}
