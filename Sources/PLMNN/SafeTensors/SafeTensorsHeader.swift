import Foundation

/// One tensor's entry in a safetensors header.
public struct SafeTensorInfo: Equatable, Sendable {
    /// The tensor's name (the header key).
    public let name: String
    /// Element type as stored in the file.
    public let dtype: SafeTensorsDType
    /// Dimensions, row-major (`[]` for a scalar).
    public let shape: [Int]
    /// Byte range in the data buffer (which starts right after the header).
    public let dataOffsets: Range<Int>

    /// Number of elements (1 for a scalar `[]`).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// The validated header of a safetensors file: the tensor entries and `__metadata__`.
struct SafeTensorsHeader {
    /// Entries sorted by name.
    let entries: [SafeTensorInfo]
    let metadata: [String: String]

    /// The spec's limit on the header length.
    static let maxHeaderLength = 100_000_000

    /// Parses and validates a header against a data buffer of `bufferLength` bytes.
    ///
    /// Checks, in order: UTF-8, JSON syntax, top-level object, `__metadata__`
    /// is a string map, no duplicate names, each entry's dtype/shape/data_offsets,
    /// byte length == elements * dtype size, and that the offsets tile
    /// `[0, bufferLength)` with no gap, overlap or overrun.
    static func parse(_ bytes: UnsafeRawBufferPointer, bufferLength: Int, file: String) throws -> SafeTensorsHeader {
        guard String(bytes: bytes, encoding: .utf8) != nil else {
            throw SafeTensorsError.invalidHeader(file: file, reason: "not valid UTF-8")
        }
        let json: HeaderJSON
        do {
            json = try HeaderJSONParser.parse(bytes)
        } catch let e as HeaderJSONError {
            throw SafeTensorsError.invalidHeader(file: file, reason: "JSON syntax error at byte \(e.offset): \(e.message)")
        }
        guard case let .object(members) = json else {
            throw SafeTensorsError.invalidHeader(file: file, reason: "expected a JSON object, found \(json.kindName)")
        }

        var metadata: [String: String]? = nil
        var seen = Set<String>()
        var entries: [SafeTensorInfo] = []
        entries.reserveCapacity(members.count)
        for (name, value) in members {
            if name == "__metadata__" {
                guard metadata == nil else { throw SafeTensorsError.invalidMetadata(file: file, reason: "__metadata__ appears twice") }
                metadata = try parseMetadata(value, file: file)
                continue
            }
            guard seen.insert(name).inserted else { throw SafeTensorsError.duplicateName(file: file, tensor: name) }
            entries.append(try parseEntry(name: name, value, file: file))
        }
        try checkTiling(entries, bufferLength: bufferLength, file: file)
        entries.sort { $0.name < $1.name }
        return SafeTensorsHeader(entries: entries, metadata: metadata ?? [:])
    }

    private static func parseMetadata(_ value: HeaderJSON, file: String) throws -> [String: String] {
        if value == .null { return [:] }
        guard case let .object(members) = value else {
            throw SafeTensorsError.invalidMetadata(file: file, reason: "expected an object, found \(value.kindName)")
        }
        var out: [String: String] = [:]
        for (key, v) in members {
            guard case let .string(s) = v else {
                throw SafeTensorsError.invalidMetadata(file: file, reason: "value of '\(key)' must be a string, found \(v.kindName)")
            }
            guard out.updateValue(s, forKey: key) == nil else {
                throw SafeTensorsError.invalidMetadata(file: file, reason: "duplicate key '\(key)'")
            }
        }
        return out
    }

    private static func parseEntry(name: String, _ value: HeaderJSON, file: String) throws -> SafeTensorInfo {
        func bad(_ reason: String) -> SafeTensorsError { .invalidEntry(file: file, tensor: name, reason: reason) }
        guard case let .object(fields) = value else { throw bad("entry must be an object, found \(value.kindName)") }
        var dtypeValue: HeaderJSON?, shapeValue: HeaderJSON?, offsetsValue: HeaderJSON?
        var keys = Set<String>()
        for (key, v) in fields {
            guard keys.insert(key).inserted else { throw bad("duplicate key '\(key)' in the entry") }
            switch key {
            case "dtype": dtypeValue = v
            case "shape": shapeValue = v
            case "data_offsets": offsetsValue = v
            default: break  // unknown keys are ignored, as the reference implementation does
            }
        }
        guard let dtypeValue else { throw bad("missing 'dtype'") }
        guard let shapeValue else { throw bad("missing 'shape'") }
        guard let offsetsValue else { throw bad("missing 'data_offsets'") }

        guard case let .string(dtypeName) = dtypeValue else { throw bad("'dtype' must be a string, found \(dtypeValue.kindName)") }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw SafeTensorsError.unsupportedDType(file: file, tensor: name, dtype: dtypeName)
        }
        guard case let .array(dims) = shapeValue else { throw bad("'shape' must be an array, found \(shapeValue.kindName)") }
        var shape: [Int] = []
        var elements = 1
        for d in dims {
            guard let n = d.nonNegativeInt else { throw bad("'shape' must hold non-negative integers") }
            shape.append(n)
            let (product, overflow) = elements.multipliedReportingOverflow(by: n)
            guard !overflow else { throw bad("shape \(shape) has too many elements") }
            elements = product
        }
        guard case let .array(offs) = offsetsValue, offs.count == 2,
              let begin = offs[0].nonNegativeInt, let end = offs[1].nonNegativeInt else {
            throw bad("'data_offsets' must be [begin, end] with non-negative integers")
        }
        guard begin <= end else { throw bad("data_offsets [\(begin), \(end)] end before they begin") }
        guard let expected = dtype.byteCount(elements: elements) else {
            throw bad("\(elements) elements of \(dtypeName) do not fill whole bytes")
        }
        guard expected == end - begin else {
            throw SafeTensorsError.byteLengthMismatch(file: file, tensor: name, dtype: dtypeName, shape: shape,
                                                      expectedBytes: expected, actualBytes: end - begin)
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// The data offsets, sorted by begin, must cover `[0, bufferLength)` exactly once.
    private static func checkTiling(_ entries: [SafeTensorInfo], bufferLength: Int, file: String) throws {
        let sorted = entries.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name)
                < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        var covered = 0
        var last: String? = nil
        for e in sorted {
            if e.dataOffsets.upperBound > bufferLength {
                throw SafeTensorsError.dataTruncated(file: file, tensor: e.name, end: e.dataOffsets.upperBound,
                                                     bufferLength: bufferLength)
            }
            if e.dataOffsets.lowerBound > covered {
                throw SafeTensorsError.gap(file: file, before: e.name, begin: covered, end: e.dataOffsets.lowerBound)
            }
            if e.dataOffsets.lowerBound < covered, let last {
                throw SafeTensorsError.overlap(file: file, tensor: e.name, other: last)
            }
            covered = e.dataOffsets.upperBound
            last = e.name
        }
        if covered < bufferLength {
            throw SafeTensorsError.gap(file: file, before: nil, begin: covered, end: bufferLength)
        }
    }
}
