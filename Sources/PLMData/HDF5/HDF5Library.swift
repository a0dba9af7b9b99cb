// Process-wide HDF5 plumbing: one recursive lock around every C call, error
// silencing, and the RAII handle that closes each hid_t exactly once.
//
// Debian's libhdf5 is built thread-safe, but its error stack (and the
// "print errors automatically" switch) is per thread, and Swift Testing runs
// tests concurrently. So every call goes through `HDF5Library.sync`, which
// takes the lock, switches automatic printing off for the calling thread and
// clears any stale error stack before running the body.
import CHDF5
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `open(2)` / `close(2)`, named apart from `HDF5File.open` / `close()`.
func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 {
    #if canImport(Glibc)
    return Glibc.open(path, flags, mode)
    #else
    return Darwin.open(path, flags, mode)
    #endif
}

func posixClose(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #else
    _ = Darwin.close(fd)
    #endif
}

enum HDF5Library {
    private static let lock = NSRecursiveLock()

    /// Runs `body` holding the HDF5 lock with automatic error printing off.
    static func sync<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        _ = plm_silence_errors()
        plm_error_clear()
        return try body()
    }

    /// Summary of the calling thread's HDF5 error stack; clears the stack.
    static func takeErrorSummary() -> String {
        var buf = [CChar](repeating: 0, count: 600)
        let n = buf.count
        buf.withUnsafeMutableBufferPointer { plm_error_summary($0.baseAddress, n) }
        return String(cString: buf)
    }

    static var defaultPlist: hid_t { plm_H5P_DEFAULT() }

    /// Marks an open file's HDF5 descriptor close-on-exec (hygiene: a spawned
    /// program has no business holding our files open). It cannot be atomic —
    /// HDF5 opens without O_CLOEXEC — which is why HDF5's own flock is off and
    /// the lock lives on `HDF5FileLock`'s descriptor instead.
    static func closeOnExec(_ file: hid_t) {
        var handle: UnsafeMutableRawPointer? = nil
        guard H5Fget_vfd_handle(file, defaultPlist, &handle) >= 0, let h = handle else { return }
        let fd = h.load(as: Int32.self)   // the default (sec2) driver's handle is the int descriptor
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }

    /// Runs `body` with a file-access list that has HDF5's locking off.
    static func withFileAccess<T>(_ ctx: HDF5Context, _ body: (hid_t) throws -> T) throws -> T {
        let fapl = plm_fapl_without_locking()
        guard fapl >= 0 else { throw ctx.error(.openFailed, "cannot make a file-access property list") }
        defer { H5Pclose(fapl) }
        return try body(fapl)
    }
}

/// The inter-process lock on an open HDF5 file: shared for reading, exclusive
/// for writing, as HDF5's own (flock) lock, which it replaces.
///
/// Why not HDF5's lock: HDF5 opens the file without O_CLOEXEC and flocks that
/// descriptor. A process spawned by another thread between the open and our
/// `fcntl(FD_CLOEXEC)` (Swift Testing's exit tests, `mpirun`, `plm` children)
/// inherits the descriptor and with it the lock, which then outlives our
/// close: the next open fails with "unable to lock file, errno = 11". This lock
/// is taken on a descriptor opened with O_CLOEXEC, so no program a child execs
/// holds it, and released with an explicit LOCK_UN, which frees it even while
/// a child between fork and exec still shares the descriptor.
/// flock locks still conflict with h5py's (HDF5's) locks on the same file.
///
/// One flock per file (device, inode) per process, counted: flock locks
/// belong to an open file description, so a second descriptor in the same
/// process would conflict with the first. Within a process HDF5 decides
/// which combinations of opens are allowed, as before. Filesystems without
/// flock (some NFS) get no lock, as HDF5's `ignore_when_disabled`.
final class HDF5FileLock {
    private struct Key: Hashable { let device: UInt64; let inode: UInt64 }
    private struct Held { let fd: Int32; var count: Int }
    nonisolated(unsafe) private static var held: [Key: Held] = [:]   // guarded by `guardLock`
    private static let guardLock = NSLock()

    private let key: Key
    private var isHeld = true

    private init(key: Key) { self.key = key }

    /// Locks the file at `path`, which must exist. `exclusive` for writing.
    static func acquire(_ path: String, exclusive: Bool) throws -> HDF5FileLock {
        guardLock.lock()
        defer { guardLock.unlock() }
        let fd = posixOpen(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw HDF5Error(.openFailed, file: path, object: "", "cannot open the file: \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let message = String(cString: strerror(errno))
            posixClose(fd)
            throw HDF5Error(.openFailed, file: path, object: "", "cannot stat the file: \(message)")
        }
        let key = Key(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
        if var h = held[key] {   // this process already holds it; HDF5 arbitrates between our own opens
            posixClose(fd)
            h.count += 1
            held[key] = h
            return HDF5FileLock(key: key)
        }
        if flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            let code = errno
            if code == EWOULDBLOCK {
                posixClose(fd)
                throw HDF5Error(.openFailed, file: path, object: "",
                                exclusive ? "the file is open in another process; close it there before writing"
                                          : "the file is being written by another process")
            }
            guard code == ENOLCK || code == ENOSYS || code == EOPNOTSUPP else {
                posixClose(fd)
                throw HDF5Error(.openFailed, file: path, object: "", "cannot lock the file: \(String(cString: strerror(code)))")
            }
        }
        held[key] = Held(fd: fd, count: 1)
        return HDF5FileLock(key: key)
    }

    /// Drops this reference; the last one unlocks. Later calls do nothing.
    func release() {
        Self.guardLock.lock()
        defer { Self.guardLock.unlock() }
        do {
            guard isHeld, var h = Self.held[key] else { return }
            isHeld = false
            h.count -= 1
            if h.count == 0 {
                Self.held[key] = nil
                // Unlock explicitly before closing: a child being spawned by another
                // thread may hold a copy of the descriptor until it execs (O_CLOEXEC
                // closes it only then), and while it does, close() alone would leave
                // the description, and its lock, alive. LOCK_UN on any copy frees it.
                _ = flock(h.fd, LOCK_UN)
                posixClose(h.fd)
            } else {
                Self.held[key] = h
            }
        }
    }

    deinit { release() }
}

/// Which HDF5 close function owns an id.
enum HDF5HandleKind {
    case file, group, dataset, dataspace, datatype, plist, attribute, object

    func close(_ id: hid_t) -> herr_t {
        switch self {
        case .file: return H5Fclose(id)
        case .group: return H5Gclose(id)
        case .dataset: return H5Dclose(id)
        case .dataspace: return H5Sclose(id)
        case .datatype: return H5Tclose(id)
        case .plist: return H5Pclose(id)
        case .attribute: return H5Aclose(id)
        case .object: return H5Oclose(id)
        }
    }
}

/// Owns one valid (>= 0) hid_t and closes it in deinit (or earlier with `close()`).
final class HDF5Handle {
    let id: hid_t
    let kind: HDF5HandleKind
    private(set) var isOpen = true

    /// Wraps an id already checked to be >= 0.
    init(_ id: hid_t, _ kind: HDF5HandleKind) {
        self.id = id
        self.kind = kind
    }

    /// Closes the id now; later calls do nothing.
    func close() {
        HDF5Library.sync {
            guard isOpen else { return }
            isOpen = false
            _ = kind.close(id)
            plm_error_clear()
        }
    }

    deinit { close() }
}

/// File path, mode and inter-process lock shared by every object opened
/// from one HDF5File. HDF5 keeps a file open while any object from it is
/// (its "weak" close degree), so the lock lives as long as this state — the
/// file and every object from it — unless `HDF5File.close()` finds nothing
/// else open and releases it at once.
final class HDF5FileState {
    let path: String
    let writable: Bool
    let lock: HDF5FileLock?
    init(path: String, writable: Bool, lock: HDF5FileLock? = nil) {
        self.path = path
        self.writable = writable
        self.lock = lock
    }
    deinit { lock?.release() }
}

/// Builds errors for one object; `check` turns negative HDF5 return codes into throws.
struct HDF5Context {
    let file: String
    let object: String

    func error(_ kind: HDF5Error.Kind, _ message: String) -> HDF5Error {
        HDF5Error(kind, file: file, object: object, message, detail: HDF5Library.takeErrorSummary())
    }

    /// Returns a handle for `id`, or throws `kind` with `message` when id < 0.
    func handle(_ id: hid_t, _ hkind: HDF5HandleKind, _ kind: HDF5Error.Kind, _ message: @autoclosure () -> String) throws -> HDF5Handle {
        guard id >= 0 else { throw error(kind, message()) }
        return HDF5Handle(id, hkind)
    }

    /// Throws when an herr_t/htri_t/ssize_t/int result is negative.
    @discardableResult
    func check<I: BinaryInteger>(_ status: I, _ kind: HDF5Error.Kind, _ message: @autoclosure () -> String) throws -> I {
        guard status >= 0 else { throw error(kind, message()) }
        return status
    }

    /// Context for a child path ("name" relative to this object, or absolute "/x/y").
    func child(_ name: String) -> HDF5Context {
        HDF5Context(file: file, object: HDF5Path.join(object, name))
    }
}

/// Object path helpers (HDF5 paths use "/" separators; "." is the object itself).
enum HDF5Path {
    static func join(_ parent: String, _ name: String) -> String {
        if name.hasPrefix("/") { return normalize(name) }
        if name.isEmpty || name == "." { return parent }
        if parent.isEmpty || parent == "/" { return normalize("/" + name) }
        return normalize(parent + "/" + name)
    }

    static func normalize(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }

    /// Non-empty components of a relative or absolute path.
    static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
    }
}
