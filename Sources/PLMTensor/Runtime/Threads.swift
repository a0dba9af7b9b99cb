import COpenBLAS
import Dispatch
import Foundation

/// Who owns the cores. OpenBLAS's own threads run inside GEMM; PLMKit's pool
/// (`DispatchQueue.concurrentPerform`) runs every other kernel. They never
/// nest: a pool region that calls GEMM per item first drops OpenBLAS to one
/// thread (`Threads.parallelGEMMs`), and pool kernels never call the pool.
public enum Threads {
    nonisolated(unsafe) private static var _count: Int = {
        if let v = ProcessInfo.processInfo.environment["PLM_NUM_THREADS"], let n = Int(v), n >= 1 { return n }
        return ProcessInfo.processInfo.activeProcessorCount
    }()
    nonisolated(unsafe) private static var configured = false

    /// Threads used by the pool and by OpenBLAS (default: all cores, or the
    /// `PLM_NUM_THREADS` environment variable).
    public static var count: Int {
        if !configured { configure(_count) }
        return _count
    }

    /// Sets the thread count for both the pool and OpenBLAS.
    public static func configure(_ n: Int) {
        precondition(n >= 1, "thread count must be >= 1, got \(n)")
        _count = n
        configured = true
        // Only on a change: the count is process-wide, and changing it while
        // another thread is inside a threaded OpenBLAS/LAPACK call is unsafe.
        if openblas_get_num_threads() != Int32(blasThreads) { openblas_set_num_threads(Int32(blasThreads)) }
    }

    /// The OpenBLAS kernel family in use (e.g. "Haswell", "SkylakeX").
    public static var blasCoreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// OpenBLAS build configuration string.
    public static var blasConfig: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }

    /// Runs `body` over `0..<n` split into contiguous chunks on the pool.
    /// Work below `grain` items per chunk runs inline on the caller.
    @inline(__always)
    public static func parallelFor(_ n: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        if n <= 0 { return }
        let t = count
        let maxChunks = min(t * 4, (n + grain - 1) / max(grain, 1))
        if t == 1 || maxChunks <= 1 {
            body(0..<n)
            return
        }
        let chunks = maxChunks
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = n * c / chunks, hi = n * (c + 1) / chunks
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Runs one small GEMM per item on the pool with OpenBLAS pinned to one
    /// thread for the duration (so the two pools never nest).
    static func parallelGEMMs(_ n: Int, _ body: (Int) -> Void) {
        parallelItemsWithSingleThreadedBLAS(n) { r in for i in r { body(i) } }
    }

    /// Runs `body` over chunks of `0..<n` on the pool (about four chunks per
    /// thread) with OpenBLAS on one thread for the duration: the body may
    /// call sgemm (each call then runs on the calling pool thread).
    static func parallelItemsWithSingleThreadedBLAS(_ n: Int, _ body: (Range<Int>) -> Void) {
        if n <= 0 { return }
        let t = count
        if t == 1 || n == 1 {
            body(0..<n)
            return
        }
        withSingleThreadedBLAS {
            let chunks = min(n, t * 4)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = n * c / chunks, hi = n * (c + 1) / chunks
                if lo < hi { body(lo..<hi) }
            }
        }
    }

    /// Runs `body` with OpenBLAS on one thread (restored afterwards).
    static func withSingleThreadedBLAS<R>(_ body: () -> R) -> R {
        if blasThreads == 1 { return body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(blasThreads)) }
        return body()
    }

    /// The thread count OpenBLAS runs with outside pool regions (1 when the
    /// engine splits large GEMMs over its own pool, see `gemmSplitting`).
    static var blasThreads: Int { gemmSplitting ? 1 : count }

    /// Whether large GEMMs are split by rows (or columns) over the pool, each
    /// part a single-threaded cblas_sgemm, instead of using OpenBLAS's own
    /// threads. On by default: OpenBLAS's idle workers spin (sched_yield) for
    /// a while after every threaded call and then compete with the pool's
    /// element-wise kernels for the cores; with one pool there is nothing to
    /// compete with. `PLM_GEMM_THREADS=openblas` selects OpenBLAS threading.
    /// Parts per pool thread a split GEMM is cut into (`PLM_GEMM_PARTS`,
    /// default 1: more parts balance better when other processes preempt a
    /// thread, but every part packs the whole shared operand again, which
    /// costs more than it saves for the K = tokens weight-gradient GEMMs).
    nonisolated(unsafe) static var gemmPartsPerThread: Int = {
        if let v = ProcessInfo.processInfo.environment["PLM_GEMM_PARTS"], let n = Int(v), n >= 1 { return n }
        return 1
    }()

    nonisolated(unsafe) static var gemmSplitting: Bool = {
        ProcessInfo.processInfo.environment["PLM_GEMM_THREADS"] != "openblas"
    }()
}
