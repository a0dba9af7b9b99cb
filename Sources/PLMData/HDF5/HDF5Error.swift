// Typed errors for the HDF5 wrapper and the SeqDance feature store.
//
// HDF5's automatic error printing is switched off (see HDF5Library.sync);
// every failing C call becomes an HDF5Error that names the file, the object
// path inside it, what the wrapper tried to do, and a one-line summary of the
// HDF5 error stack (outermost API call, innermost cause).

/// A failed HDF5 operation: which file, which object inside it, what failed.
public struct HDF5Error: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, coarse enough to switch on.
    public enum Kind: String, Sendable {
        /// The file does not exist.
        case fileNotFound
        /// The file exists but is not an HDF5 file (or is truncated beyond recognition).
        case notHDF5
        /// Opening or creating the file failed (permissions, truncation, locking, ...).
        case openFailed
        /// The file or object already exists and overwriting was not requested.
        case alreadyExists
        /// No group, dataset or attribute at that path.
        case notFound
        /// The stored element type cannot be read as the requested Swift type.
        case typeMismatch
        /// A shape does not match the data (or the layout's rules).
        case shapeMismatch
        /// A bad argument (negative dimension, bad chunk shape, NUL inside a string, ...).
        case invalidArgument
        /// Reading data or metadata failed.
        case readFailed
        /// Writing, creating or extending failed (also: file opened read-only).
        case writeFailed
        /// Deleting a link or attribute failed.
        case deleteFailed
        /// The file is valid HDF5 but does not follow the expected layout (SeqDance store).
        case invalidLayout
        /// The file object was closed with `close()`.
        case closed
    }

    /// Coarse failure class.
    public let kind: Kind
    /// File path as given by the caller.
    public let file: String
    /// Absolute object path inside the file ("/" for the root, "" for file-level failures).
    public let object: String
    /// What the wrapper was doing and why it failed.
    public let message: String
    /// Summary of HDF5's own error stack ("" when HDF5 reported nothing).
    public let detail: String

    /// Creates an error; `detail` is normally filled from HDF5's error stack.
    public init(_ kind: Kind, file: String, object: String, _ message: String, detail: String = "") {
        self.kind = kind
        self.file = file
        self.object = object
        self.message = message
        self.detail = detail
    }

    /// "HDF5 error (notFound) in 'f.h5' at '/a/b': message [HDF5: ...]".
    public var description: String {
        var s = "HDF5 error (\(kind.rawValue)) in '\(file)'"
        if !object.isEmpty { s += " at '\(object)'" }
        s += ": \(message)"
        if !detail.isEmpty { s += " [HDF5: \(detail)]" }
        return s
    }
}
