// The C-level reading and writing shared by datasets and attributes:
// dataspaces <-> shapes, type checks, numeric and string buffers, hyperslabs.
// Every function here runs inside HDF5Library.sync (callers take the lock).
import CHDF5
import Foundation

/// A dataset or an attribute: the two things that hold data.
enum HDF5DataHolder {
    case dataset(hid_t)
    case attribute(hid_t)

    var what: String {
        switch self {
        case .dataset: return "dataset"
        case .attribute: return "attribute"
        }
    }

    func space() -> hid_t {
        switch self {
        case let .dataset(id): return H5Dget_space(id)
        case let .attribute(id): return H5Aget_space(id)
        }
    }

    func type() -> hid_t {
        switch self {
        case let .dataset(id): return H5Dget_type(id)
        case let .attribute(id): return H5Aget_type(id)
        }
    }

    /// Reads everything into `buf` (memory layout given by memType).
    func read(_ memType: hid_t, _ buf: UnsafeMutableRawPointer) -> herr_t {
        switch self {
        case let .dataset(id): return H5Dread(id, memType, plm_H5S_ALL(), plm_H5S_ALL(), HDF5Library.defaultPlist, buf)
        case let .attribute(id): return H5Aread(id, memType, buf)
        }
    }

    /// Writes everything from `buf`.
    func write(_ memType: hid_t, _ buf: UnsafeRawPointer) -> herr_t {
        switch self {
        case let .dataset(id): return H5Dwrite(id, memType, plm_H5S_ALL(), plm_H5S_ALL(), HDF5Library.defaultPlist, buf)
        case let .attribute(id): return H5Awrite(id, memType, buf)
        }
    }
}

enum HDF5IO {
    // MARK: shapes

    /// Dimensions of a dataspace: [] for scalar, [0] for a null (empty) dataspace.
    static func shape(ofSpace space: hid_t, _ ctx: HDF5Context) throws -> [Int] {
        switch H5Sget_simple_extent_type(space) {
        case H5S_SCALAR: return []
        case H5S_NULL: return [0]
        case H5S_SIMPLE:
            let rank = try ctx.check(H5Sget_simple_extent_ndims(space), .readFailed, "cannot read the rank")
            var dims = [hsize_t](repeating: 0, count: Int(rank))
            try ctx.check(H5Sget_simple_extent_dims(space, &dims, nil), .readFailed, "cannot read the dimensions")
            return try dims.map { d in
                guard let i = Int(exactly: d) else { throw ctx.error(.readFailed, "dimension \(d) is too large") }
                return i
            }
        default:
            throw ctx.error(.readFailed, "cannot read the dataspace")
        }
    }

    /// Maximum dimensions (nil = unlimited) of a simple dataspace.
    static func maxShape(ofSpace space: hid_t, _ ctx: HDF5Context) throws -> [Int?] {
        guard H5Sget_simple_extent_type(space) == H5S_SIMPLE else { return [] }
        let rank = Int(try ctx.check(H5Sget_simple_extent_ndims(space), .readFailed, "cannot read the rank"))
        var dims = [hsize_t](repeating: 0, count: rank)
        var maxDims = [hsize_t](repeating: 0, count: rank)
        try ctx.check(H5Sget_simple_extent_dims(space, &dims, &maxDims), .readFailed, "cannot read the dimensions")
        return maxDims.map { $0 == plm_H5S_UNLIMITED() ? nil : Int(clamping: $0) }
    }

    /// A new dataspace for `shape` ([] = scalar); `extendable` makes axis 0 unlimited.
    static func makeSpace(_ shape: [Int], extendable: Bool = false, _ ctx: HDF5Context) throws -> HDF5Handle {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw HDF5Error(.invalidArgument, file: ctx.file, object: ctx.object, "negative dimension in shape \(shape)")
        }
        if shape.isEmpty {
            if extendable {
                throw HDF5Error(.invalidArgument, file: ctx.file, object: ctx.object, "a scalar cannot be extendable")
            }
            return try ctx.handle(H5Screate(H5S_SCALAR), .dataspace, .writeFailed, "cannot create a scalar dataspace")
        }
        let dims = shape.map { hsize_t($0) }
        var maxDims = dims
        if extendable { maxDims[0] = plm_H5S_UNLIMITED() }
        return try ctx.handle(H5Screate_simple(Int32(dims.count), dims, maxDims), .dataspace, .writeFailed,
                              "cannot create a dataspace of shape \(shape)")
    }

    static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Element count of a stored shape, throwing instead of overflowing on corrupt dimensions.
    static func checkedCount(_ shape: [Int], elementSize: Int, _ ctx: HDF5Context) throws -> Int {
        var n = 1
        for d in shape {
            let (m, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, d >= 0 else {
                throw HDF5Error(.readFailed, file: ctx.file, object: ctx.object, "stored shape \(shape) is too large")
            }
            n = m
        }
        guard !n.multipliedReportingOverflow(by: max(elementSize, 1)).overflow else {
            throw HDF5Error(.readFailed, file: ctx.file, object: ctx.object, "stored shape \(shape) is too large")
        }
        return n
    }

    // MARK: type checks

    /// Throws typeMismatch unless `stored` may be read as `requested` under `conversion`.
    static func checkReadable(_ stored: HDF5DataType, as requested: HDF5ScalarType, _ conversion: HDF5ReadConversion,
                              _ ctx: HDF5Context, what: String) throws {
        let ok: Bool
        switch (stored, conversion) {
        case (.float, .anyNumeric), (.integer, .anyNumeric): ok = true
        case (.float, .sameKind): ok = requested == .float32 || requested == .float64
        case let (.integer(bits, signed), .sameKind):
            switch requested {
            case .float32, .float64: ok = false
            case .int32: ok = bits < 32 || (bits == 32 && signed)
            case .int64: ok = bits < 64 || (bits == 64 && signed)
            case .uint8: ok = bits == 8 && !signed
            }
        default: ok = false
        }
        guard ok else {
            let hint = conversion == .sameKind && stored.isNumeric ? " (pass conversion: .anyNumeric to convert)" : ""
            throw HDF5Error(.typeMismatch, file: ctx.file, object: ctx.object,
                            "\(what) stores \(stored), cannot read it as \(requested.rawValue)\(hint)")
        }
    }

    // MARK: numeric data

    /// Reads a whole dataset or attribute as `T` with its shape.
    static func readNumeric<T: HDF5Scalar>(_ holder: HDF5DataHolder, as _: T.Type, _ conversion: HDF5ReadConversion,
                                           _ ctx: HDF5Context) throws -> HDF5Array<T> {
        let ftype = try ctx.handle(holder.type(), .datatype, .readFailed, "cannot read the \(holder.what)'s type")
        try checkReadable(HDF5DataType.describe(ftype.id), as: T.hdf5Type, conversion, ctx, what: holder.what)
        let space = try ctx.handle(holder.space(), .dataspace, .readFailed, "cannot read the \(holder.what)'s dataspace")
        let shape = try shape(ofSpace: space.id, ctx)
        let n = try checkedCount(shape, elementSize: T.hdf5Type.byteCount, ctx)
        if n == 0 || H5Sget_simple_extent_type(space.id) == H5S_NULL {
            return HDF5Array(shape: shape, values: [])
        }
        let values = try [T](unsafeUninitializedCapacity: n) { buf, initialized in
            try ctx.check(holder.read(T.hdf5Type.memoryType, UnsafeMutableRawPointer(buf.baseAddress!)), .readFailed,
                          "reading \(n) values as \(T.hdf5Type.rawValue) failed")
            initialized = n
        }
        return HDF5Array(shape: shape, values: values)
    }

    // MARK: strings

    /// A memory string type: variable length, or fixed `size` bytes null-padded.
    static func stringMemoryType(fixedSize: Int?, utf8: Bool, pad: H5T_str_t = H5T_STR_NULLPAD,
                                 _ ctx: HDF5Context) throws -> HDF5Handle {
        let t = try ctx.handle(H5Tcopy(plm_H5T_C_S1()), .datatype, .writeFailed, "cannot create a string type")
        if let size = fixedSize {
            guard size >= 1 else {
                throw HDF5Error(.invalidArgument, file: ctx.file, object: ctx.object,
                                "fixed string length must be >= 1, got \(size)")
            }
            try ctx.check(H5Tset_size(t.id, size), .writeFailed, "cannot set string size \(size)")
            try ctx.check(H5Tset_strpad(t.id, pad), .writeFailed, "cannot set string padding")
        } else {
            try ctx.check(H5Tset_size(t.id, plm_H5T_VARIABLE()), .writeFailed, "cannot make a variable-length string type")
        }
        try ctx.check(H5Tset_cset(t.id, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII), .writeFailed, "cannot set the character set")
        return t
    }

    /// Lays out `values` for HDF5 (pointer array for variable length, padded bytes
    /// for fixed) and calls `body` with the buffer.
    static func withStringBuffer<R>(_ values: [String], fixedSize: Int?, _ ctx: HDF5Context,
                                    _ body: (UnsafeRawPointer?) throws -> R) throws -> R {
        for (i, s) in values.enumerated() where s.utf8.contains(0) {
            throw HDF5Error(.invalidArgument, file: ctx.file, object: ctx.object,
                            "string at index \(i) contains a NUL byte, which HDF5 strings cannot hold")
        }
        if let size = fixedSize {
            var bytes = [UInt8](repeating: 0, count: values.count * size)
            for (i, s) in values.enumerated() {
                let utf8 = Array(s.utf8)
                guard utf8.count <= size else {
                    throw HDF5Error(.invalidArgument, file: ctx.file, object: ctx.object,
                                    "string at index \(i) is \(utf8.count) UTF-8 bytes, longer than the fixed length \(size)")
                }
                bytes.replaceSubrange(i * size ..< i * size + utf8.count, with: utf8)
            }
            return try bytes.withUnsafeBytes { try body($0.baseAddress) }
        }
        // One NUL-separated blob, then pointers into it.
        var blob = [CChar]()
        var offsets = [Int]()
        blob.reserveCapacity(values.reduce(0) { $0 + $1.utf8.count + 1 })
        for s in values {
            offsets.append(blob.count)
            for b in s.utf8 { blob.append(CChar(bitPattern: b)) }
            blob.append(0)
        }
        return try blob.withUnsafeBufferPointer { blobBuf in
            let pointers: [UnsafePointer<CChar>?] = offsets.map { blobBuf.baseAddress! + $0 }
            return try pointers.withUnsafeBytes { try body($0.baseAddress) }
        }
    }

    /// Reads a whole string dataset or attribute (variable or fixed length, ASCII or UTF-8).
    static func readStrings(_ holder: HDF5DataHolder, _ ctx: HDF5Context) throws -> HDF5Array<String> {
        let ftype = try ctx.handle(holder.type(), .datatype, .readFailed, "cannot read the \(holder.what)'s type")
        let stored = HDF5DataType.describe(ftype.id)
        guard case let .string(vlen, size, utf8) = stored else {
            throw HDF5Error(.typeMismatch, file: ctx.file, object: ctx.object,
                            "\(holder.what) stores \(stored), cannot read it as strings")
        }
        let space = try ctx.handle(holder.space(), .dataspace, .readFailed, "cannot read the \(holder.what)'s dataspace")
        let shape = try shape(ofSpace: space.id, ctx)
        let n = try checkedCount(shape, elementSize: vlen ? 8 : size, ctx)
        if n == 0 || H5Sget_simple_extent_type(space.id) == H5S_NULL { return HDF5Array(shape: shape, values: []) }

        func decode(_ bytes: some Collection<UInt8>, _ i: Int) throws -> String {
            guard let s = String(validating: bytes, as: UTF8.self) else {
                throw HDF5Error(.readFailed, file: ctx.file, object: ctx.object, "string at index \(i) is not valid UTF-8")
            }
            return s
        }

        var out = [String]()
        out.reserveCapacity(n)
        if vlen {
            let mem = try stringMemoryType(fixedSize: nil, utf8: utf8, ctx)
            var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
            try ptrs.withUnsafeMutableBytes { raw in
                _ = try ctx.check(holder.read(mem.id, raw.baseAddress!), .readFailed, "reading \(n) variable-length strings failed")
            }
            defer { ptrs.withUnsafeMutableBytes { _ = plm_vlen_reclaim(mem.id, space.id, $0.baseAddress) } }
            for (i, p) in ptrs.enumerated() {
                guard let p else { out.append(""); continue }
                let len = strlen(p)
                out.append(try decode(UnsafeRawBufferPointer(start: UnsafeRawPointer(p), count: len), i))
            }
        } else {
            let pad = H5Tget_strpad(ftype.id)
            let mem = try stringMemoryType(fixedSize: size, utf8: utf8, pad: pad == H5T_STR_ERROR ? H5T_STR_NULLPAD : pad, ctx)
            var bytes = [UInt8](repeating: 0, count: n * size)
            try bytes.withUnsafeMutableBytes { raw in
                _ = try ctx.check(holder.read(mem.id, raw.baseAddress!), .readFailed, "reading \(n) fixed-length strings failed")
            }
            for i in 0 ..< n {
                var slice = bytes[i * size ..< (i + 1) * size]
                if let nul = slice.firstIndex(of: 0) { slice = slice[..<nul] }
                if pad == H5T_STR_SPACEPAD {
                    while let last = slice.last, last == 0x20 { slice = slice.dropLast() }
                }
                out.append(try decode(slice, i))
            }
        }
        return HDF5Array(shape: shape, values: out)
    }

    // MARK: dataset creation

    /// Creates a dataset (intermediate groups included) with the given file type and options.
    static func createDataset(at loc: hid_t, name: String, fileType: hid_t, shape: [Int], elementSize: Int,
                              options: HDF5DatasetOptions, _ ctx: HDF5Context) throws -> HDF5Handle {
        let space = try makeSpace(shape, extendable: options.extendable, ctx)
        let dcpl = try ctx.handle(H5Pcreate(plm_H5P_DATASET_CREATE()), .plist, .writeFailed, "cannot create a property list")
        if options.needsChunking && !shape.isEmpty {
            let fixedZero = shape.enumerated().contains { $0.element == 0 && !(options.extendable && $0.offset == 0) }
            if fixedZero {
                if options.extendable {
                    throw HDF5Error(.invalidArgument, file: ctx.file, object: ctx.object,
                                    "an extendable dataset needs non-zero trailing dimensions, got \(shape)")
                }
                // A zero-size fixed dimension cannot be chunked; an empty array stays contiguous.
            } else {
                let chunks = options.chunks ?? HDF5DatasetOptions.automaticChunks(
                    shape: shape, elementSize: elementSize, extendable: options.extendable)
                let fits = chunks.count == shape.count && chunks.allSatisfy { $0 >= 1 }
                    && zip(chunks, shape).enumerated().allSatisfy { i, cs in
                        (options.extendable && i == 0) || cs.0 <= cs.1
                    }
                guard fits else {
                    throw HDF5Error(.invalidArgument, file: ctx.file, object: ctx.object,
                                    "chunk shape \(chunks) does not fit data shape \(shape)")
                }
                try ctx.check(H5Pset_chunk(dcpl.id, Int32(chunks.count), chunks.map { hsize_t($0) }), .writeFailed,
                              "cannot set chunk shape \(chunks)")
                if options.shuffle {
                    try ctx.check(H5Pset_shuffle(dcpl.id), .writeFailed, "cannot enable the shuffle filter")
                }
                if let level = options.gzipLevel {
                    guard (0 ... 9).contains(level) else {
                        throw HDF5Error(.invalidArgument, file: ctx.file, object: ctx.object,
                                        "gzip level must be 0...9, got \(level)")
                    }
                    guard H5Zfilter_avail(H5Z_filter_t(H5Z_FILTER_DEFLATE)) > 0 else {
                        throw ctx.error(.writeFailed, "this HDF5 library has no gzip (deflate) filter")
                    }
                    try ctx.check(H5Pset_deflate(dcpl.id, UInt32(level)), .writeFailed, "cannot enable gzip level \(level)")
                }
            }
        } else if options.extendable {
            throw HDF5Error(.invalidArgument, file: ctx.file, object: ctx.object, "a scalar cannot be extendable")
        }
        let lcpl = try linkCreationPlist(ctx)
        return try ctx.handle(H5Dcreate2(loc, name, fileType, space.id, lcpl.id, dcpl.id, HDF5Library.defaultPlist),
                              .dataset, .writeFailed, "cannot create dataset (shape \(shape))")
    }

    /// Link-creation property list that creates missing intermediate groups.
    static func linkCreationPlist(_ ctx: HDF5Context) throws -> HDF5Handle {
        let lcpl = try ctx.handle(H5Pcreate(plm_H5P_LINK_CREATE()), .plist, .writeFailed, "cannot create a property list")
        try ctx.check(H5Pset_create_intermediate_group(lcpl.id, 1), .writeFailed, "cannot enable intermediate groups")
        return lcpl
    }

    // MARK: partial writes

    /// Writes a block `count` starting at `start` of a dataset from `buf`.
    static func writeBlock(dataset: hid_t, start: [Int], count: [Int], memType: hid_t, _ buf: UnsafeRawPointer?,
                           _ ctx: HDF5Context) throws {
        guard elementCount(count) > 0, let buf else { return }
        let fileSpace = try ctx.handle(H5Dget_space(dataset), .dataspace, .writeFailed, "cannot read the dataspace")
        try ctx.check(H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, start.map { hsize_t($0) }, nil,
                                          count.map { hsize_t($0) }, nil),
                      .writeFailed, "cannot select block start \(start) count \(count)")
        let memSpace = try makeSpace(count, ctx)
        try ctx.check(H5Dwrite(dataset, memType, memSpace.id, fileSpace.id, HDF5Library.defaultPlist, buf),
                      .writeFailed, "writing block start \(start) count \(count) failed")
    }
}

extension HDF5DataType {
    var isNumeric: Bool {
        switch self {
        case .float, .integer: return true
        default: return false
        }
    }
}
