import Foundation
import PLMKit
import PLMNN
import PLMTensor

/// `torch.nn.BatchNorm1d(C)` over [N, C], composed from differentiable tensor ops.
///
/// Training mode normalises with the batch's mean and biased variance and
/// moves the running statistics towards the batch's (mean, unbiased variance)
/// by `momentum`; eval mode uses the running statistics. Parameters `weight`,
/// `bias` [C]; buffers `running_mean`, `running_var` [C] (saved with the head,
/// so a resumed run continues with the same statistics). PyTorch's
/// `num_batches_tracked` is not kept: it only matters when `momentum` is None.
public final class BatchNorm1d: Module {
    public let features: Int
    public let eps: Float
    public let momentum: Float
    // Registered through Module's public `parameter`/`buffer`, which need `self`.
    public private(set) var weight: Parameter!, bias: Parameter!
    public private(set) var runningMean: Parameter!, runningVar: Parameter!

    public init(_ features: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
        self.features = features
        self.eps = eps
        self.momentum = momentum
        super.init()
        weight = parameter("weight", Tensor.ones([features]))
        bias = parameter("bias", Tensor.zeros([features]))
        runningMean = buffer("running_mean", Tensor.zeros([features]))
        runningVar = buffer("running_var", Tensor.ones([features]))
    }

    /// x [N, C] -> [N, C]. Training mode needs N >= 2 (as PyTorch, which raises otherwise).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == features, "BatchNorm1d(\(features)): input \(Shape.describe(x.shape))")
        let n = x.shape[0]
        let normalised: Tensor
        if isTraining {
            precondition(n >= 2, "BatchNorm1d: training mode needs at least 2 rows, got \(n)")
            let mu = x.mean(axis: 0, keepDims: true)                 // [1, C]
            let xc = x - mu
            let variance = (xc * xc).mean(axis: 0, keepDims: true)  // biased, [1, C]
            normalised = xc * (variance + eps).pow(-0.5)
            // Running statistics: no gradient, unbiased variance (torch).
            let m = momentum, unbias = Float(n) / Float(n - 1)
            let rm = runningMean.value.toArray(), rv = runningVar.value.toArray()
            let bm = mu.toArray(), bv = variance.toArray()
            runningMean.value = Tensor(shape: [features], values: (0..<features).map { (1 - m) * rm[$0] + m * bm[$0] })
            runningVar.value = Tensor(shape: [features], values: (0..<features).map { (1 - m) * rv[$0] + m * bv[$0] * unbias })
        } else {
            let mean = runningMean.value.reshaped([1, features])
            let invStd = (runningVar.value + eps).pow(-0.5).reshaped([1, features])
            normalised = (x - mean) * invStd
        }
        return normalised * weight.value + bias.value
    }
}

/// S-PLM's projection head: `Linear(in, H) -> BatchNorm1d(H) -> ReLU -> Linear(H, out)`
/// (the paper: H = 4096, out = 256). Children `fc1`, `bn`, `fc2`.
public final class Projector: Module {
    public let fc1: Linear, bn: BatchNorm1d, fc2: Linear

    public init(input: Int, hidden: Int, output: Int) {
        fc1 = Linear(input, hidden)
        bn = BatchNorm1d(hidden)
        fc2 = Linear(hidden, output)
        super.init()
        child("fc1", fc1)
        child("bn", bn)
        child("fc2", fc2)
    }

    /// x [N, in] -> [N, out]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        fc2(bn(fc1(x)).relu())
    }

    /// Data-parallel projection with synchronised BatchNorm: x [n, in] is this
    /// rank's rows; returns [ranks · n, out], the projection of every rank's
    /// rows (rank order) normalised with the global batch's statistics, as one
    /// process computes it on the global batch.
    ///
    /// The other ranks' inputs arrive as constants and go through this rank's
    /// copy of the projector with *detached* parameters, while this rank's
    /// rows use the live ones. A loss computed from the result on every rank
    /// (replicated) therefore differentiates exactly the paths that start at
    /// this rank's examples — through their own rows and through the shared
    /// batch statistics — and the sum over ranks is the full gradient (the
    /// trainer sums replicated losses' gradients). Training mode only.
    public func global(_ x: Tensor, communicator comm: Communicator) -> Tensor {
        guard comm.isDistributed, isTraining else { return callAsFunction(x) }
        let n = x.shape[0], r = comm.rank
        let all = comm.allGather(x.toArray())
        let width = x.shape[1]
        func constant(_ rank: Int) -> Tensor { Tensor(shape: [n, width], values: Array(all[(rank * n * width)..<((rank + 1) * n * width)])) }
        func detached(_ p: Parameter) -> Tensor { Tensor(shape: p.value.shape, storage: p.value.storage) }
        func linear(_ l: Linear, _ v: Tensor, live: Bool) -> Tensor {
            if live { return l(v) }
            var y = v.matmul(detached(l.weight), transposeB: true)
            if let b = l.bias { y = y + detached(b) }
            return y
        }
        // fc1: live on local rows, constants elsewhere
        var hs: [Tensor] = []
        for k in 0..<comm.size { hs.append(k == r ? fc1(x) : withNoGrad { linear(fc1, constant(k), live: false) }) }
        let h = Tensor.concat(hs, axis: 0)                                   // [N, H]
        // BatchNorm statistics of the global batch (differentiable through local rows)
        let total = h.shape[0]
        let mu = h.mean(axis: 0, keepDims: true)
        let xc = h - mu
        let variance = (xc * xc).mean(axis: 0, keepDims: true)
        let normalised = xc * (variance + bn.eps).pow(-0.5)
        let m = bn.momentum, unbias = Float(total) / Float(total - 1), c = bn.features
        let rm = bn.runningMean.value.toArray(), rv = bn.runningVar.value.toArray()
        let bm = mu.toArray(), bv = variance.toArray()
        bn.runningMean.value = Tensor(shape: [c], values: (0..<c).map { (1 - m) * rm[$0] + m * bm[$0] })
        bn.runningVar.value = Tensor(shape: [c], values: (0..<c).map { (1 - m) * rv[$0] + m * bv[$0] * unbias })
        var outs: [Tensor] = []
        for k in 0..<comm.size {
            let rows = normalised.slice(axis: 0, start: k * n, end: (k + 1) * n)
            let live = k == r
            let y = live ? rows * bn.weight.value + bn.bias.value : rows * detached(bn.weight) + detached(bn.bias)
            outs.append(linear(fc2, y.relu(), live: live))
        }
        return Tensor.concat(outs, axis: 0)
    }
}

/// NT-Xent (SimCLR's normalised temperature-scaled cross-entropy) over two views.
public enum NTXent {
    /// `a`, `b` [N, D]: row i of `a` and row i of `b` are two views of one
    /// protein. The 2N rows are L2-normalised and stacked (a first); logits are
    /// the cosine similarities / `temperature` with each row's self-similarity
    /// removed; row i's only positive is its other view (i + N or i - N), the
    /// other 2N - 2 rows are negatives. Returns the mean cross-entropy over the 2N rows.
    public static func loss(_ a: Tensor, _ b: Tensor, temperature: Float) -> Tensor {
        precondition(a.rank == 2 && a.shape == b.shape, "NT-Xent: views must be [N, D] of equal shape, got \(Shape.describe(a.shape)) and \(Shape.describe(b.shape))")
        precondition(temperature > 0, "NT-Xent: temperature must be positive")
        let n = a.shape[0]
        let z = Tensor.concat([a, b], axis: 0).l2Normalized()                     // [2N, D]
        let logits = z.matmul(z, transposeB: true) * (1 / temperature)             // [2N, 2N]
        var diagonal = [Bool](repeating: false, count: 4 * n * n)
        for i in 0..<(2 * n) { diagonal[i * 2 * n + i] = true }
        let masked = logits.maskedFill(MaskTensor(shape: [2 * n, 2 * n], values: diagonal), -Float.infinity)
        let targets = (0..<(2 * n)).map { Int32($0 < n ? $0 + n : $0 - n) }
        return masked.crossEntropy(targets: IndexTensor(shape: [2 * n], values: targets))
    }

    /// Top-1 retrieval accuracy from `queries` [N, D] into `keys` [N, D] by
    /// cosine similarity: the fraction of rows i whose most similar key is key i.
    public static func top1(queries: Tensor, keys: Tensor) -> Double {
        let n = queries.shape[0]
        guard n > 0 else { return 0 }
        let s = withNoGrad { queries.l2Normalized().matmul(keys.l2Normalized(), transposeB: true) }.toArray()
        var hits = 0
        for i in 0..<n {
            var best = 0
            for j in 1..<n where s[i * n + j] > s[i * n + best] { best = j }
            if best == i { hits += 1 }
        }
        return Double(hits) / Double(n)
    }
}
