import Foundation
import PLMTensor

/// Low-rank adaptation of a Linear layer: `W x + (alpha / r) · B A dropout(x)`.
/// A [r, in] starts Kaiming-uniform (as PEFT), B [out, r] at zero, so an
/// attached LoRA leaves the output unchanged until it trains. Parameters are
/// registered on the wrapped Linear as `lora_A.weight` and `lora_B.weight`
/// (PEFT's names, without its `base_model.model.` prefix and adapter name).
public final class LoRA {
    public let rank: Int
    public let alpha: Float
    public let dropout: Float
    public let a: Linear     // in -> r
    public let b: Linear     // r -> out
    public private(set) var isMerged = false
    unowned let base: Linear

    public var scale: Float { alpha / Float(rank) }

    init(base: Linear, rank: Int, alpha: Float, dropout: Float, rng: inout RNG) {
        self.base = base
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        a = Linear(base.inFeatures, rank, bias: false)
        b = Linear(rank, base.outFeatures, bias: false)
        Init.kaimingUniformLinear(a.weight, fanIn: base.inFeatures, rng: &rng)
        Init.constant(b.weight, 0)
    }

    /// scale · B A dropout(x)
    func delta(_ x: Tensor, training: Bool, context: ForwardContext?) -> Tensor {
        var h = x
        if training && dropout > 0, let ctx = context { h = h.dropout(dropout, rng: &ctx.rng) }
        return b(a(h)) * scale
    }

    /// Folds the update into the base weight: W += scale · B A. The LoRA
    /// branch is skipped while merged.
    public func merge() {
        guard !isMerged else { return }
        let d = withNoGrad { b.weight.value.matmul(a.weight.value) * scale }
        base.weight.value.addInPlace(d)
        isMerged = true
    }

    /// Undoes `merge()`: W -= scale · B A.
    public func unmerge() {
        guard isMerged else { return }
        let d = withNoGrad { b.weight.value.matmul(a.weight.value) * scale }
        base.weight.value.addInPlace(d, alpha: -1)
        isMerged = false
    }
}

extension Linear {
    /// Attaches a LoRA branch (registered as `lora_A` / `lora_B`) and returns it.
    @discardableResult
    public func attachLoRA(rank: Int, alpha: Float, dropout: Float = 0, rng: inout RNG) -> LoRA {
        precondition(lora == nil, "a LoRA branch is already attached")
        precondition(rank >= 1, "LoRA rank must be at least 1")
        let l = LoRA(base: self, rank: rank, alpha: alpha, dropout: dropout, rng: &rng)
        l.a.train(isTraining); l.b.train(isTraining)
        child("lora_A", l.a)
        child("lora_B", l.b)
        lora = l
        return l
    }

    /// Removes the LoRA branch (unmerging it first if merged).
    public func detachLoRA() {
        guard let l = lora else { return }
        l.unmerge()
        removeChild("lora_A")
        removeChild("lora_B")
        lora = nil
    }
}
