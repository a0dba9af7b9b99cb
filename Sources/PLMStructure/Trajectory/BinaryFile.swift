import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only file accessed by positioned reads (`pread`), so readers can stream
/// frames with one reusable buffer instead of loading the whole file.
final class BinaryFile {
    let path: String
    let name: String
    let size: Int
    private var fd: Int32

    init(url: URL) throws {
        path = url.path
        name = url.lastPathComponent
        guard FileManager.default.fileExists(atPath: path) else {
            throw StructureIOError.fileNotFound(path: path)
        }
        fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw StructureIOError.readFailed(path: path, reason: String(cString: strerror(errno)))
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw StructureIOError.readFailed(path: path, reason: reason)
        }
        size = Int(st.st_size)
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Reads up to `count` bytes at `offset` into `buffer`; returns the number read (short only at end of file).
    func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) throws -> Int {
        var done = 0
        while done < count {
            let r = pread(fd, buffer + done, count - done, off_t(offset + done))
            if r < 0 {
                if errno == EINTR { continue }
                throw StructureIOError.readFailed(path: path, reason: String(cString: strerror(errno)))
            }
            if r == 0 { break }
            done += r
        }
        return done
    }

    /// Reads exactly `count` bytes at `offset` into `buffer` (resized if needed) or throws `.truncated`.
    func readExactly(into buffer: inout [UInt8], count: Int, at offset: Int,
                     frame: Int?, what: @autoclosure () -> String) throws {
        if offset + count > size {
            // Checked before allocating: a corrupt length field must not trigger a huge allocation.
            let got = max(0, size - offset)
            throw StructureIOError.truncated(file: name, frame: frame, offset: offset + got,
                                             message: "\(what()): needed \(count) bytes at offset \(offset), file ends after \(got)")
        }
        if buffer.count < count { buffer = [UInt8](repeating: 0, count: count) }
        let got = try buffer.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: count, at: offset) }
        if got < count {
            throw StructureIOError.truncated(file: name, frame: frame, offset: offset + got,
                                             message: "\(what()): needed \(count) bytes at offset \(offset), file ends after \(got)")
        }
    }
}

/// Unaligned scalar loads with a chosen byte order.
enum ByteOrder: Sendable {
    case little, big

    @inline(__always) func uint32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        let v = p.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        return self == .little ? UInt32(littleEndian: v) : UInt32(bigEndian: v)
    }
    @inline(__always) func int32(_ p: UnsafeRawPointer, _ offset: Int) -> Int32 {
        Int32(bitPattern: uint32(p, offset))
    }
    @inline(__always) func float32(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        Float(bitPattern: uint32(p, offset))
    }
    @inline(__always) func float64(_ p: UnsafeRawPointer, _ offset: Int) -> Double {
        let v = p.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        return Double(bitPattern: self == .little ? UInt64(littleEndian: v) : UInt64(bigEndian: v))
    }
}
