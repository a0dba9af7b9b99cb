import Foundation
import PLMTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes of a whole safetensors file: a private memory map, or a heap copy.
///
/// The map is `MAP_PRIVATE` with `PROT_READ | PROT_WRITE` over a file opened
/// read-only: the file is never modified, and tensors that borrow the mapping
/// may still be updated in place (an optimizer step on zero-copy weights);
/// the kernel then copies just the touched pages. A `PROT_READ` map would turn
/// such an update into a segfault, because `Tensor.data` is mutable.
final class SafeTensorsBuffer {
    let base: UnsafeMutableRawPointer
    let count: Int
    let isMapped: Bool

    init(mapping path: String, file: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SafeTensorsError.cannotRead(file: file, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafeTensorsError.cannotRead(file: file, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SafeTensorsError.cannotRead(file: file, reason: "not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            // mmap cannot map zero bytes; the header check reports the empty file.
            base = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64)
            count = 0
            isMapped = false
            return
        }
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        if let p, p != UnsafeMutableRawPointer(bitPattern: -1) {
            base = p
            count = size
            isMapped = true
        } else {
            // Some file systems cannot be mapped; read the file instead.
            base = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
            count = size
            isMapped = false
            try readAll(fd: fd, file: file)
        }
    }

    init(reading path: String, file: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SafeTensorsError.cannotRead(file: file, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafeTensorsError.cannotRead(file: file, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SafeTensorsError.cannotRead(file: file, reason: "not a regular file") }
        count = Int(st.st_size)
        base = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        isMapped = false
        try readAll(fd: fd, file: file)
    }

    init(copying bytes: UnsafeRawBufferPointer) {
        count = bytes.count
        base = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        isMapped = false
        if let src = bytes.baseAddress { base.copyMemory(from: src, byteCount: count) }
    }

    private func readAll(fd: Int32, file: String) throws {
        var done = 0
        while done < count {
            let n = pread(fd, base + done, min(count - done, 1 << 30), off_t(done))
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                // `base` is freed by deinit, which runs when a fully initialised object's init throws.
                throw SafeTensorsError.cannotRead(file: file, reason: String(cString: strerror(errno)))
            }
            if n == 0 {
                throw SafeTensorsError.cannotRead(file: file, reason: "file shrank while reading")
            }
            done += n
        }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    deinit {
        if isMapped { munmap(base, count) } else { base.deallocate() }
    }
}

/// A safetensors file opened for reading (memory-mapped by default).
///
/// The whole header is validated on open (see `SafeTensorsHeader`), so a file
/// that opens has consistent offsets; individual tensors are converted on
/// request. F32 tensors are zero-copy views of the mapping when their data is
/// 4-byte aligned; misaligned data, and other dtypes, are copied.
/// Do not truncate a file while a mapping of it is alive (reads would fault).
public final class SafeTensorsFile {
    /// Where the file came from (the path used in error messages).
    public let url: URL
    /// Tensor names, sorted.
    public let names: [String]
    /// The `__metadata__` string map (empty when the header has none).
    public let metadata: [String: String]
    /// All entries, sorted by name.
    public let infos: [SafeTensorInfo]
    /// Whether the bytes are memory-mapped (false when read into memory).
    public var isMemoryMapped: Bool { buffer.isMapped }

    private let buffer: SafeTensorsBuffer
    private let dataStart: Int
    private let index: [String: SafeTensorInfo]
    private let file: String

    /// Opens and validates a file. `memoryMap: false` reads it into memory instead.
    public convenience init(url: URL, memoryMap: Bool = true) throws {
        let path = url.path
        let buffer = memoryMap ? try SafeTensorsBuffer(mapping: path, file: path)
                               : try SafeTensorsBuffer(reading: path, file: path)
        try self.init(buffer: buffer, url: url, file: path)
    }

    /// Parses safetensors bytes held in memory (copied); `name` is used in error messages.
    public convenience init(bytes: [UInt8], name: String = "<memory>") throws {
        let buffer = bytes.withUnsafeBytes { SafeTensorsBuffer(copying: $0) }
        try self.init(buffer: buffer, url: URL(fileURLWithPath: name), file: name)
    }

    private init(buffer: SafeTensorsBuffer, url: URL, file: String) throws {
        let bytes = buffer.bytes
        guard bytes.count >= 8 else { throw SafeTensorsError.fileTooSmall(file: file, size: bytes.count) }
        let n = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard n <= UInt64(SafeTensorsHeader.maxHeaderLength) else {
            throw SafeTensorsError.headerTooLarge(file: file, headerLength: n, limit: SafeTensorsHeader.maxHeaderLength)
        }
        guard n <= UInt64(bytes.count - 8) else {
            throw SafeTensorsError.headerBeyondFile(file: file, headerLength: n, fileSize: bytes.count)
        }
        let headerEnd = 8 + Int(n)
        let header = try SafeTensorsHeader.parse(UnsafeRawBufferPointer(rebasing: bytes[8..<headerEnd]),
                                                 bufferLength: bytes.count - headerEnd, file: file)
        self.buffer = buffer
        self.url = url
        self.file = file
        self.dataStart = headerEnd
        self.infos = header.entries
        self.names = header.entries.map(\.name)
        self.metadata = header.metadata
        var index: [String: SafeTensorInfo] = [:]
        for e in header.entries { index[e.name] = e }
        self.index = index
    }

    /// The entry of a tensor (dtype, shape, offsets), or nil when absent.
    public func info(_ name: String) -> SafeTensorInfo? { index[name] }

    /// Whether the file holds a tensor of this name.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    private func entry(_ name: String) throws -> SafeTensorInfo {
        guard let e = index[name] else { throw SafeTensorsError.tensorNotFound(file: file, tensor: name) }
        return e
    }

    /// The raw little-endian bytes of a tensor (valid while this object lives).
    public func withRawBytes<R>(_ name: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let e = try entry(name)
        return try body(UnsafeRawBufferPointer(start: buffer.base + dataStart + e.dataOffsets.lowerBound,
                                               count: e.dataOffsets.count))
    }

    /// A tensor as Float32 with the file's shape.
    ///
    /// F32 data is borrowed from the mapping (zero-copy; the tensor keeps the
    /// file alive) unless `copy` is true or the data is misaligned. F16, BF16
    /// and F64 are converted (F16/BF16 exactly, F64 rounded to nearest); I64
    /// is converted to the nearest Float. Other dtypes throw `unsupportedDType`.
    public func tensor(_ name: String, copy: Bool = false) throws -> Tensor {
        let e = try entry(name)
        let n = e.elementCount
        let src = UnsafeRawPointer(buffer.base + dataStart + e.dataOffsets.lowerBound)
        switch e.dtype {
        case .f32:
            #if _endian(little)
            if !copy, Int(bitPattern: src) % MemoryLayout<Float>.alignment == 0 {
                let p = UnsafeMutableRawPointer(mutating: src).bindMemory(to: Float.self, capacity: max(n, 1))
                return Tensor(shape: e.shape, storage: TensorStorage(borrowing: p, count: n, owner: buffer))
            }
            let storage = TensorStorage(count: n)
            UnsafeMutableRawPointer(storage.pointer).copyMemory(from: src, byteCount: n * 4)
            return Tensor(shape: e.shape, storage: storage)
            #else
            return convert(e, src) { Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: $1 * 4, as: UInt32.self))) }
            #endif
        case .f16:
            return convert(e, src) { halfBitsToFloat(UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: $1 * 2, as: UInt16.self))) }
        case .bf16:
            return convert(e, src) { bfloat16BitsToFloat(UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: $1 * 2, as: UInt16.self))) }
        case .f64:
            return convert(e, src) { Float(Double(bitPattern: UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: $1 * 8, as: UInt64.self)))) }
        case .i64:
            return convert(e, src) { Float(Int64(littleEndian: $0.loadUnaligned(fromByteOffset: $1 * 8, as: Int64.self))) }
        default:
            throw SafeTensorsError.unsupportedDType(file: file, tensor: name, dtype: e.dtype.rawValue)
        }
    }

    @inline(__always)
    private func convert(_ e: SafeTensorInfo, _ src: UnsafeRawPointer, _ load: (UnsafeRawPointer, Int) -> Float) -> Tensor {
        let n = e.elementCount
        let storage = TensorStorage(count: n)
        let dst = storage.pointer
        for i in 0..<n { dst[i] = load(src, i) }
        return Tensor(shape: e.shape, storage: storage)
    }

    /// An I64 tensor's values, row-major (e.g. HF `position_ids`). Throws `wrongDType` for other dtypes.
    public func int64(_ name: String) throws -> [Int64] {
        let e = try entry(name)
        guard e.dtype == .i64 else {
            throw SafeTensorsError.wrongDType(file: file, tensor: name, dtype: e.dtype.rawValue, requested: "I64")
        }
        let src = UnsafeRawPointer(buffer.base + dataStart + e.dataOffsets.lowerBound)
        return (0..<e.elementCount).map { Int64(littleEndian: src.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self)) }
    }

    /// Every tensor as Float32, by name. Throws on the first unreadable dtype.
    public func tensors(copy: Bool = false) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for name in names { out[name] = try tensor(name, copy: copy) }
        return out
    }
}
