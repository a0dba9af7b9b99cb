// Element types, n-D arrays, stored-type descriptions and dataset options.
import CHDF5

/// The numeric element types the wrapper reads and writes.
public enum HDF5ScalarType: String, Sendable, CaseIterable {
    case float32, float64, int32, int64, uint8

    /// Size of one element in bytes.
    public var byteCount: Int {
        switch self {
        case .float32, .int32: return 4
        case .float64, .int64: return 8
        case .uint8: return 1
        }
    }

    /// In-memory type (native byte order).
    var memoryType: hid_t {
        switch self {
        case .float32: return plm_H5T_NATIVE_FLOAT()
        case .float64: return plm_H5T_NATIVE_DOUBLE()
        case .int32: return plm_H5T_NATIVE_INT32()
        case .int64: return plm_H5T_NATIVE_INT64()
        case .uint8: return plm_H5T_NATIVE_UINT8()
        }
    }

    /// On-disk type: little-endian IEEE / two's complement, what h5py writes on x86 and arm.
    var fileType: hid_t {
        switch self {
        case .float32: return plm_H5T_IEEE_F32LE()
        case .float64: return plm_H5T_IEEE_F64LE()
        case .int32: return plm_H5T_STD_I32LE()
        case .int64: return plm_H5T_STD_I64LE()
        case .uint8: return plm_H5T_STD_U8LE()
        }
    }

    /// The stored-type description of this element type.
    public var dataType: HDF5DataType {
        switch self {
        case .float32: return .float(bits: 32)
        case .float64: return .float(bits: 64)
        case .int32: return .integer(bits: 32, signed: true)
        case .int64: return .integer(bits: 64, signed: true)
        case .uint8: return .integer(bits: 8, signed: false)
        }
    }
}

/// A Swift element type with an HDF5 counterpart: Float, Double, Int32, Int64, UInt8.
public protocol HDF5Scalar: BitwiseCopyable, Equatable, Sendable {
    /// The matching HDF5 element type.
    static var hdf5Type: HDF5ScalarType { get }
}

extension Float: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .float32 } }
extension Double: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .float64 } }
extension Int32: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .int32 } }
extension Int64: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .int64 } }
extension UInt8: HDF5Scalar { public static var hdf5Type: HDF5ScalarType { .uint8 } }

/// A dense row-major (C order, like numpy) n-D array: `values.count == shape.product`.
/// Shape `[]` is a scalar (one value).
public struct HDF5Array<Element> {
    /// Dimensions, outermost first.
    public var shape: [Int]
    /// Elements in row-major order.
    public var values: [Element]

    /// Wraps values with a shape; the element count must equal the product of the shape.
    public init(shape: [Int], values: [Element]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "HDF5Array: negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == values.count,
                     "HDF5Array: shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    /// Number of elements (product of the shape).
    public var count: Int { values.count }

    /// Element at a multi-index (row-major).
    public subscript(index: Int...) -> Element {
        get { values[flatIndex(index)] }
        set { values[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "HDF5Array: index \(index) for shape \(shape)")
        var flat = 0
        for (i, n) in zip(index, shape) {
            precondition(i >= 0 && i < n, "HDF5Array: index \(index) out of range for shape \(shape)")
            flat = flat * n + i
        }
        return flat
    }
}

extension HDF5Array: Equatable where Element: Equatable {}
extension HDF5Array: Sendable where Element: Sendable {}

/// How a stored dataset or attribute is typed on disk.
public enum HDF5DataType: Equatable, Sendable, CustomStringConvertible {
    /// IEEE float of 16, 32 or 64 bits.
    case float(bits: Int)
    /// Integer of 8..64 bits.
    case integer(bits: Int, signed: Bool)
    /// String: variable length or fixed `size` bytes; `utf8` false means ASCII.
    case string(variableLength: Bool, size: Int, utf8: Bool)
    /// Anything else (compound, enum such as h5py's bool, opaque, reference, ...).
    case other(String)

    public var description: String {
        switch self {
        case let .float(bits): return "float\(bits)"
        case let .integer(bits, signed): return (signed ? "int" : "uint") + "\(bits)"
        case let .string(vlen, size, utf8):
            return (vlen ? "variable-length " : "fixed \(size)-byte ") + (utf8 ? "UTF-8" : "ASCII") + " string"
        case let .other(name): return name
        }
    }

    /// Describes an open HDF5 datatype id.
    static func describe(_ type: hid_t) -> HDF5DataType {
        let size = Int(H5Tget_size(type))
        switch H5Tget_class(type) {
        case H5T_FLOAT: return .float(bits: size * 8)
        case H5T_INTEGER: return .integer(bits: size * 8, signed: H5Tget_sign(type) == H5T_SGN_2)
        case H5T_STRING:
            let vlen = H5Tis_variable_str(type) > 0
            return .string(variableLength: vlen, size: vlen ? 0 : size, utf8: H5Tget_cset(type) == H5T_CSET_UTF8)
        case H5T_COMPOUND: return .other("compound")
        case H5T_ENUM: return .other("enum")
        case H5T_ARRAY: return .other("array")
        case H5T_VLEN: return .other("vlen sequence")
        case H5T_OPAQUE: return .other("opaque")
        case H5T_REFERENCE: return .other("reference")
        case H5T_BITFIELD: return .other("bitfield")
        case H5T_TIME: return .other("time")
        default: return .other("unknown type")
        }
    }
}

/// Which stored types a numeric read accepts.
///
/// - `sameKind` (default): floats read as Float or Double (HDF5 rounds float64
///   to float32 to nearest); integers read as a Swift integer type that holds
///   every stored value (Int32/Int64 from int8/16/32, uint8/16; Int64 from
///   int64 and uint32; UInt8 from uint8 only). Everything else throws
///   `typeMismatch` — in particular an integer dataset read as Float throws.
/// - `anyNumeric`: any integer or float stored type converts to the requested
///   type through HDF5's conversion (int -> float exact up to 2^24/2^53,
///   float -> int truncates toward zero, out-of-range values are clamped).
public enum HDF5ReadConversion: Sendable {
    case sameKind
    case anyNumeric
}

/// Storage options for a new dataset.
public struct HDF5DatasetOptions: Sendable, Equatable {
    /// Explicit chunk shape (same rank as the data, each >= 1); nil = choose one when chunking is needed.
    public var chunks: [Int]?
    /// gzip (deflate) level 0...9; nil = no compression. Implies chunking.
    public var gzipLevel: Int?
    /// Byte-shuffle filter before gzip (often helps float data). Implies chunking.
    public var shuffle: Bool
    /// Make the first dimension unlimited so the dataset can grow with `append`. Implies chunking.
    public var extendable: Bool

    /// Contiguous, uncompressed, fixed size (HDF5's default layout).
    public static let contiguous = HDF5DatasetOptions()

    /// Chunked gzip compression (with shuffle), automatic chunk shape unless given.
    public static func compressed(level: Int = 4, chunks: [Int]? = nil) -> HDF5DatasetOptions {
        HDF5DatasetOptions(chunks: chunks, gzipLevel: level, shuffle: true)
    }

    /// Options; every field defaults to "off".
    public init(chunks: [Int]? = nil, gzipLevel: Int? = nil, shuffle: Bool = false, extendable: Bool = false) {
        self.chunks = chunks
        self.gzipLevel = gzipLevel
        self.shuffle = shuffle
        self.extendable = extendable
    }

    /// True when the dataset must use the chunked layout.
    var needsChunking: Bool { chunks != nil || gzipLevel != nil || shuffle || extendable }

    /// Chunk shape for `shape`: the explicit one, or the full shape halved along
    /// its largest dimension until a chunk is at most ~256 KiB.
    static func automaticChunks(shape: [Int], elementSize: Int, extendable: Bool) -> [Int] {
        var chunk = shape.map { max($0, 1) }
        if extendable, !chunk.isEmpty {
            // Growable along axis 0: give room for future rows.
            let rowBytes = max(1, chunk.dropFirst().reduce(elementSize, *))
            chunk[0] = max(chunk[0], min(1024, max(1, (64 * 1024) / rowBytes)))
        }
        let target = 256 * 1024
        while chunk.reduce(elementSize, *) > target, let big = chunk.indices.max(by: { chunk[$0] < chunk[$1] }),
              chunk[big] > 1 {
            chunk[big] = (chunk[big] + 1) / 2
        }
        return chunk
    }
}

/// Layout facts about a stored dataset.
public struct HDF5DatasetInfo: Equatable, Sendable {
    /// Current dimensions ([] for a scalar).
    public var shape: [Int]
    /// Maximum dimensions; nil entries are unlimited.
    public var maxShape: [Int?]
    /// Element type on disk.
    public var dataType: HDF5DataType
    /// Chunk shape, or nil for contiguous/compact layout.
    public var chunks: [Int]?
    /// gzip level if the deflate filter is on.
    public var gzipLevel: Int?
    /// True when the shuffle filter is on.
    public var shuffle: Bool
}

/// A decoded attribute value (rank-0 attributes give the scalar cases).
public enum HDF5AttributeValue: Equatable, Sendable {
    /// Rank-0 string.
    case string(String)
    /// String array, flattened.
    case strings([String])
    /// Rank-0 integer (any stored integer type).
    case int(Int64)
    /// Integer array, flattened.
    case ints([Int64])
    /// Rank-0 float (float32 or float64).
    case double(Double)
    /// Float array, flattened.
    case doubles([Double])
}

/// Kind of a link target inside a group.
public enum HDF5ObjectKind: String, Sendable {
    case group, dataset, namedType, other
}

/// One child of a group.
public struct HDF5Child: Equatable, Sendable {
    /// Link name (not a path).
    public var name: String
    /// What the link points to.
    public var kind: HDF5ObjectKind
}
