import Foundation
import PLMTensor

/// A named trainable tensor as the optimizer sees it.
public typealias NamedParameter = (name: String, parameter: Parameter)

/// Common interface of optimizers: one step with a given learning rate, and
/// state that checkpoints as named tensors.
public protocol Optimizer: AnyObject {
    /// Applies one update to every parameter that has a gradient.
    func step(lr: Float)
    /// Steps taken so far.
    var stepCount: Int { get }
    /// Optimizer state as named tensors (for `optimizer.safetensors`).
    func stateTensors() -> [String: Tensor]
    /// Restores state written by `stateTensors()`; names must match.
    func loadState(_ tensors: [String: Tensor]) throws
}

/// A checkpoint's optimizer state does not fit the model.
public struct OptimizerStateError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { "optimizer state: \(message)" }
}

/// AdamW as torch.optim.AdamW: decoupled weight decay `p -= lr·wd·p`, then
/// Adam with bias correction, `p -= lr · m̂ / (√v̂ + eps)`.
public final class AdamW: Optimizer {
    public let parameters: [NamedParameter]
    public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public private(set) var stepCount = 0
    var m: [Tensor], v: [Tensor]

    public init(_ parameters: [NamedParameter], betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8, weightDecay: Float = 0.01) {
        self.parameters = parameters
        beta1 = betas.0; beta2 = betas.1
        self.eps = eps
        self.weightDecay = weightDecay
        m = parameters.map { Tensor.zeros($0.parameter.shape) }
        v = parameters.map { Tensor.zeros($0.parameter.shape) }
    }

    public func step(lr: Float) {
        stepCount += 1
        let t = Float(stepCount)
        let bc1 = 1 - Foundation.pow(beta1, t), bc2 = 1 - Foundation.pow(beta2, t)
        let b1 = beta1, b2 = beta2, e = eps, decay = 1 - lr * weightDecay
        let stepSize = lr / bc1, bc2Sqrt = bc2.squareRoot()
        for (i, np) in parameters.enumerated() {
            let p = np.parameter.value
            guard let g = p.grad else { continue }
            let pp = p.data, pg = g.data, pm = m[i].data, pv = v[i].data
            Threads.parallelFor(p.count, grain: 1 << 14) { r in
                for j in r {
                    pp[j] *= decay
                    let gj = pg[j]
                    pm[j] = b1 * pm[j] + (1 - b1) * gj
                    pv[j] = b2 * pv[j] + (1 - b2) * gj * gj
                    pp[j] -= stepSize * pm[j] / (pv[j].squareRoot() / bc2Sqrt + e)
                }
            }
        }
    }

    public func stateTensors() -> [String: Tensor] {
        var d: [String: Tensor] = ["step": Tensor(scalar: Float(stepCount))]
        for (i, np) in parameters.enumerated() {
            d["exp_avg.\(np.name)"] = m[i]
            d["exp_avg_sq.\(np.name)"] = v[i]
        }
        return d
    }

    public func loadState(_ t: [String: Tensor]) throws {
        guard let s = t["step"] else { throw OptimizerStateError(message: "missing 'step'") }
        for (i, np) in parameters.enumerated() {
            guard let a = t["exp_avg.\(np.name)"], let b = t["exp_avg_sq.\(np.name)"] else {
                throw OptimizerStateError(message: "no moments for \(np.name)")
            }
            guard a.shape == np.parameter.shape, b.shape == np.parameter.shape else {
                throw OptimizerStateError(message: "moments of \(np.name) have shape \(a.shape), parameter \(np.parameter.shape)")
            }
            m[i] = a.copy(); v[i] = b.copy()
        }
        stepCount = Int(s.item())
    }
}

/// SGD with momentum and (L2, coupled) weight decay as torch.optim.SGD:
/// `g += wd·p; buf = μ·buf + g (buf = g at the first step); p -= lr·buf`
/// (Nesterov: `p -= lr·(g + μ·buf)`).
public final class SGD: Optimizer {
    public let parameters: [NamedParameter]
    public var momentum: Float, weightDecay: Float, nesterov: Bool
    public private(set) var stepCount = 0
    var buffers: [Tensor?]

    public init(_ parameters: [NamedParameter], momentum: Float = 0.9, weightDecay: Float = 0, nesterov: Bool = false) {
        self.parameters = parameters
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        buffers = parameters.map { _ in nil }
    }

    public func step(lr: Float) {
        stepCount += 1
        let mu = momentum, wd = weightDecay, nest = nesterov
        for (i, np) in parameters.enumerated() {
            let p = np.parameter.value
            guard let g = p.grad else { continue }
            let first = buffers[i] == nil
            if first { buffers[i] = Tensor.zeros(p.shape) }
            let pp = p.data, pg = g.data, pb = buffers[i]!.data
            Threads.parallelFor(p.count, grain: 1 << 14) { r in
                for j in r {
                    let gj = pg[j] + wd * pp[j]
                    if mu != 0 {
                        pb[j] = first ? gj : mu * pb[j] + gj
                        pp[j] -= lr * (nest ? gj + mu * pb[j] : pb[j])
                    } else {
                        pp[j] -= lr * gj
                    }
                }
            }
        }
    }

    public func stateTensors() -> [String: Tensor] {
        var d: [String: Tensor] = ["step": Tensor(scalar: Float(stepCount))]
        for (i, np) in parameters.enumerated() { if let b = buffers[i] { d["momentum_buffer.\(np.name)"] = b } }
        return d
    }

    public func loadState(_ t: [String: Tensor]) throws {
        guard let s = t["step"] else { throw OptimizerStateError(message: "missing 'step'") }
        for (i, np) in parameters.enumerated() {
            if let b = t["momentum_buffer.\(np.name)"] {
                guard b.shape == np.parameter.shape else { throw OptimizerStateError(message: "buffer of \(np.name) has shape \(b.shape)") }
                buffers[i] = b.copy()
            } else {
                buffers[i] = nil
            }
        }
        stepCount = Int(s.item())
    }
}

/// Gradient clipping over a set of parameters.
public enum GradientClipping {
    /// Clamps every gradient entry into [-value, value] (torch.nn.utils.clip_grad_value_).
    public static func clipValue(_ params: [NamedParameter], _ value: Float) {
        for (_, p) in params {
            guard let g = p.value.grad else { continue }
            let q = g.data
            for j in 0..<g.count { q[j] = min(max(q[j], -value), value) }
        }
    }

    /// Scales gradients so their global L2 norm is at most `maxNorm`
    /// (torch.nn.utils.clip_grad_norm_: factor maxNorm / (norm + 1e-6), only if < 1).
    /// Returns the norm before clipping.
    @discardableResult
    public static func clipNorm(_ params: [NamedParameter], _ maxNorm: Float) -> Float {
        let n = globalNorm(params)
        let coef = maxNorm / (n + 1e-6)
        if coef < 1 { for (_, p) in params { p.value.grad?.scaleInPlace(coef) } }
        return n
    }

    /// Global L2 norm of the gradients.
    public static func globalNorm(_ params: [NamedParameter]) -> Float {
        var s = 0.0
        for (_, p) in params {
            guard let g = p.value.grad else { continue }
            let q = g.data
            for j in 0..<g.count { s += Double(q[j]) * Double(q[j]) }
        }
        return Float(s.squareRoot())
    }
}
