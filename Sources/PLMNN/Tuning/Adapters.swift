import Foundation
import PLMTensor

/// How an adapter joins the layer.
public enum AdapterMode: String, Codable, Sendable {
    /// S-PLM / Houlsby: transforms a sub-layer's output before the residual
    /// add: `z + LayerNorm(up(relu(down(z))))`; several serial sets in one
    /// place are averaged.
    case serial
    /// Parallel: `h' = h + Σ up(relu(down(h)))` beside the sub-layer.
    case parallel
}

/// A bottleneck adapter: down [h, d], up [d, h] (+ LayerNorm for serial ones).
/// `up` starts at zero, so a fresh adapter is the identity (serial) or adds
/// nothing (parallel).
public final class Adapter: Module {
    public let mode: AdapterMode
    public let down: Linear, up: Linear
    public let norm: LayerNorm?

    public init(dim: Int, bottleneck: Int, mode: AdapterMode, eps: Float = 1e-5, rng: inout RNG) {
        self.mode = mode
        down = Linear(dim, bottleneck)
        up = Linear(bottleneck, dim)
        norm = mode == .serial ? LayerNorm(dim, eps: eps) : nil
        super.init()
        child("down", down)
        child("up", up)
        if let n = norm { child("norm", n) }
        Init.kaimingUniformLinear(down.weight, fanIn: dim, rng: &rng)
        Init.constant(down.bias!, 0)
        Init.constant(up.weight, 0)
        Init.constant(up.bias!, 0)
    }

    /// The adapter's branch: up(relu(down(z))) (normed for serial adapters).
    func branch(_ z: Tensor) -> Tensor {
        let u = up(down(z).relu())
        return norm.map { $0(u) } ?? u
    }
}

/// Named adapter sets in one transformer layer, at the attention output and
/// at the FFN output.
public final class LayerAdapters {
    public private(set) var attention: [(name: String, adapter: Adapter)] = []
    public private(set) var output: [(name: String, adapter: Adapter)] = []

    var isEmpty: Bool { attention.isEmpty && output.isEmpty }

    func add(_ name: String, attention a: Adapter, output o: Adapter) {
        attention.append((name, a))
        output.append((name, o))
    }

    func remove(_ name: String) {
        attention.removeAll { $0.name == name }
        output.removeAll { $0.name == name }
    }

    /// Applies the sets of one place to a sub-layer output `z` whose input was `x`.
    static func apply(_ sets: [(name: String, adapter: Adapter)], to z: Tensor, input x: Tensor) -> Tensor {
        var out = z
        let serial = sets.filter { $0.adapter.mode == .serial }
        if !serial.isEmpty {
            var acc: Tensor? = nil
            for (_, a) in serial { let v = z + a.branch(z); acc = acc.map { $0 + v } ?? v }
            out = serial.count == 1 ? acc! : acc! * (1 / Float(serial.count))
        }
        for (_, a) in sets where a.mode == .parallel { out = out + a.branch(x) }
        return out
    }
}

extension EsmLayer {
    /// Adds adapter set `name` after the attention and after the FFN,
    /// registered as `adapters.NAME.attention.*` and `adapters.NAME.output.*`.
    public func addAdapters(_ name: String, bottleneck: Int, mode: AdapterMode, rng: inout RNG) {
        let d = attentionOutput.outFeatures
        let group = ModuleGroup()
        let a = Adapter(dim: d, bottleneck: bottleneck, mode: mode, rng: &rng)
        let o = Adapter(dim: d, bottleneck: bottleneck, mode: mode, rng: &rng)
        group.child("attention", a)
        group.child("output", o)
        group.train(isTraining)
        child("adapters.\(name)", group)
        adapters.add(name, attention: a, output: o)
    }

    /// Removes adapter set `name`.
    public func removeAdapters(_ name: String) {
        removeChild("adapters.\(name)")
        adapters.remove(name)
    }

    /// Names of the adapter sets in this layer.
    public var adapterNames: [String] { adapters.attention.map(\.name) }
}
