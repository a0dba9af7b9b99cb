import Foundation

/// A Float32 tensor: a shape over contiguous row-major storage, plus the
/// autograd bookkeeping (`requiresGrad`, `grad`, and the node that made it).
///
/// Tensors are reference types, like PyTorch's: an op's output keeps its
/// inputs alive while the graph needs them. `reshaped` is a view over the same
/// storage; every other op (permute and transpose included) copies.
public final class Tensor {
    public let shape: [Int]
    public let storage: TensorStorage
    /// Whether gradients flow to this tensor. Leaves set it; op outputs inherit it.
    public var requiresGrad: Bool
    /// Accumulated gradient (leaves only), same shape; nil until a backward pass reaches it.
    public var grad: Tensor?
    /// The op that produced this tensor (nil for leaves and no-grad results).
    var node: GradNode?

    /// Creates a tensor over existing storage. `storage.count` must equal the shape's count.
    public init(shape: [Int], storage: TensorStorage, requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(Shape.describe(shape))")
        precondition(Shape.count(shape) == storage.count,
                     "shape \(Shape.describe(shape)) needs \(Shape.count(shape)) elements, storage has \(storage.count)")
        self.shape = shape
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// Uninitialised tensor of a shape.
    public convenience init(uninitializedShape shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(count: Shape.count(shape)))
    }

    /// Tensor holding `values` (row-major) with `shape`.
    public convenience init(shape: [Int], values: [Float], requiresGrad: Bool = false) {
        precondition(values.count == Shape.count(shape),
                     "Tensor(shape: \(Shape.describe(shape))) needs \(Shape.count(shape)) values, got \(values.count)")
        let s = TensorStorage(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let b = src.baseAddress { s.pointer.update(from: b, count: values.count) }
        }
        self.init(shape: shape, storage: s, requiresGrad: requiresGrad)
    }

    /// A rank-0 tensor.
    public convenience init(scalar: Float, requiresGrad: Bool = false) {
        self.init(shape: [], values: [scalar], requiresGrad: requiresGrad)
    }

    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, 0, requiresGrad: requiresGrad)
    }

    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, 1, requiresGrad: requiresGrad)
    }

    public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        t.data.update(repeating: value, count: t.count)
        t.requiresGrad = requiresGrad
        return t
    }

    /// Evenly spaced values `start, start+step, …` below `end`, as a 1-D tensor.
    public static func arange(_ start: Float, _ end: Float, step: Float = 1) -> Tensor {
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor(shape: [n], values: (0..<n).map { start + Float($0) * step })
    }

    // MARK: Properties

    @inlinable public var rank: Int { shape.count }
    public var count: Int { storage.count }
    /// Raw pointer to the first element (row-major).
    public var data: UnsafeMutablePointer<Float> { storage.pointer }
    /// True for tensors not produced by a recorded op.
    public var isLeaf: Bool { node == nil }

    /// Copies the values out, row-major.
    public func toArray() -> [Float] {
        Array(UnsafeBufferPointer(start: data, count: count))
    }

    /// The value of a one-element tensor.
    public func item() -> Float {
        precondition(count == 1, "item() needs a one-element tensor, got shape \(Shape.describe(shape))")
        return data[0]
    }

    /// Element at a full multi-index (slow; for tests and debugging).
    public subscript(_ index: Int...) -> Float {
        get { data[flatIndex(index)] }
        set { data[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == rank, "index \(index) has \(index.count) components; tensor rank is \(rank)")
        var off = 0
        for (i, d) in index.enumerated() {
            precondition(d >= 0 && d < shape[i], "index \(index) out of bounds for shape \(Shape.describe(shape))")
            off = off * shape[i] + d
        }
        return off
    }

    /// A copy with its own storage, not attached to the graph.
    public func copy() -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        let src = data, dst = t.data
        Threads.parallelFor(count, grain: 1 << 16) { r in (dst + r.lowerBound).update(from: src + r.lowerBound, count: r.count) }
        return t
    }

    /// The same storage without autograd history (gradients stop here).
    public func detached() -> Tensor {
        Tensor(shape: shape, storage: storage)
    }

    /// Sets the gradient to nil (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() { grad = nil }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let n = min(count, 8)
        let head = (0..<n).map { String(format: "%.5g", data[$0]) }.joined(separator: ", ")
        return "Tensor\(Shape.describe(shape))(\(head)\(count > n ? ", …" : ""))"
    }
}

/// Integer tensor for token ids, gather and index-select indices. Int32
/// storage; Int64 inputs (as in HF files) are converted on construction.
public struct IndexTensor: Equatable, Sendable {
    public let shape: [Int]
    public var values: [Int32]

    public init(shape: [Int], values: [Int32]) {
        precondition(values.count == Shape.count(shape),
                     "IndexTensor(shape: \(Shape.describe(shape))) needs \(Shape.count(shape)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    public init(shape: [Int], values: [Int]) {
        self.init(shape: shape, values: values.map { Int32(truncatingIfNeeded: $0) })
    }

    public init(shape: [Int], int64 values: [Int64]) {
        self.init(shape: shape, values: values.map { Int32(truncatingIfNeeded: $0) })
    }

    public var count: Int { values.count }
    public var int64Values: [Int64] { values.map(Int64.init) }
}

/// Boolean tensor for masks (`maskedFill`, `where`, key padding).
public struct MaskTensor: Equatable, Sendable {
    public let shape: [Int]
    public var values: [Bool]

    public init(shape: [Int], values: [Bool]) {
        precondition(values.count == Shape.count(shape),
                     "MaskTensor(shape: \(Shape.describe(shape))) needs \(Shape.count(shape)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    public var count: Int { values.count }
}
