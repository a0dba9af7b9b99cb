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

/// Batched GEMM: `batch` independent products at fixed strides. Small
/// matrices run one per pool item with OpenBLAS on one thread; large ones
/// run in sequence with OpenBLAS threaded.
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
        for i in 0..<batch { body(i) }
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
                sgemm(false, transposeB, rowsA, n, k, 1, a.data, k, b.data, transposeB ? k : n, 0, out.data, n)
                return record(out, "matmul", [a, b]) { g, _ in
                    var ga: Tensor? = nil, gb: Tensor? = nil
                    if a.requiresGrad {  // dA = dC · op(B)ᵀ
                        let t = Tensor(uninitializedShape: a.shape)
                        sgemm(false, !transposeB, rowsA, k, n, 1, g.data, n, b.data, transposeB ? k : n, 0, t.data, k)
                        ga = t
                    }
                    if b.requiresGrad {  // dB = Aᵀ·dC  (or dCᵀ·A when B is transposed)
                        let t = Tensor(uninitializedShape: b.shape)
                        if transposeB {
                            sgemm(true, false, n, k, rowsA, 1, g.data, n, a.data, k, 0, t.data, k)
                        } else {
                            sgemm(true, false, k, n, rowsA, 1, a.data, k, g.data, n, 0, t.data, n)
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
        return record(out, "bmm", [a, b]) { g, _ in
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
                            sgemm(true, transposeA, n, k, m, 1, g.data + i * m * n, n, a.data + i * m * k, transposeA ? m : k, 1, t.data, k)
                        } else {         // dB[K,N] += op(Aᵢ)ᵀ · dCᵢ
                            sgemm(!transposeA, false, k, n, m, 1, a.data + i * m * k, transposeA ? m : k, g.data + i * m * n, n, 1, t.data, n)
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
