import Foundation

/// Contiguous Float32 memory owned by one object. Tensors share a storage
/// when they are reshaped views of each other; every other op allocates.
///
/// Memory is 64-byte aligned (AVX-512 friendly). A storage can also wrap
/// memory it does not own (e.g. a memory-mapped file), kept alive by `owner`.
public final class TensorStorage {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    private let owner: AnyObject?
    private let owned: Bool

    /// Allocates `count` floats, uninitialised.
    public init(count: Int) {
        precondition(count >= 0, "negative storage size \(count)")
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let rc = posix_memalign(&raw, 64, bytes)
        guard rc == 0, let raw else { fatalError("out of memory allocating \(bytes) bytes") }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        owner = nil
        owned = true
        MemoryStats.allocated(bytes: count * 4)
    }

    /// Wraps memory owned by `owner` (not freed here).
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = pointer
        self.count = count
        self.owner = owner
        owned = false
    }

    deinit {
        if owned {
            free(pointer)
            MemoryStats.freed(bytes: count * 4)
        }
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
