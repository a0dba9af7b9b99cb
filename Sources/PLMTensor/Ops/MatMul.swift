import COpenBLAS
import Foundation

/// C[m,n] = alpha * op(A) op(B) + beta * C, row-major, one cblas_sgemm.
@inline(__always)
func sgemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
           _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
           _ b: UnsafePointer<Float>, _ ldb: Int,
           _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        else { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

/// C = alpha·op(A)·op(B) + beta·C like `sgemm`, parallel: with
/// `Threads.gemmSplitting` (the default) a product big enough to share is
/// cut into blocks of rows or of columns, one per pool thread
/// (`Threads.gemmPartsPerThread`), each a single-threaded
/// cblas_sgemm; every C element is still one sgemm's dot product over the
/// whole K. Small products, and every product when splitting is off, are one
/// call (OpenBLAS's own threads when splitting is off). Never call from
/// inside a pool item.
func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
          _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
          _ b: UnsafePointer<Float>, _ ldb: Int,
          _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    let t = Threads.count
    let work = m * n * k
    guard Threads.gemmSplitting, t > 1, work >= (1 << 20), k > 0 else {
        sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    // Parts keep at least 64 rows/columns (whole kernel tiles). Every part
    // packs the whole shared operand again: a row split repeats op(B)
    // (K·N values), a column split repeats op(A) (M·K), so split the side
    // that repeats less (weight gradients dW = dYᵀX with out < in would
    // otherwise pack the K = tokens activation X once per part).
    let perThread = Threads.gemmPartsPerThread
    let rowsOK = m >= 128, colsOK = n >= 128
    if !rowsOK && !colsOK {
        sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    if rowsOK && (n <= m || !colsOK) {
        let parts = min(t * perThread, max(1, m / 64))
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            let lo = (m * i / parts) & ~7, hi = i == parts - 1 ? m : (m * (i + 1) / parts) & ~7
            if lo >= hi { return }
            let ap = transA ? a + lo : a + lo * lda
            sgemm(transA, transB, hi - lo, n, k, alpha, ap, lda, b, ldb, beta, c + lo * ldc, ldc)
        }
    } else {
        let parts = min(t * perThread, max(1, n / 64))
        DispatchQueue.concurrentPerform(iterations: parts) { i in
            let lo = (n * i / parts) & ~7, hi = i == parts - 1 ? n : (n * (i + 1) / parts) & ~7
            if lo >= hi { return }
            let bp = transB ? b + lo * ldb : b + lo
            sgemm(transA, transB, m, hi - lo, k, alpha, a, lda, bp, ldb, beta, c + lo, ldc)
        }
    }
}

/// Batched GEMM: `batch` independent products at fixed strides. Small
/// matrices run one per pool item with OpenBLAS on one thread; large ones
/// run in sequence, each split over the pool by `gemm`.
func batchedSgemm(_ batch: Int, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int,
                  _ a: UnsafePointer<Float>, _ strideA: Int, _ b: UnsafePointer<Float>, _ strideB: Int,
                  _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ strideC: Int, alpha: Float = 1) {
    let lda = transA ? m : k, ldb = transB ? k : n
    let flops = 2 * m * n * k
    let body = { (i: Int) in
        sgemm(transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb, beta, c + i * strideC, n)
    }
    if batch >= Threads.count && flops < (1 << 24) {
        Threads.parallelGEMMs(batch, body)
    } else {
        for i in 0..<batch {
            gemm(transA, transB, m, n, k, alpha, a + i * strideA, lda, b + i * strideB, ldb, beta, c + i * strideC, n)
        }
    }
}

extension Tensor {
    /// Matrix product over the last two dims, with optional transposes of
    /// either operand's last two dims.
    ///
    /// - `self` [..., M, K] with `other` [K, N] (2-D): the leading dims merge
    ///   into M, so the whole product is one `cblas_sgemm` (linear layers).
    /// - `self` [..., M, K] with `other` [..., K, N], equal leading dims: one
    ///   GEMM per leading index (attention).
    /// With `transposeA` self is [..., K, M]; with `transposeB` other is [..., N, K].
    public func matmul(_ other: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(rank >= 2 && other.rank >= 2,
                     "matmul: operands need rank >= 2, got \(Shape.describe(shape)) and \(Shape.describe(other.shape))")
        let m = transposeA ? shape[rank - 1] : shape[rank - 2]
        let k = transposeA ? shape[rank - 2] : shape[rank - 1]
        let kb = transposeB ? other.shape[other.rank - 1] : other.shape[other.rank - 2]
        let n = transposeB ? other.shape[other.rank - 2] : other.shape[other.rank - 1]
        precondition(k == kb, "matmul: inner dims differ: \(Shape.describe(shape))\(transposeA ? "ᵀ" : "") x \(Shape.describe(other.shape))\(transposeB ? "ᵀ" : "")")
        let lead = Array(shape.dropLast(2))
        let a = self, b = other
        if other.rank == 2 {
            if !transposeA {
                // Merge leading dims into M: one GEMM.
                let rowsA = Shape.count(lead) * m
                let out = Tensor(uninitializedShape: lead + [m, n])
                gemm(false, transposeB, rowsA, n, k, 1, a.data, k, b.data, transposeB ? k : n, 0, out.data, n)
                return record(out, "matmul", [a, b]) { g in
                    var ga: Tensor? = nil, gb: Tensor? = nil
                    if a.requiresGrad {  // dA = dC · op(B)ᵀ
                        let t = Tensor(uninitializedShape: a.shape)
                        gemm(false, !transposeB, rowsA, k, n, 1, g.data, n, b.data, transposeB ? k : n, 0, t.data, k)
                        ga = t
                    }
                    if b.requiresGrad {  // dB = Aᵀ·dC  (or dCᵀ·A when B is transposed)
                        let t = Tensor(uninitializedShape: b.shape)
                        if transposeB {
                            gemm(true, false, n, k, rowsA, 1, g.data, n, a.data, k, 0, t.data, k)
                        } else {
                            gemm(true, false, k, n, rowsA, 1, a.data, k, g.data, n, 0, t.data, n)
                        }
                        gb = t
                    }
                    return [ga, gb]
                }
            }
        }
        let leadB = Array(other.shape.dropLast(2))
        let batch = Shape.count(lead)
        precondition(leadB == lead || (other.rank == 2),
                     "matmul: batch dims differ: \(Shape.describe(shape)) x \(Shape.describe(other.shape))")
        let strideB = other.rank == 2 ? 0 : k * n
        let out = Tensor(uninitializedShape: lead + [m, n])
        batchedSgemm(batch, transposeA, transposeB, m, n, k, a.data, m * k, b.data, strideB, 0, out.data, m * n)
        return record(out, "bmm", [a, b]) { g in
            var ga: Tensor? = nil, gb: Tensor? = nil
            if a.requiresGrad {
                let t = Tensor(uninitializedShape: a.shape)
                if transposeA {  // A is [K, M]: dA = op(B) · dCᵀ
                    batchedSgemm(batch, transposeB, true, k, m, n, b.data, strideB, g.data, m * n, 0, t.data, m * k)
                } else {         // dA = dC · op(B)ᵀ
                    batchedSgemm(batch, false, !transposeB, m, k, n, g.data, m * n, b.data, strideB, 0, t.data, m * k)
                }
                ga = t
            }
            if b.requiresGrad {
                if strideB == 0 {
                    // Shared 2-D B with a transposed A: accumulate over the batch.
                    let t = Tensor.zeros(b.shape)
                    for i in 0..<batch {
                        if transposeB {  // dB[N,K] += dCᵢᵀ · op(Aᵢ)
                            gemm(true, transposeA, n, k, m, 1, g.data + i * m * n, n, a.data + i * m * k, transposeA ? m : k, 1, t.data, k)
                        } else {         // dB[K,N] += op(Aᵢ)ᵀ · dCᵢ
                            gemm(!transposeA, false, k, n, m, 1, a.data + i * m * k, transposeA ? m : k, g.data + i * m * n, n, 1, t.data, n)
                        }
                    }
                    gb = t
                } else {
                    let t = Tensor(uninitializedShape: b.shape)
                    if transposeB {  // B is [N, K]: dB = dCᵀ · op(A)
                        batchedSgemm(batch, true, transposeA, n, k, m, g.data, m * n, a.data, m * k, 0, t.data, n * k)
                    } else {         // dB = op(A)ᵀ · dC
                        batchedSgemm(batch, !transposeA, false, k, n, m, a.data, m * k, g.data, m * n, 0, t.data, k * n)
                    }
                    gb = t
                }
            }
            return [ga, gb]
        }
    }
}

extension Tensor {
    /// y = x·Wᵀ + b, PyTorch's `F.linear`: `self` [..., in], `weight`
    /// [out, in], `bias` [out] (optional) -> [..., out].
    ///
    /// Fused: the output rows start as the bias and one GEMM accumulates into
    /// them (beta = 1), so there is no separate add pass, no pre-bias
    /// intermediate and no extra graph node. Backward: dx = dy·W,
    /// dW = dyᵀ·x, db = column sums of dy. Saves x and W (as matmul does).
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(rank >= 1 && weight.rank == 2 && shape.last == weight.shape[1],
                     "linear: input \(Shape.describe(shape)) and weight \(Shape.describe(weight.shape)) (want [..., in] and [out, in])")
        let inF = weight.shape[1], outF = weight.shape[0]
        if let bias { precondition(bias.shape == [outF], "linear: bias \(Shape.describe(bias.shape)) vs weight \(Shape.describe(weight.shape))") }
        let rowsX = Shape.count(Array(shape.dropLast()))
        let out = Tensor(uninitializedShape: Array(shape.dropLast()) + [outF])
        let po = out.data
        if let bias {
            let pb = bias.data
            Threads.parallelFor(rowsX, grain: Swift.max(1, (1 << 14) / Swift.max(outF, 1))) { r in
                for i in r { (po + i * outF).update(from: pb, count: outF) }
            }
            gemm(false, true, rowsX, outF, inF, 1, data, inF, weight.data, inF, 1, po, outF)
        } else {
            gemm(false, true, rowsX, outF, inF, 1, data, inF, weight.data, inF, 0, po, outF)
        }
        let x = self
        var inputs = [x, weight]
        if let bias { inputs.append(bias) }
        return record(out, "linear", inputs) { g in
            var gx: Tensor? = nil, gw: Tensor? = nil, gb: Tensor? = nil
            if x.requiresGrad {       // dx = dy · W
                let t = Tensor(uninitializedShape: x.shape)
                gemm(false, false, rowsX, inF, outF, 1, g.data, outF, weight.data, inF, 0, t.data, inF)
                gx = t
            }
            if weight.requiresGrad {  // dW = dyᵀ · x
                let t = Tensor(uninitializedShape: weight.shape)
                gemm(true, false, outF, inF, rowsX, 1, g.data, outF, x.data, inF, 0, t.data, inF)
                gw = t
            }
            if let bias, bias.requiresGrad {
                let t = Tensor(uninitializedShape: [outF])
                columnSums(g.data, rows: rowsX, inner: outF, into: t.data)
                gb = t
            }
            return bias == nil ? [gx, gw] : [gx, gw, gb]
        }
    }
}
