// An HDF5 file: create/truncate, open read-only or read-write, open-or-create.
//
// The file object is also its root group ("/"), as in h5py. Closing: the id
// closes when the object is released or on `close()`; objects opened from the
// file (groups, datasets) keep the file open until they are released too
// (HDF5's default "weak" close degree).
import CHDF5
import Foundation

/// An open HDF5 file; also its root group.
public final class HDF5File: HDF5Group {
    /// How an existing file is opened.
    public enum Mode: Sendable {
        case readOnly
        case readWrite
    }

    /// True when the file was opened for writing.
    public var isWritable: Bool { fileState.writable }

    init(id: hid_t, path: String, writable: Bool, lock: HDF5FileLock) {
        super.init(handle: HDF5Handle(id, .file), file: HDF5FileState(path: path, writable: writable, lock: lock), path: "/")
    }

    /// Closes the file id now. HDF5 closes the file itself once no group or
    /// dataset from it is open any more; when none is, the inter-process lock
    /// is released at once (else when the last of them is released).
    public override func close() {
        let others: Int = HDF5Library.sync {
            guard let id = try? id() else { return 0 }
            return max(0, Int(H5Fget_obj_count(id, plm_H5F_OBJ_LOCAL_OBJECTS())))
        }
        super.close()
        if others == 0 { fileState.lock?.release() }
    }

    /// Creates a new file; an existing file is truncated when `overwrite` (default), else `alreadyExists`.
    public static func create(_ path: String, overwrite: Bool = true) throws -> HDF5File {
        try HDF5Library.sync {
            let ctx = HDF5Context(file: path, object: "")
            // The lock needs the file to exist: create it empty (exclusively unless
            // overwriting), lock it, then let HDF5 truncate it to a fresh file.
            let existed = FileManager.default.fileExists(atPath: path)
            let fd = posixOpen(path, O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? 0 : O_EXCL), 0o644)
            guard fd >= 0 else {
                let code = errno
                if code == EEXIST { throw HDF5Error(.alreadyExists, file: path, object: "", "file exists (pass overwrite: true to truncate it)") }
                throw HDF5Error(.openFailed, file: path, object: "", "cannot create the file", detail: "open: \(String(cString: strerror(code)))")
            }
            posixClose(fd)
            let lock: HDF5FileLock
            do { lock = try HDF5FileLock.acquire(path, exclusive: true) } catch {
                if !existed { unlink(path) }
                throw error
            }
            let id = try HDF5Library.withFileAccess(ctx) { H5Fcreate(path, plm_H5F_ACC_TRUNC(), HDF5Library.defaultPlist, $0) }
            guard id >= 0 else {
                let e = ctx.error(.openFailed, "cannot create the file")
                lock.release()
                if !existed { unlink(path) }
                throw e
            }
            HDF5Library.closeOnExec(id)
            return HDF5File(id: id, path: path, writable: true, lock: lock)
        }
    }

    /// Opens an existing file. Throws `fileNotFound`, `notHDF5`, or `openFailed` (e.g. truncated).
    public static func open(_ path: String, mode: Mode = .readOnly) throws -> HDF5File {
        try HDF5Library.sync {
            let ctx = HDF5Context(file: path, object: "")
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw HDF5Error(.fileNotFound, file: path, object: "", "no such file")
            }
            guard !isDirectory.boolValue else { throw HDF5Error(.notHDF5, file: path, object: "", "is a directory") }
            let signature = H5Fis_hdf5(path)
            if signature == 0 {
                throw HDF5Error(.notHDF5, file: path, object: "", "not an HDF5 file (no HDF5 signature found)",
                                detail: HDF5Library.takeErrorSummary())
            }
            guard signature > 0 else { throw ctx.error(.openFailed, "cannot read the file to check its HDF5 signature") }
            let writable = mode == .readWrite
            let lock = try HDF5FileLock.acquire(path, exclusive: writable)
            let id = try HDF5Library.withFileAccess(ctx) { H5Fopen(path, writable ? plm_H5F_ACC_RDWR() : plm_H5F_ACC_RDONLY(), $0) }
            guard id >= 0 else {
                let detail = HDF5Library.takeErrorSummary()
                lock.release()
                let reason = detail.lowercased().contains("truncated") ? "file is truncated (HDF5 end-of-file check failed)"
                    : "cannot open the file" + (writable ? " for writing" : "")
                throw HDF5Error(.openFailed, file: path, object: "", reason, detail: detail)
            }
            HDF5Library.closeOnExec(id)
            return HDF5File(id: id, path: path, writable: writable, lock: lock)
        }
    }

    /// Opens an existing file read-write (appending), or creates it when missing.
    public static func openOrCreate(_ path: String) throws -> HDF5File {
        FileManager.default.fileExists(atPath: path) ? try open(path, mode: .readWrite) : try create(path, overwrite: false)
    }

    /// True when `path` is a readable file with an HDF5 signature.
    public static func isHDF5(_ path: String) -> Bool {
        HDF5Library.sync {
            let r = H5Fis_hdf5(path)
            plm_error_clear()
            return r > 0
        }
    }

    /// Writes buffered data to disk.
    public func flush() throws {
        try HDF5Library.sync {
            _ = try context.check(H5Fflush(try id(), H5F_SCOPE_GLOBAL), .writeFailed, "flush failed")
        }
    }
}
