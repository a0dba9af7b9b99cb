import Foundation
import PLMTensor

/// A named, replaceable slot holding a tensor: a trainable parameter or a
/// non-trainable buffer (e.g. rotary `inv_freq`). Loading a checkpoint swaps
/// `value`; layers read `value` at every forward.
public final class Parameter {
    public var value: Tensor {
        didSet { value.requiresGrad = isTrainable && isTrainableKind }
    }
    /// Buffers are never trainable.
    public let isTrainableKind: Bool
    /// Whether the optimizer updates it (tuning strategies switch this).
    public var isTrainable: Bool {
        didSet { value.requiresGrad = isTrainable && isTrainableKind; if !isTrainable { value.grad = nil } }
    }

    public init(_ value: Tensor, trainable: Bool) {
        self.value = value
        isTrainableKind = trainable
        isTrainable = trainable
        value.requiresGrad = trainable
    }

    public var shape: [Int] { value.shape }
}

/// Base class of every layer and model. Parameters, buffers and submodules
/// are registered under local names; full names are their dotted paths from
/// the root, which are exactly HuggingFace's state-dict names for HF models
/// (so checkpoints load with no renaming table).
open class Module {
    public private(set) var localParameters: [(name: String, parameter: Parameter)] = []
    public private(set) var localBuffers: [(name: String, parameter: Parameter)] = []
    public private(set) var children: [(name: String, module: Module)] = []
    /// Training mode (dropout active). Set recursively with `train(_:)`.
    public private(set) var isTraining = true

    public init() {}

    /// Registers a trainable parameter under `name`.
    @discardableResult
    public func parameter(_ name: String, _ initial: Tensor) -> Parameter {
        precondition(!localParameters.contains { $0.name == name }, "parameter '\(name)' registered twice")
        let p = Parameter(initial, trainable: true)
        localParameters.append((name, p))
        return p
    }

    /// Registers a parameter object made elsewhere (layers build theirs first).
    func registerExisting(_ name: String, _ p: Parameter) {
        precondition(!localParameters.contains { $0.name == name }, "parameter '\(name)' registered twice")
        localParameters.append((name, p))
    }

    /// Registers a buffer object made elsewhere.
    func registerBuffer(_ name: String, _ p: Parameter) {
        localBuffers.append((name, p))
    }

    /// Registers a non-trainable buffer (saved and loaded with the parameters).
    @discardableResult
    public func buffer(_ name: String, _ initial: Tensor) -> Parameter {
        let p = Parameter(initial, trainable: false)
        localBuffers.append((name, p))
        return p
    }

    /// Registers a submodule under `name` (may contain dots, e.g. "layer.3").
    @discardableResult
    public func child<M: Module>(_ name: String, _ m: M) -> M {
        precondition(!children.contains { $0.name == name }, "submodule '\(name)' registered twice")
        children.append((name, m))
        return m
    }

    /// Removes a submodule (e.g. a LoRA branch); returns it if present.
    @discardableResult
    public func removeChild(_ name: String) -> Module? {
        guard let i = children.firstIndex(where: { $0.name == name }) else { return nil }
        return children.remove(at: i).module
    }

    /// The submodule registered under `name`, if any.
    public func childModule(_ name: String) -> Module? { children.first { $0.name == name }?.module }

    /// Every parameter with its full dotted name, in registration order.
    public func namedParameters(prefix: String = "") -> [(name: String, parameter: Parameter)] {
        var out = localParameters.map { (prefix + $0.name, $0.parameter) }
        for (n, m) in children { out += m.namedParameters(prefix: prefix + n + ".") }
        return out
    }

    /// Every buffer with its full dotted name.
    public func namedBuffers(prefix: String = "") -> [(name: String, parameter: Parameter)] {
        var out = localBuffers.map { (prefix + $0.name, $0.parameter) }
        for (n, m) in children { out += m.namedBuffers(prefix: prefix + n + ".") }
        return out
    }

    /// Every submodule with its full dotted name (the root is "").
    public func namedModules(prefix: String = "") -> [(name: String, module: Module)] {
        var out: [(String, Module)] = [(prefix.isEmpty ? "" : String(prefix.dropLast()), self)]
        for (n, m) in children { out += m.namedModules(prefix: prefix + n + ".") }
        return out
    }

    /// Parameters the optimizer should update.
    public var trainableParameters: [(name: String, parameter: Parameter)] {
        namedParameters().filter { $0.parameter.isTrainable }
    }

    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.parameter.value.count } }

    /// Switches training mode (dropout) for this module and its children.
    public func train(_ on: Bool = true) {
        isTraining = on
        for (_, m) in children { m.train(on) }
    }

    /// Marks every parameter trainable or frozen.
    public func setTrainable(_ on: Bool) {
        for (_, p) in namedParameters() { p.isTrainable = on }
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() {
        for (_, p) in namedParameters() { p.value.grad = nil }
    }

    /// Parameters and buffers by full name (what a checkpoint stores).
    public func stateDict() -> [String: Tensor] {
        var d: [String: Tensor] = [:]
        for (n, p) in namedParameters() { d[n] = p.value }
        for (n, p) in namedBuffers() { d[n] = p.value }
        return d
    }

    /// Expected checkpoint entries: full name -> shape (parameters and buffers).
    public func expectedShapes() -> [String: [Int]] {
        stateDict().mapValues(\.shape)
    }

    /// Replaces parameters and buffers by name with `tensors` (shapes must
    /// match; names absent from `tensors` keep their current value). Loaded
    /// tensors are used as they are, e.g. memory-mapped.
    public func load(_ tensors: [String: Tensor]) {
        for (n, p) in namedParameters() + namedBuffers() {
            guard let t = tensors[n] else { continue }
            precondition(t.shape == p.shape, "load: \(n) has shape \(Shape.describe(t.shape)), model expects \(Shape.describe(p.shape))")
            p.value = t
        }
    }
}
