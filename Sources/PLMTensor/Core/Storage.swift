import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Contiguous Float32 memory owned by one object. Tensors share a storage
/// when they are reshaped views of each other; every other op allocates.
///
/// Memory is 64-byte aligned (AVX-512 friendly) and comes from
/// `StoragePool`: large buffers are recycled by size instead of going back to
/// the system, so a training step that repeats the previous step's shapes
/// allocates (and page-faults) almost nothing. A storage can also wrap memory
/// it does not own (e.g. a memory-mapped file), kept alive by `owner`.
public final class TensorStorage {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    private let owner: AnyObject?
    /// Bytes of the underlying allocation (≥ count·4; 0 when borrowed).
    private let capacity: Int

    /// Allocates `count` floats, uninitialised (recycled memory holds old values).
    public init(count: Int) {
        precondition(count >= 0, "negative storage size \(count)")
        (pointer, capacity) = StoragePool.allocate(floats: count)
        self.count = count
        owner = nil
        MemoryStats.allocated(bytes: count * 4)
    }

    /// Wraps memory owned by `owner` (not freed here).
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
        capacity = 0
    }

    deinit {
        if capacity > 0 {
            StoragePool.release(pointer, capacity: capacity)
            MemoryStats.freed(bytes: count * 4)
        }
    }
}

/// The allocator behind `TensorStorage`.
///
/// Buffers of at least `minimumPooledBytes` are kept on free lists keyed by
/// their capacity (a multiple of 4 KiB) and handed out again, best fit (the
/// smallest idle buffer that holds the request, up to `maximumFit` times its
/// size).
/// Fresh large allocations from glibc are mmap'ed and unmapped on free, so
/// without the pool every activation of every step would be page-faulted in
/// again (zeroed by the kernel, page by page); the reference PyTorch
/// benchmark raises glibc's mmap threshold for the same reason. The
/// tolerance lets sizes that are never alive at the same time share buffers
/// (a training step's parameter gradients [480, 480] and [1920, 480] reuse
/// activation buffers [2048, 480] freed earlier in backward, and go back to
/// serving activations after `zeroGrad`), so idle buffers of sizes nobody
/// needs at the moment do not add to the peak RSS; once resident memory is
/// idle, wasting part of it beats growing the process. Smaller buffers go straight to
/// `posix_memalign`.
///
/// The pool never holds more than `limitBytes` of idle memory (default:
/// a quarter of physical memory; `PLM_POOL_LIMIT_MB` overrides, 0 disables
/// pooling, e.g. for memory checkers). `releaseCached()` returns every idle
/// buffer to the system.
public enum StoragePool {
    public static let minimumPooledBytes = 64 * 1024
    /// Idle buffers by capacity, and the capacities that have any, ascending.
    nonisolated(unsafe) private static var freeLists: [Int: [UnsafeMutableRawPointer]] = [:]
    nonisolated(unsafe) private static var sizes: [Int] = []
    nonisolated(unsafe) private static var idle = 0
    nonisolated(unsafe) private static var hits = 0, misses = 0
    nonisolated(unsafe) private static var limit: Int = {
        if let v = ProcessInfo.processInfo.environment["PLM_POOL_LIMIT_MB"], let mb = Int(v), mb >= 0 { return mb << 20 }
        return Int(ProcessInfo.processInfo.physicalMemory / 4)
    }()
    private static let lock = NSLock()

    /// Largest number of idle bytes kept for reuse.
    public static var limitBytes: Int {
        get { lock.lock(); defer { lock.unlock() }; return limit }
        set { lock.lock(); limit = max(0, newValue); lock.unlock(); trim() }
    }

    /// Bytes held idle for reuse.
    public static var idleBytes: Int { lock.lock(); defer { lock.unlock() }; return idle }

    /// (reused, fresh) large allocations since start.
    public static var counters: (reused: Int, fresh: Int) { lock.lock(); defer { lock.unlock() }; return (hits, misses) }

    @inline(__always) static func bucket(_ bytes: Int) -> Int { (bytes + 4095) & ~4095 }

    /// A request takes the smallest idle buffer of up to this many times its
    /// size rather than growing the process (see the type's comment).
    static let maximumFit = 8

    /// A buffer for `count` floats and its capacity in bytes.
    static func allocate(floats count: Int) -> (UnsafeMutablePointer<Float>, Int) {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        if bytes >= minimumPooledBytes {
            let b = bucket(bytes)
            lock.lock()
            // Best fit among capacities in [b, b·5/4].
            let i = lowerBound(b)
            if i < sizes.count && sizes[i] <= b * maximumFit {
                let cap = sizes[i]
                let p = freeLists[cap]!.removeLast()
                if freeLists[cap]!.isEmpty { freeLists[cap] = nil; sizes.remove(at: i) }
                idle -= cap
                hits += 1
                lock.unlock()
                return (p.bindMemory(to: Float.self, capacity: cap / 4), cap)
            }
            misses += 1
            lock.unlock()
            return (systemAllocate(b), b)
        }
        return (systemAllocate(bytes), bytes)
    }

    /// Takes back a buffer from `allocate` (`capacity` as it returned).
    static func release(_ p: UnsafeMutablePointer<Float>, capacity: Int) {
        guard capacity >= minimumPooledBytes else { Foundation.free(p); return }
        lock.lock()
        if idle + capacity <= limit {
            if freeLists[capacity] == nil {
                freeLists[capacity] = [UnsafeMutableRawPointer(p)]
                sizes.insert(capacity, at: lowerBound(capacity))
            } else {
                freeLists[capacity]!.append(UnsafeMutableRawPointer(p))
            }
            idle += capacity
            lock.unlock()
            return
        }
        lock.unlock()
        Foundation.free(p)
    }

    /// Index of the first capacity ≥ b in `sizes` (call with the lock held).
    private static func lowerBound(_ b: Int) -> Int {
        var lo = 0, hi = sizes.count
        while lo < hi { let mid = (lo + hi) / 2; if sizes[mid] < b { lo = mid + 1 } else { hi = mid } }
        return lo
    }

    /// Frees every idle buffer (memory in use is untouched).
    public static func releaseCached() {
        lock.lock()
        let all = freeLists
        freeLists = [:]
        sizes = []
        idle = 0
        lock.unlock()
        for (_, list) in all { for p in list { Foundation.free(p) } }
    }

    /// Frees idle buffers (largest first) until the idle total fits the limit.
    static func trim() {
        lock.lock()
        var dropped: [UnsafeMutableRawPointer] = []
        while idle > limit, let cap = sizes.last {
            dropped.append(freeLists[cap]!.removeLast())
            idle -= cap
            if freeLists[cap]!.isEmpty { freeLists[cap] = nil; sizes.removeLast() }
        }
        lock.unlock()
        for p in dropped { Foundation.free(p) }
    }

    private static func systemAllocate(_ bytes: Int) -> UnsafeMutablePointer<Float> {
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, 64, bytes)
        guard rc == 0, let raw else { fatalError("out of memory allocating \(bytes) bytes") }
        return raw.bindMemory(to: Float.self, capacity: bytes / 4)
    }
}

/// Live bytes held by tensor storages (for benchmarks and leak tests).
public enum MemoryStats {
    nonisolated(unsafe) private static var live = 0
    nonisolated(unsafe) private static var peak = 0
    private static let lock = NSLock()

    static func allocated(bytes: Int) {
        lock.lock(); live += bytes; if live > peak { peak = live }; lock.unlock()
    }
    static func freed(bytes: Int) {
        lock.lock(); live -= bytes; lock.unlock()
    }
    /// Bytes currently held by tensor storages.
    public static var liveBytes: Int { lock.lock(); defer { lock.unlock() }; return live }
    /// Largest `liveBytes` seen since start or the last `resetPeak()`.
    public static var peakBytes: Int { lock.lock(); defer { lock.unlock() }; return peak }
    public static func resetPeak() { lock.lock(); peak = live; lock.unlock() }
}
