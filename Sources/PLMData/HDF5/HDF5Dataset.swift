// An open dataset: layout info, whole reads, appends and row replacement.
import CHDF5

/// An open HDF5 dataset.
public final class HDF5Dataset: HDF5Object {
    /// Current shape ([] for a scalar).
    public func shape() throws -> [Int] {
        try HDF5Library.sync {
            let ctx = context
            let space = try ctx.handle(H5Dget_space(try id()), .dataspace, .readFailed, "cannot read the dataspace")
            return try HDF5IO.shape(ofSpace: space.id, ctx)
        }
    }

    /// Shape, element type, chunking and filters.
    public func info() throws -> HDF5DatasetInfo {
        try HDF5Library.sync {
            let d = try id(), ctx = context
            let space = try ctx.handle(H5Dget_space(d), .dataspace, .readFailed, "cannot read the dataspace")
            let type = try ctx.handle(H5Dget_type(d), .datatype, .readFailed, "cannot read the type")
            let dcpl = try ctx.handle(H5Dget_create_plist(d), .plist, .readFailed, "cannot read the creation properties")
            let shape = try HDF5IO.shape(ofSpace: space.id, ctx)
            var chunks: [Int]?
            var gzip: Int?
            var shuffle = false
            if H5Pget_layout(dcpl.id) == H5D_CHUNKED {
                var dims = [hsize_t](repeating: 0, count: max(shape.count, 1))
                let rank = try ctx.check(H5Pget_chunk(dcpl.id, Int32(dims.count), &dims), .readFailed, "cannot read the chunk shape")
                chunks = dims.prefix(Int(rank)).map { Int(clamping: $0) }
                let nFilters = try ctx.check(H5Pget_nfilters(dcpl.id), .readFailed, "cannot read the filters")
                for i in 0 ..< nFilters {
                    var flags: UInt32 = 0
                    var nValues = 4
                    var values = [UInt32](repeating: 0, count: 4)
                    var config: UInt32 = 0
                    let filter = H5Pget_filter2(dcpl.id, UInt32(i), &flags, &nValues, &values, 0, nil, &config)
                    if filter == H5Z_filter_t(H5Z_FILTER_DEFLATE) { gzip = nValues > 0 ? Int(values[0]) : nil }
                    if filter == H5Z_filter_t(H5Z_FILTER_SHUFFLE) { shuffle = true }
                }
            }
            return HDF5DatasetInfo(shape: shape, maxShape: try HDF5IO.maxShape(ofSpace: space.id, ctx),
                                   dataType: HDF5DataType.describe(type.id), chunks: chunks, gzipLevel: gzip, shuffle: shuffle)
        }
    }

    /// Reads the whole dataset as `T` with its shape; see `HDF5ReadConversion` for accepted types.
    public func read<T: HDF5Scalar>(as type: T.Type, conversion: HDF5ReadConversion = .sameKind) throws -> HDF5Array<T> {
        try HDF5Library.sync { try HDF5IO.readNumeric(.dataset(try id()), as: type, conversion, context) }
    }

    /// Reads a whole string dataset (variable or fixed length, ASCII or UTF-8) with its shape.
    public func readStrings() throws -> HDF5Array<String> {
        try HDF5Library.sync { try HDF5IO.readStrings(.dataset(try id()), context) }
    }

    /// Appends rows along axis 0 of an extendable dataset; `values` has shape [rows, rest...]
    /// where `rest` equals the dataset's trailing dimensions.
    public func append<T: HDF5Scalar>(_ values: [T], rows: Int) throws {
        try HDF5Library.sync {
            let (start, rest) = try extend(by: rows, elementCount: values.count)
            let ctx = context
            try values.withUnsafeBytes { raw in
                try HDF5IO.writeBlock(dataset: try id(), start: [start] + rest.map { _ in 0 }, count: [rows] + rest,
                                      memType: T.hdf5Type.memoryType, raw.baseAddress, ctx)
            }
        }
    }

    /// Appends strings to a 1-D extendable string dataset.
    public func appendStrings(_ values: [String]) throws {
        try HDF5Library.sync {
            try requireRank1()
            let (start, _) = try extend(by: values.count, elementCount: values.count)
            try writeStrings(values, start: start)
        }
    }

    /// Overwrites rows `start ..< start+rows` along axis 0; `values` has shape [rows, rest...].
    public func replaceRows<T: HDF5Scalar>(start: Int, _ values: [T], rows: Int) throws {
        try HDF5Library.sync {
            let ctx = context
            try requireWritable(ctx)
            let shape = try self.shape()
            let rest = Array(shape.dropFirst())
            try checkBlock(start: start, rows: rows, elementCount: values.count, shape: shape)
            try values.withUnsafeBytes { raw in
                try HDF5IO.writeBlock(dataset: try id(), start: [start] + rest.map { _ in 0 }, count: [rows] + rest,
                                      memType: T.hdf5Type.memoryType, raw.baseAddress, ctx)
            }
        }
    }

    /// Overwrites elements `start ..< start+values.count` of a 1-D string dataset.
    public func replaceStrings(start: Int, _ values: [String]) throws {
        try HDF5Library.sync {
            try requireWritable(context)
            try requireRank1()
            try checkBlock(start: start, rows: values.count, elementCount: values.count, shape: try shape())
            try writeStrings(values, start: start)
        }
    }

    // MARK: helpers

    private func requireRank1() throws {
        let shape = try self.shape()
        guard shape.count == 1 else {
            throw HDF5Error(.shapeMismatch, file: filePath, object: path, "string rows need a 1-D dataset, shape is \(shape)")
        }
    }

    private func checkBlock(start: Int, rows: Int, elementCount: Int, shape: [Int]) throws {
        let ctx = context
        guard !shape.isEmpty else {
            throw HDF5Error(.shapeMismatch, file: ctx.file, object: ctx.object, "cannot address rows of a scalar dataset")
        }
        let rowSize = shape.dropFirst().reduce(1, *)
        guard rows >= 0, start >= 0, start + rows <= shape[0] else {
            throw HDF5Error(.shapeMismatch, file: ctx.file, object: ctx.object,
                            "rows \(start)..<\(start + rows) outside dataset of shape \(shape)")
        }
        guard elementCount == rows * rowSize else {
            throw HDF5Error(.shapeMismatch, file: ctx.file, object: ctx.object,
                            "\(elementCount) values for \(rows) rows of shape \(Array(shape.dropFirst())) (need \(rows * rowSize))")
        }
    }

    /// Grows axis 0 by `rows`; returns the old row count and the trailing dimensions.
    private func extend(by rows: Int, elementCount: Int) throws -> (Int, [Int]) {
        let d = try id(), ctx = context
        try requireWritable(ctx)
        let space = try ctx.handle(H5Dget_space(d), .dataspace, .readFailed, "cannot read the dataspace")
        let shape = try HDF5IO.shape(ofSpace: space.id, ctx)
        let maxShape = try HDF5IO.maxShape(ofSpace: space.id, ctx)
        guard !shape.isEmpty, maxShape.first.map({ $0 == nil }) == true else {
            throw HDF5Error(.writeFailed, file: ctx.file, object: ctx.object,
                            "dataset of shape \(shape) is not extendable along axis 0 (create it with extendable: true)")
        }
        let rest = Array(shape.dropFirst())
        guard rows >= 0, elementCount == rows * rest.reduce(1, *) else {
            throw HDF5Error(.shapeMismatch, file: ctx.file, object: ctx.object,
                            "\(elementCount) values for \(rows) rows of shape \(rest)")
        }
        var newShape = shape
        newShape[0] += rows
        try ctx.check(H5Dset_extent(d, newShape.map { hsize_t($0) }), .writeFailed, "cannot extend to shape \(newShape)")
        return (shape[0], rest)
    }

    private func writeStrings(_ values: [String], start: Int) throws {
        let d = try id(), ctx = context
        let ftype = try ctx.handle(H5Dget_type(d), .datatype, .readFailed, "cannot read the type")
        guard case let .string(vlen, size, utf8) = HDF5DataType.describe(ftype.id) else {
            throw HDF5Error(.typeMismatch, file: ctx.file, object: ctx.object,
                            "dataset stores \(HDF5DataType.describe(ftype.id)), cannot write strings")
        }
        let mem = try HDF5IO.stringMemoryType(fixedSize: vlen ? nil : size, utf8: utf8, ctx)
        try HDF5IO.withStringBuffer(values, fixedSize: vlen ? nil : size, ctx) { buf in
            try HDF5IO.writeBlock(dataset: d, start: [start], count: [values.count], memType: mem.id, buf, ctx)
        }
    }
}
