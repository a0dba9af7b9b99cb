import Foundation
import PLMTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tensor to write: Float32 data, or Int64 values (e.g. `position_ids`).
public enum SafeTensorsValue {
    /// Written as F32 with the tensor's shape.
    case float32(Tensor)
    /// Written as I64; `values.count` must equal the shape's element count.
    case int64(shape: [Int], values: [Int64])

    var dtype: SafeTensorsDType {
        switch self {
        case .float32: return .f32
        case .int64: return .i64
        }
    }

    var shape: [Int] {
        switch self {
        case let .float32(t): return t.shape
        case let .int64(shape, _): return shape
        }
    }

    var byteCount: Int {
        switch self {
        case let .float32(t): return t.count * 4
        case let .int64(_, values): return values.count * 8
        }
    }
}

/// Writing safetensors files.
///
/// Layout: tensors ordered by name, data packed back to back in that order,
/// the JSON header padded with spaces to a multiple of 8 bytes (so F32 and
/// I64 data start aligned), `__metadata__` first when given.
public enum SafeTensors {
    /// Writes F32 tensors atomically (temp file in the same folder + rename).
    public static func write(_ tensors: [String: Tensor], metadata: [String: String]? = nil, to url: URL) throws {
        try write(values: tensors.mapValues { .float32($0) }, metadata: metadata, to: url)
    }

    /// Writes F32 and I64 tensors atomically (temp file in the same folder + rename).
    public static func write(values: [String: SafeTensorsValue], metadata: [String: String]? = nil, to url: URL) throws {
        let path = url.path
        let (header, order) = try makeHeader(values, metadata: metadata, file: path)
        let dir = url.deletingLastPathComponent().path
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SafeTensorsError.writeFailed(file: path, tensor: nil, reason: "cannot create \(tmp): \(String(cString: strerror(errno)))")
        }
        var ok = false
        defer {
            if !ok { close(fd); unlink(tmp) }
        }
        try header.withUnsafeBytes { try writeAll(fd, $0, file: path, tensor: nil) }
        for name in order {
            switch values[name]! {
            case let .float32(t):
                try writeAll(fd, UnsafeRawBufferPointer(start: t.data, count: t.count * 4), file: path, tensor: name)
            case let .int64(_, v):
                let le = v.map { $0.littleEndian }
                try le.withUnsafeBytes { try writeAll(fd, $0, file: path, tensor: name) }
            }
        }
        guard fsync(fd) == 0 else {
            throw SafeTensorsError.writeFailed(file: path, tensor: nil, reason: "fsync: \(String(cString: strerror(errno)))")
        }
        ok = true
        close(fd)
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw SafeTensorsError.writeFailed(file: path, tensor: nil, reason: "rename: \(reason)")
        }
        // Make the rename durable too (best effort).
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// The complete file bytes (for small files and tests; `write` streams instead).
    public static func serialize(values: [String: SafeTensorsValue], metadata: [String: String]? = nil) throws -> [UInt8] {
        let (header, order) = try makeHeader(values, metadata: metadata, file: "<memory>")
        var out = header
        for name in order {
            switch values[name]! {
            case let .float32(t):
                out.append(contentsOf: UnsafeRawBufferPointer(start: t.data, count: t.count * 4))
            case let .int64(_, v):
                for x in v { withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) } }
            }
        }
        return out
    }

    /// The 8-byte length prefix plus the padded JSON header, and the tensor order.
    static func makeHeader(_ values: [String: SafeTensorsValue], metadata: [String: String]?,
                           file: String) throws -> (bytes: [UInt8], order: [String]) {
        #if _endian(big)
        // F32 data is written straight from tensor memory, which must be little endian.
        throw SafeTensorsError.writeFailed(file: file, tensor: nil, reason: "big-endian hosts are not supported")
        #endif
        let order = values.keys.sorted()
        var json = "{"
        var first = true
        if let metadata {
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        for name in order {
            guard name != "__metadata__" else {
                throw SafeTensorsError.writeFailed(file: file, tensor: name, reason: "the name __metadata__ is reserved")
            }
            let v = values[name]!
            if case let .int64(shape, ints) = v, ints.count != shape.reduce(1, *) {
                throw SafeTensorsError.writeFailed(file: file, tensor: name,
                                                   reason: "\(ints.count) values do not fill shape \(shape)")
            }
            let end = offset + v.byteCount
            if !first { json += "," }
            first = false
            json += "\(jsonString(name)):{\"dtype\":\"\(v.dtype.rawValue)\",\"shape\":["
            json += v.shape.map(String.init).joined(separator: ",")
            json += "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var body = Array(json.utf8)
        while body.count % 8 != 0 { body.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + body.count)
        withUnsafeBytes(of: UInt64(body.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: body)
        return (out, order)
    }

    /// A JSON string literal (quotes, backslashes and control characters escaped).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, file: String, tensor: String?) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            #if canImport(Glibc)
            let n = Glibc.write(fd, p, min(left, 1 << 30))
            #else
            let n = Darwin.write(fd, p, min(left, 1 << 30))
            #endif
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw SafeTensorsError.writeFailed(file: file, tensor: tensor, reason: String(cString: strerror(errno)))
            }
            p += n
            left -= n
        }
    }
}
