// Base class of groups, files and datasets: identity (file + path) and attributes.
import CHDF5

/// An open HDF5 object (group, file root or dataset). Closes its id when released.
///
/// Not meant to be shared across threads without external ordering; the C
/// calls themselves are serialized process-wide.
public class HDF5Object {
    let handle: HDF5Handle
    let fileState: HDF5FileState

    /// Absolute path of the object inside its file ("/" for the root).
    public let path: String

    /// Path of the file this object lives in.
    public var filePath: String { fileState.path }

    init(handle: HDF5Handle, file: HDF5FileState, path: String) {
        self.handle = handle
        self.fileState = file
        self.path = path
    }

    var context: HDF5Context { HDF5Context(file: fileState.path, object: path) }

    /// The live id, or `closed` once `close()` ran.
    func id() throws -> hid_t {
        guard handle.isOpen else { throw HDF5Error(.closed, file: fileState.path, object: path, "object was closed") }
        return handle.id
    }

    func requireWritable(_ ctx: HDF5Context) throws {
        guard fileState.writable else {
            throw HDF5Error(.writeFailed, file: ctx.file, object: ctx.object, "file is open read-only")
        }
    }

    /// Closes the underlying HDF5 id now (otherwise it closes when released).
    public func close() { handle.close() }

    // MARK: attributes

    /// Names of all attributes, sorted by name.
    public func attributeNames() throws -> [String] {
        try HDF5Library.sync {
            let obj = try id(), ctx = context
            let count = plm_attribute_count(obj)
            guard count >= 0 else { throw ctx.error(.readFailed, "cannot count attributes") }
            var names = [String]()
            for i in 0 ..< Int(count) {
                let len = try ctx.check(H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), nil, 0,
                                                           HDF5Library.defaultPlist), .readFailed, "cannot read attribute name \(i)")
                var buf = [CChar](repeating: 0, count: Int(len) + 1)
                try ctx.check(H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, hsize_t(i), &buf, buf.count,
                                                 HDF5Library.defaultPlist), .readFailed, "cannot read attribute name \(i)")
                names.append(String(cString: buf))
            }
            return names
        }
    }

    /// True when an attribute with this name exists.
    public func hasAttribute(_ name: String) throws -> Bool {
        try HDF5Library.sync {
            let obj = try id()
            return try context.check(H5Aexists(obj, name), .readFailed, "cannot check attribute '\(name)'") > 0
        }
    }

    /// Removes an attribute; throws `notFound` if it does not exist.
    public func deleteAttribute(_ name: String) throws {
        try HDF5Library.sync {
            let obj = try id(), ctx = context
            try requireWritable(ctx)
            guard try hasAttribute(name) else { throw HDF5Error(.notFound, file: ctx.file, object: ctx.object, "no attribute '\(name)'") }
            try ctx.check(H5Adelete(obj, name), .deleteFailed, "cannot delete attribute '\(name)'")
        }
    }

    /// Writes (or replaces) an attribute holding a variable-length UTF-8 string (rank 0).
    public func setAttribute(_ name: String, _ value: String) throws {
        try writeStringAttribute(name, [value], shape: [])
    }

    /// Writes (or replaces) a 1-D attribute of variable-length UTF-8 strings.
    public func setAttribute(_ name: String, _ values: [String]) throws {
        try writeStringAttribute(name, values, shape: [values.count])
    }

    /// Writes (or replaces) an int64 scalar attribute.
    public func setAttribute(_ name: String, _ value: Int) throws {
        try writeNumericAttribute(name, HDF5Array(shape: [], values: [Int64(value)]))
    }

    /// Writes (or replaces) a float64 scalar attribute.
    public func setAttribute(_ name: String, _ value: Double) throws {
        try writeNumericAttribute(name, HDF5Array(shape: [], values: [value]))
    }

    /// Writes (or replaces) a 1-D float32 attribute [n].
    public func setAttribute(_ name: String, _ values: [Float]) throws {
        try writeNumericAttribute(name, HDF5Array(shape: [values.count], values: values))
    }

    /// Writes (or replaces) a 1-D float64 attribute [n].
    public func setAttribute(_ name: String, _ values: [Double]) throws {
        try writeNumericAttribute(name, HDF5Array(shape: [values.count], values: values))
    }

    /// Writes (or replaces) a 1-D int64 attribute [n].
    public func setAttribute(_ name: String, _ values: [Int]) throws {
        try writeNumericAttribute(name, HDF5Array(shape: [values.count], values: values.map { Int64($0) }))
    }

    /// Writes (or replaces) a numeric attribute of any shape.
    public func setAttribute<T: HDF5Scalar>(_ name: String, array: HDF5Array<T>) throws {
        try writeNumericAttribute(name, array)
    }

    /// Reads an attribute as `T` with its shape ([] for a scalar); see `HDF5ReadConversion`.
    public func readAttribute<T: HDF5Scalar>(_ name: String, as type: T.Type,
                                             conversion: HDF5ReadConversion = .sameKind) throws -> HDF5Array<T> {
        try withAttribute(name) { attr, ctx in
            try HDF5IO.readNumeric(.attribute(attr), as: type, conversion, ctx)
        }
    }

    /// Reads a string attribute (scalar or array, variable or fixed length) with its shape.
    public func readStringAttribute(_ name: String) throws -> HDF5Array<String> {
        try withAttribute(name) { attr, ctx in try HDF5IO.readStrings(.attribute(attr), ctx) }
    }

    /// Reads any supported attribute: strings, integers (as Int64) or floats (as Double).
    public func attribute(_ name: String) throws -> HDF5AttributeValue {
        try withAttribute(name) { attr, ctx in
            let t = try ctx.handle(H5Aget_type(attr), .datatype, .readFailed, "cannot read the attribute's type")
            let stored = HDF5DataType.describe(t.id)
            switch stored {
            case .string:
                let a = try HDF5IO.readStrings(.attribute(attr), ctx)
                return a.shape.isEmpty ? .string(a.values[0]) : .strings(a.values)
            case .integer:
                let a = try HDF5IO.readNumeric(.attribute(attr), as: Int64.self, .anyNumeric, ctx)
                return a.shape.isEmpty ? .int(a.values[0]) : .ints(a.values)
            case .float:
                let a = try HDF5IO.readNumeric(.attribute(attr), as: Double.self, .anyNumeric, ctx)
                return a.shape.isEmpty ? .double(a.values[0]) : .doubles(a.values)
            case .other:
                throw HDF5Error(.typeMismatch, file: ctx.file, object: ctx.object, "attribute '\(name)' stores \(stored), not supported")
            }
        }
    }

    /// A string attribute holding exactly one value (scalar or shape [1]).
    public func stringAttribute(_ name: String) throws -> String {
        try single(readStringAttribute(name), name)
    }

    /// An integer attribute holding exactly one value (integer types only).
    public func intAttribute(_ name: String) throws -> Int {
        Int(try single(readAttribute(name, as: Int64.self), name))
    }

    /// A float attribute holding exactly one value (float types only).
    public func doubleAttribute(_ name: String) throws -> Double {
        try single(readAttribute(name, as: Double.self), name)
    }

    /// A float attribute of any shape, flattened, as Float32 (float types only).
    public func floatArrayAttribute(_ name: String) throws -> [Float] {
        try readAttribute(name, as: Float.self).values
    }

    // MARK: helpers

    private func single<T>(_ a: HDF5Array<T>, _ name: String) throws -> T {
        guard a.values.count == 1 else {
            throw HDF5Error(.shapeMismatch, file: fileState.path, object: path,
                            "attribute '\(name)' has shape \(a.shape), expected a single value")
        }
        return a.values[0]
    }

    private func withAttribute<R>(_ name: String, _ body: (hid_t, HDF5Context) throws -> R) throws -> R {
        try HDF5Library.sync {
            let obj = try id()
            let ctx = HDF5Context(file: fileState.path, object: path + (path.hasSuffix("/") ? "" : "/") + "@" + name)
            guard try context.check(H5Aexists(obj, name), .readFailed, "cannot check attribute '\(name)'") > 0 else {
                throw HDF5Error(.notFound, file: ctx.file, object: path, "no attribute '\(name)'")
            }
            let attr = try ctx.handle(H5Aopen(obj, name, HDF5Library.defaultPlist), .attribute, .readFailed, "cannot open attribute")
            return try body(attr.id, ctx)
        }
    }

    /// Creates attribute `name` (deleting an existing one first) and hands it to `fill`.
    private func createAttribute(_ name: String, fileType: hid_t, shape: [Int],
                                 _ fill: (hid_t, HDF5Context) throws -> Void) throws {
        try HDF5Library.sync {
            let obj = try id(), ctx = context
            try requireWritable(ctx)
            if try ctx.check(H5Aexists(obj, name), .readFailed, "cannot check attribute '\(name)'") > 0 {
                try ctx.check(H5Adelete(obj, name), .writeFailed, "cannot replace attribute '\(name)'")
            }
            let space = try HDF5IO.makeSpace(shape, ctx)
            let attr = try ctx.handle(H5Acreate2(obj, name, fileType, space.id, HDF5Library.defaultPlist, HDF5Library.defaultPlist),
                                      .attribute, .writeFailed, "cannot create attribute '\(name)'")
            try fill(attr.id, ctx)
        }
    }

    private func writeNumericAttribute<T: HDF5Scalar>(_ name: String, _ a: HDF5Array<T>) throws {
        try createAttribute(name, fileType: T.hdf5Type.fileType, shape: a.shape) { attr, ctx in
            guard !a.values.isEmpty else { return }
            try a.values.withUnsafeBytes { raw in
                _ = try ctx.check(H5Awrite(attr, T.hdf5Type.memoryType, raw.baseAddress!), .writeFailed,
                              "cannot write attribute '\(name)'")
            }
        }
    }

    private func writeStringAttribute(_ name: String, _ values: [String], shape: [Int]) throws {
        try HDF5Library.sync {
            let ctx = context
            let type = try HDF5IO.stringMemoryType(fixedSize: nil, utf8: true, ctx)
            try createAttribute(name, fileType: type.id, shape: shape) { attr, ctx in
                guard !values.isEmpty else { return }
                try HDF5IO.withStringBuffer(values, fixedSize: nil, ctx) { buf in
                    _ = try ctx.check(H5Awrite(attr, type.id, buf!), .writeFailed, "cannot write attribute '\(name)'")
                }
            }
        }
    }
}
