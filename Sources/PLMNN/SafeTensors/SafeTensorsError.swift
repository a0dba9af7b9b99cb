/// A problem with a safetensors file; every case names the file and, where
/// there is one, the tensor.
public enum SafeTensorsError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The file could not be opened, mapped or read.
    case cannotRead(file: String, reason: String)
    /// The file is shorter than the 8-byte header length prefix.
    case fileTooSmall(file: String, size: Int)
    /// The header length exceeds the 100 MB limit of the spec.
    case headerTooLarge(file: String, headerLength: UInt64, limit: Int)
    /// The header length points past the end of the file.
    case headerBeyondFile(file: String, headerLength: UInt64, fileSize: Int)
    /// The header is not valid UTF-8 JSON, or not a JSON object (`reason` says which).
    case invalidHeader(file: String, reason: String)
    /// The same tensor name appears twice in the header.
    case duplicateName(file: String, tensor: String)
    /// A header entry lacks `dtype`/`shape`/`data_offsets` or has the wrong JSON types.
    case invalidEntry(file: String, tensor: String, reason: String)
    /// `__metadata__` is not an object of string values.
    case invalidMetadata(file: String, reason: String)
    /// The dtype is not supported (unknown to the spec, or known but not readable here).
    case unsupportedDType(file: String, tensor: String, dtype: String)
    /// `data_offsets` span a different number of bytes than `shape` and `dtype` need.
    case byteLengthMismatch(file: String, tensor: String, dtype: String, shape: [Int], expectedBytes: Int, actualBytes: Int)
    /// A tensor's data runs past the end of the file (the file was cut short, or the header lies).
    case dataTruncated(file: String, tensor: String, end: Int, bufferLength: Int)
    /// Bytes `[begin, end)` of the data buffer belong to no tensor; `before` is the
    /// tensor that follows the gap (nil: trailing bytes after the last tensor).
    case gap(file: String, before: String?, begin: Int, end: Int)
    /// Two tensors claim the same bytes.
    case overlap(file: String, tensor: String, other: String)
    /// The requested tensor is not in the file.
    case tensorNotFound(file: String, tensor: String)
    /// The tensor exists but has a different dtype than the accessor needs (e.g. `int64(_:)` on F32).
    case wrongDType(file: String, tensor: String, dtype: String, requested: String)
    /// Writing failed; `tensor` is set when one tensor's name or data was at fault.
    case writeFailed(file: String, tensor: String?, reason: String)

    public var description: String {
        switch self {
        case let .cannotRead(file, reason):
            return "safetensors \(file): cannot read: \(reason)"
        case let .fileTooSmall(file, size):
            return "safetensors \(file): truncated file: \(size) bytes, shorter than the 8-byte header length"
        case let .headerTooLarge(file, n, limit):
            return "safetensors \(file): header length \(n) exceeds the limit of \(limit) bytes"
        case let .headerBeyondFile(file, n, size):
            return "safetensors \(file): header length \(n) points past the end of the \(size)-byte file (truncated or not a safetensors file)"
        case let .invalidHeader(file, reason):
            return "safetensors \(file): invalid header: \(reason)"
        case let .duplicateName(file, tensor):
            return "safetensors \(file): duplicate tensor name '\(tensor)' in the header"
        case let .invalidEntry(file, tensor, reason):
            return "safetensors \(file): tensor '\(tensor)': \(reason)"
        case let .invalidMetadata(file, reason):
            return "safetensors \(file): invalid __metadata__: \(reason)"
        case let .unsupportedDType(file, tensor, dtype):
            return "safetensors \(file): tensor '\(tensor)' has unsupported dtype \(dtype) (readable: F32, F16, BF16, F64, I64)"
        case let .byteLengthMismatch(file, tensor, dtype, shape, expected, actual):
            let dims = "[" + shape.map(String.init).joined(separator: ", ") + "]"
            return "safetensors \(file): tensor '\(tensor)' (\(dtype) \(dims)) needs \(expected) bytes but its data_offsets span \(actual)"
        case let .dataTruncated(file, tensor, end, length):
            return "safetensors \(file): truncated file: tensor '\(tensor)' ends at byte \(end) of the data buffer, which has only \(length) bytes"
        case let .gap(file, before, begin, end):
            if let before {
                return "safetensors \(file): data bytes [\(begin), \(end)) before tensor '\(before)' belong to no tensor (gap in data_offsets)"
            }
            return "safetensors \(file): data bytes [\(begin), \(end)) after the last tensor belong to no tensor (trailing bytes)"
        case let .overlap(file, tensor, other):
            return "safetensors \(file): tensors '\(other)' and '\(tensor)' overlap in the data buffer"
        case let .tensorNotFound(file, tensor):
            return "safetensors \(file): no tensor named '\(tensor)'"
        case let .wrongDType(file, tensor, dtype, requested):
            return "safetensors \(file): tensor '\(tensor)' is \(dtype), not \(requested)"
        case let .writeFailed(file, tensor, reason):
            if let tensor { return "safetensors \(file): cannot write tensor '\(tensor)': \(reason)" }
            return "safetensors \(file): cannot write: \(reason)"
        }
    }
}
