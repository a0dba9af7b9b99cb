import Foundation
import PLMTensor
import Testing

@Suite("Autograd semantics")
struct AutogradTests {
    @Test("gradients accumulate across backward calls until zeroed")
    func accumulation() {
        let x = Tensor(shape: [3], values: [1, 2, 3], requiresGrad: true)
        (x * x).sum().backward()
        #expect(x.grad!.toArray() == [2, 4, 6])
        (x * 3).sum().backward()
        #expect(x.grad!.toArray() == [5, 7, 9])
        x.zeroGrad()
        #expect(x.grad == nil)
        x.sum().backward()
        #expect(x.grad!.toArray() == [1, 1, 1])
    }

    @Test("fan-out sums the contributions of every use")
    func fanOut() {
        let x = Tensor(shape: [2], values: [2, -1], requiresGrad: true)
        let y = x * x          // used twice below
        let z = (y + y * x).sum()
        z.backward()
        // d/dx (x² + x³) = 2x + 3x²
        let expected: [Float] = [16, 1]  // 2·2 + 3·4, 2·(-1) + 3·1
        #expect(x.grad!.toArray() == expected)
    }

    @Test("no-grad scope records nothing")
    func noGrad() {
        let x = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
        let y = withNoGrad { x * 2 }
        #expect(!y.requiresGrad)
        #expect(y.isLeaf)
        let z = x * 2
        #expect(z.requiresGrad && !z.isLeaf)
    }

    @Test("detach stops gradients")
    func detach() {
        let x = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
        let y = (x * x.detached()).sum()   // d/dx = x (the detached factor is a constant)
        y.backward()
        #expect(x.grad!.toArray() == [1, 2])
    }

    @Test("inputs that do not require grad get none")
    func partialRequiresGrad() {
        let a = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
        let b = Tensor(shape: [2], values: [3, 4])
        (a * b).sum().backward()
        #expect(a.grad!.toArray() == [3, 4])
        #expect(b.grad == nil)
    }

    @Test("saved activations are freed as soon as backward has used them")
    func freesActivations() {
        // Weak references watch the intermediates (byte counters would see
        // tests running in parallel).
        let w = Tensor.full([16, 16], 0.01, requiresGrad: true)
        weak var firstActivation: Tensor?
        weak var lastActivation: Tensor?
        var loss: Tensor
        do {
            var h = Tensor.full([4, 16], 1).matmul(w)
            firstActivation = h
            for _ in 0..<8 { h = h.gelu().matmul(w) }
            lastActivation = h
            loss = (h * h).sum()   // mul saves h for its backward (sum alone would not)
        }
        #expect(firstActivation != nil && lastActivation != nil)  // the graph keeps them
        loss.backward()
        #expect(firstActivation == nil)                           // freed by backward
        #expect(lastActivation == nil)
        #expect(w.grad != nil)
        _ = loss
    }

    @Test("intermediates that no backward rule reads are freed during the forward pass")
    func freesUnsavedIntermediates() {
        // add, reshape, permute, affine and sum keep no activations (as
        // PyTorch): the graph holds what backward reads, nothing more.
        let w = Tensor.full([16, 16], 0.01, requiresGrad: true)
        weak var pre: Tensor?, permutedRef: Tensor?
        var loss: Tensor
        do {
            let x = Tensor.full([4, 16], 1).matmul(w)   // matmul saves its input, not its output
            pre = x
            let y = (x + 1).reshaped([2, 2, 16]).permuted([1, 0, 2])
            permutedRef = y
            loss = (y * 3).sum()
        }
        #expect(pre == nil)
        #expect(permutedRef == nil)
        loss.backward()
        #expect(w.grad!.toArray().allSatisfy { $0 == 12 })
    }

    @Test("an op's output holds no reference cycle: dropping it frees the graph")
    func noCycles() {
        weak var leafRef: Tensor?
        weak var outRef: Tensor?
        do {
            let x = Tensor.full([8, 8], 0.5, requiresGrad: true)
            leafRef = x
            let y = x.exp().sigmoid().tanh().sqrt().reciprocal().softmax().layerNorm(weight: nil, bias: nil)
            outRef = y
            #expect(outRef != nil)
        }
        #expect(outRef == nil)
        #expect(leafRef == nil)
    }

    @Test("backward of a leaf seeds its own gradient; explicit seed for non-scalars")
    func seeds() {
        let x = Tensor(scalar: 3, requiresGrad: true)
        x.backward()
        #expect(x.grad!.item() == 1)
        let v = Tensor(shape: [2], values: [1, 2], requiresGrad: true)
        (v * v).backward(Tensor(shape: [2], values: [1, 10]))
        #expect(v.grad!.toArray() == [2, 40])
    }

    @Test("retainGraph allows a second backward")
    func retain() {
        let x = Tensor(shape: [1], values: [2], requiresGrad: true)
        let y = (x * x * x).sum()
        y.backward(retainGraph: true)
        y.backward()
        #expect(x.grad!.toArray() == [24])
    }
}
