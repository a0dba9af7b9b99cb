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

    /// Marks an open file's descriptor close-on-exec. HDF5 locks the files it
    /// opens (flock); a process spawned without closing inherited descriptors
    /// would otherwise keep that lock after we close the file, and the next
    /// open fails with "unable to lock file, errno = 11".
    static func closeOnExec(_ file: hid_t) {
        var handle: UnsafeMutableRawPointer? = nil
        guard H5Fget_vfd_handle(file, defaultPlist, &handle) >= 0, let h = handle else { return }
        let fd = h.load(as: Int32.self)   // the default (sec2) driver's handle is the int descriptor
        let flags = fcntl(fd, F_GETFD)
        if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
    }
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

/// File path and mode shared by every object opened from one HDF5File.
final class HDF5FileState {
    let path: String
    let writable: Bool
    init(path: String, writable: Bool) {
        self.path = path
        self.writable = writable
    }
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
