import Foundation

/// One recorded op: the inputs it read and how to turn the output's
/// gradient into the inputs' gradients. The closure holds the saved
/// activations; it is released as soon as backward has run it.
final class GradNode {
    let op: String
    var inputs: [Tensor]
    var backward: ((Tensor, Tensor) -> [Tensor?])?

    init(op: String, inputs: [Tensor], backward: @escaping (Tensor, Tensor) -> [Tensor?]) {
        self.op = op
        self.inputs = inputs
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
/// recording is on. `backward` receives dL/d(output) and the output itself
/// (passed in, never captured, so no reference cycle forms) and returns one gradient
/// per input (nil where that input needs none), each with the input's shape.
@inline(__always)
func record(_ output: Tensor, _ op: String, _ inputs: [Tensor],
            _ backward: @escaping (_ grad: Tensor, _ output: Tensor) -> [Tensor?]) -> Tensor {
    guard GradMode.isEnabled else { return output }
    var any = false
    for t in inputs where t.requiresGrad { any = true; break }
    guard any else { return output }
    output.requiresGrad = true
    output.node = GradNode(op: op, inputs: inputs, backward: backward)
    return output
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
        if node == nil {  // a leaf: the gradient is the seed itself
            Tensor.accumulate(into: self, seed)
            return
        }
        // Topological order (iterative DFS, post-order) over op outputs.
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Int)] = [(self, 0)]
        visited.insert(ObjectIdentifier(self))
        while var (t, i) = stack.popLast() {
            let inputs = t.node?.inputs ?? []
            var pushed = false
            while i < inputs.count {
                let u = inputs[i]
                i += 1
                if u.requiresGrad, u.node != nil, !visited.contains(ObjectIdentifier(u)) {
                    visited.insert(ObjectIdentifier(u))
                    stack.append((t, i))
                    stack.append((u, 0))
                    pushed = true
                    break
                }
            }
            if !pushed { order.append(t) }
            _ = t
        }
        var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
        withNoGrad {
            for t in order.reversed() {
                guard let node = t.node, let g = grads.removeValue(forKey: ObjectIdentifier(t)) else { continue }
                guard let fn = node.backward else {
                    preconditionFailure("backward through '\(node.op)' a second time: its saved activations were freed (use retainGraph: true)")
                }
                let inGrads = fn(g, t)
                precondition(inGrads.count == node.inputs.count, "\(node.op): backward returned \(inGrads.count) gradients for \(node.inputs.count) inputs")
                for (u, ug) in zip(node.inputs, inGrads) {
                    guard u.requiresGrad, let ug else { continue }
                    precondition(ug.shape == u.shape,
                                 "\(node.op): gradient shape \(Shape.describe(ug.shape)) != input shape \(Shape.describe(u.shape))")
                    if u.node == nil {
                        Tensor.accumulate(into: u, ug)
                    } else if let prev = grads[ObjectIdentifier(u)] {
                        grads[ObjectIdentifier(u)] = prev + ug   // never in place: `prev` may alias another gradient
                    } else {
                        grads[ObjectIdentifier(u)] = ug
                    }
                }
                if !retainGraph {
                    node.backward = nil
                    node.inputs = []
                }
            }
        }
    }

    private static func accumulate(into leaf: Tensor, _ g: Tensor) {
        if let existing = leaf.grad {
            let p = existing.data, q = g.data
            for i in 0..<existing.count { p[i] += q[i] }
        } else {
            leaf.grad = g.copy()  // own the buffer: `g` may be shared with other gradients
        }
    }
}
