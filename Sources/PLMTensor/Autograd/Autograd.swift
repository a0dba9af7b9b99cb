import Foundation

/// Where an input's gradient goes: the node that produced the input, the
/// input itself when it is a leaf that requires grad, or nowhere.
enum GradEdge {
    case none
    case node(GradNode)
    case leaf(Tensor)
}

/// One recorded op: edges to its inputs' producers (not the inputs
/// themselves) and how to turn the output's gradient into the inputs'
/// gradients. The closure holds exactly the activations that op's backward
/// reads (as PyTorch's saved tensors); every other intermediate is freed as
/// soon as the forward pass drops it. The closure is released as soon as
/// backward has run it.
final class GradNode {
    let op: String
    var edges: [GradEdge]
    let inputShapes: [[Int]]
    var backward: ((Tensor) -> [Tensor?])?

    init(op: String, edges: [GradEdge], inputShapes: [[Int]], backward: @escaping (Tensor) -> [Tensor?]) {
        self.op = op
        self.edges = edges
        self.inputShapes = inputShapes
        self.backward = backward
    }
}

/// Whether ops record the graph. Task-local, so a no-grad scope in one task
/// does not leak into another.
public enum GradMode {
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording gradients (PyTorch's `torch.no_grad()`).
@discardableResult
public func withNoGrad<T>(_ body: () throws -> T) rethrows -> T {
    try GradMode.$isEnabled.withValue(false, operation: body)
}

/// Attaches a backward rule to `output` when any input requires grad and
/// recording is on. `backward` receives dL/d(output) and returns one gradient
/// per input (nil where that input needs none), each with the input's shape.
///
/// The node keeps no reference to the inputs: a backward rule that needs an
/// input captures it (that is the op's saved activation); an input nobody
/// captures is freed as soon as the caller drops it.
@inline(__always)
func record(_ output: Tensor, _ op: String, _ inputs: [Tensor],
            _ backward: @escaping (_ grad: Tensor) -> [Tensor?]) -> Tensor {
    guard GradMode.isEnabled else { return output }
    var any = false
    for t in inputs where t.requiresGrad { any = true; break }
    guard any else { return output }
    var edges: [GradEdge] = []
    edges.reserveCapacity(inputs.count)
    for t in inputs {
        if let n = t.node { edges.append(.node(n)) }
        else if t.requiresGrad { edges.append(.leaf(t)) }
        else { edges.append(.none) }
    }
    output.requiresGrad = true
    output.node = GradNode(op: op, edges: edges, inputShapes: inputs.map(\.shape), backward: backward)
    return output
}

/// `record` for ops whose backward reads their own output (softmax, exp, …).
/// The node saves the output's storage and shape, never the output tensor
/// itself, so no reference cycle forms (output → node → output).
@inline(__always)
func recordSavingOutput(_ output: Tensor, _ op: String, _ inputs: [Tensor],
                        _ backward: @escaping (_ grad: Tensor, _ output: Tensor) -> [Tensor?]) -> Tensor {
    guard GradMode.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return output }
    let storage = output.storage, shape = output.shape
    return record(output, op, inputs) { g in backward(g, Tensor(shape: shape, storage: storage)) }
}

extension Tensor {
    /// Reverse-mode differentiation from this tensor. Without `gradient` the
    /// tensor must hold one element (a loss) and the seed is 1. Gradients add
    /// into the leaves' `grad` (accumulating across calls until zeroed).
    /// Unless `retainGraph`, every node's saved activations are released as
    /// soon as its backward has run, and the graph cannot be reused.
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) {
        precondition(requiresGrad, "backward() on a tensor that does not require grad")
        let seed: Tensor
        if let gradient {
            precondition(gradient.shape == shape,
                         "backward(): gradient shape \(Shape.describe(gradient.shape)) != tensor shape \(Shape.describe(shape))")
            seed = gradient
        } else {
            precondition(count == 1, "backward() without a gradient needs a one-element tensor, got \(Shape.describe(shape))")
            seed = Tensor.full(shape, 1)
        }
        guard let root = node else {  // a leaf: the gradient is the seed itself
            Tensor.accumulate(into: self, seed)
            return
        }
        // Topological order (iterative DFS, post-order) over the nodes.
        var order: [GradNode] = []
        var visited = Set<ObjectIdentifier>([ObjectIdentifier(root)])
        var stack: [(GradNode, Int)] = [(root, 0)]
        while let (n, i0) = stack.popLast() {
            var i = i0
            var pushed = false
            while i < n.edges.count {
                let e = n.edges[i]
                i += 1
                if case let .node(u) = e, !visited.contains(ObjectIdentifier(u)) {
                    visited.insert(ObjectIdentifier(u))
                    stack.append((n, i))
                    stack.append((u, 0))
                    pushed = true
                    break
                }
            }
            if !pushed { order.append(n) }
        }
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
        withNoGrad {
            for n in order.reversed() {
                guard let g = grads.removeValue(forKey: ObjectIdentifier(n)) else { continue }
                guard let fn = n.backward else {
                    preconditionFailure("backward through '\(n.op)' a second time: its saved activations were freed (use retainGraph: true)")
                }
                let inGrads = fn(g)
                precondition(inGrads.count == n.edges.count, "\(n.op): backward returned \(inGrads.count) gradients for \(n.edges.count) inputs")
                for i in 0..<inGrads.count {
                    guard let ug = inGrads[i] else { continue }
                    switch n.edges[i] {
                    case .none:
                        continue
                    case let .leaf(u):
                        guard u.requiresGrad else { continue }
                        precondition(ug.shape == u.shape,
                                     "\(n.op): gradient shape \(Shape.describe(ug.shape)) != input shape \(Shape.describe(u.shape))")
                        Tensor.accumulate(into: u, ug)
                    case let .node(u):
                        precondition(ug.shape == n.inputShapes[i],
                                     "\(n.op): gradient shape \(Shape.describe(ug.shape)) != input shape \(Shape.describe(n.inputShapes[i]))")
                        let key = ObjectIdentifier(u)
                        if let prev = grads[key] {
                            grads[key] = addTensors(prev, ug)   // never in place: `prev` may alias another gradient
                        } else {
                            grads[key] = ug
                        }
                    }
                }
                if !retainGraph {
                    n.backward = nil
                    n.edges = []
                }
            }
        }
    }

    private static func accumulate(into leaf: Tensor, _ g: Tensor) {
        if let existing = leaf.grad {
            let p = existing.data, q = g.data
            Threads.parallelFor(existing.count, grain: 1 << 15) { r in
                for i in r { p[i] += q[i] }
            }
        } else {
            leaf.grad = g.copy()  // own the buffer: `g` may be shared with other gradients
        }
    }
}

/// a + b for equal shapes, no autograd (gradient accumulation).
func addTensors(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = Tensor(uninitializedShape: a.shape)
    let pa = a.data, pb = b.data, po = out.data
    Threads.parallelFor(a.count, grain: 1 << 15) { r in
        for i in r { po[i] = pa[i] + pb[i] }
    }
    return out
}
