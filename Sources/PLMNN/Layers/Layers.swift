import Foundation
import PLMTensor

/// y = x Wᵀ + b. `weight` [out, in], `bias` [out] (HF/PyTorch layout).
public final class Linear: Module {
    public let inFeatures: Int, outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?
    /// Low-rank update added to the output while attached and not merged.
    public internal(set) var lora: LoRA?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Parameter.placeholder([outFeatures, inFeatures])
        self.bias = bias ? Parameter.placeholder([outFeatures]) : nil
        super.init()
        register("weight", weight)
        if let b = self.bias { register("bias", b) }
    }

    /// x [..., in] -> [..., out] (plus the LoRA branch when attached; its
    /// dropout draws from `context` in training mode).
    public func callAsFunction(_ x: Tensor, context: ForwardContext? = nil) -> Tensor {
        precondition(x.shape.last == inFeatures, "Linear(\(inFeatures)→\(outFeatures)): input \(Shape.describe(x.shape))")
        var y = x.matmul(weight.value, transposeB: true)
        if let b = bias { y = y + b.value }
        if let l = lora, !l.isMerged { y = y + l.delta(x, training: isTraining, context: context) }
        return y
    }
}

/// Lookup table `weight` [num, dim]; `paddingIndex` rows get no gradient.
public final class Embedding: Module {
    public let weight: Parameter
    public let paddingIndex: Int?

    public init(_ num: Int, _ dim: Int, paddingIndex: Int? = nil) {
        weight = Parameter.placeholder([num, dim])
        self.paddingIndex = paddingIndex
        super.init()
        register("weight", weight)
    }

    /// ids S -> S + [dim]
    public func callAsFunction(_ ids: IndexTensor) -> Tensor {
        weight.value.embedding(ids, paddingIndex: paddingIndex)
    }
}

/// Layer normalisation over the last dim with affine `weight`/`bias` [dim].
public final class LayerNorm: Module {
    public let weight: Parameter, bias: Parameter
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-5) {
        weight = Parameter.placeholder([dim], fill: 1)
        bias = Parameter.placeholder([dim], fill: 0)
        self.eps = eps
        super.init()
        register("weight", weight)
        register("bias", bias)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.layerNorm(weight: weight.value, bias: bias.value, eps: eps)
    }
}

/// Inverted dropout, active in training mode only; draws from a seeded RNG.
public final class Dropout: Module {
    public let p: Float

    public init(_ p: Float) {
        self.p = p
        super.init()
    }

    public func callAsFunction(_ x: Tensor, rng: inout RNG) -> Tensor {
        x.dropout(p, rng: &rng, training: isTraining)
    }
}

extension Parameter {
    /// A parameter of a shape filled with a constant (initialisers overwrite it).
    static func placeholder(_ shape: [Int], fill: Float = 0) -> Parameter {
        Parameter(Tensor.full(shape, fill), trainable: true)
    }
}

extension Module {
    /// Registers an already-made parameter object under `name`.
    func register(_ name: String, _ p: Parameter) {
        registerExisting(name, p)
    }
}
