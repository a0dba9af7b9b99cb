// Groups: children, subgroups, and whole-array dataset writes and reads.
//
// Paths may be relative to the group ("a/b/x") or absolute ("/a/b/x").
// Creating a group or dataset creates missing intermediate groups.
import CHDF5

/// An open HDF5 group (`HDF5File` is its root group).
public class HDF5Group: HDF5Object {
    // MARK: groups and children

    /// Creates a new group (and missing parents); throws `alreadyExists` if the path is taken.
    @discardableResult
    public func createGroup(_ path: String) throws -> HDF5Group {
        try HDF5Library.sync {
            let loc = try id(), ctx = context.child(path)
            try requireWritable(ctx)
            if exists(path) { throw HDF5Error(.alreadyExists, file: ctx.file, object: ctx.object, "an object already exists here") }
            let lcpl = try HDF5IO.linkCreationPlist(ctx)
            let g = try ctx.handle(H5Gcreate2(loc, path, lcpl.id, HDF5Library.defaultPlist, HDF5Library.defaultPlist),
                                   .group, .writeFailed, "cannot create group")
            return HDF5Group(handle: g, file: fileState, path: ctx.object)
        }
    }

    /// Opens an existing group; throws `notFound` if missing, `typeMismatch` if it is not a group.
    public func group(_ path: String) throws -> HDF5Group {
        try HDF5Library.sync {
            let loc = try id(), ctx = context.child(path)
            try requireKind(path, .group, ctx)
            let g = try ctx.handle(H5Gopen2(loc, path, HDF5Library.defaultPlist), .group, .readFailed, "cannot open group")
            return HDF5Group(handle: g, file: fileState, path: ctx.object)
        }
    }

    /// Opens the group, creating it (and parents) if missing.
    public func requireGroup(_ path: String) throws -> HDF5Group {
        try HDF5Library.sync { exists(path) ? try group(path) : try createGroup(path) }
    }

    /// True when a (non-dangling) link exists at `path`; false on any failure.
    public func exists(_ path: String) -> Bool {
        HDF5Library.sync {
            guard let loc = try? id() else { return false }
            let comps = HDF5Path.components(path)
            if comps.isEmpty { return true }
            let lead = path.hasPrefix("/") ? "/" : ""
            for i in 1 ... comps.count {
                let prefix = lead + comps[0 ..< i].joined(separator: "/")
                guard H5Lexists(loc, prefix, HDF5Library.defaultPlist) > 0 else { plm_error_clear(); return false }
            }
            let ok = H5Oexists_by_name(loc, path, HDF5Library.defaultPlist) > 0
            plm_error_clear()
            return ok
        }
    }

    /// What lives at `path`, or nil when nothing does.
    public func kind(of path: String) -> HDF5ObjectKind? {
        HDF5Library.sync {
            guard exists(path), let loc = try? id() else { return nil }
            let obj = H5Oopen(loc, path, HDF5Library.defaultPlist)
            guard obj >= 0 else { plm_error_clear(); return .other }
            defer { _ = H5Oclose(obj) }
            switch H5Iget_type(obj) {
            case H5I_GROUP, H5I_FILE: return .group
            case H5I_DATASET: return .dataset
            case H5I_DATATYPE: return .namedType
            default: return .other
            }
        }
    }

    /// Direct children (links) of this group with their kinds, sorted by name.
    public func children() throws -> [HDF5Child] {
        try HDF5Library.sync {
            try childNames().map { HDF5Child(name: $0, kind: kind(of: $0) ?? .other) }
        }
    }

    /// Names of the direct children, sorted by name.
    public func childNames() throws -> [String] {
        try HDF5Library.sync {
            let loc = try id(), ctx = context
            var info = H5G_info_t()
            try ctx.check(H5Gget_info(loc, &info), .readFailed, "cannot read group info")
            var names = [String]()
            names.reserveCapacity(Int(info.nlinks))
            for i in 0 ..< info.nlinks {
                let len = try ctx.check(H5Lget_name_by_idx(loc, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, HDF5Library.defaultPlist),
                                        .readFailed, "cannot read link name \(i)")
                var buf = [CChar](repeating: 0, count: Int(len) + 1)
                try ctx.check(H5Lget_name_by_idx(loc, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, buf.count, HDF5Library.defaultPlist),
                              .readFailed, "cannot read link name \(i)")
                names.append(String(cString: buf))
            }
            return names
        }
    }

    /// Copies the object at `path` in `source` (a dataset, or a group with
    /// everything below it, attributes included) to the same path here (H5Ocopy).
    public func copy(_ path: String, from source: HDF5Group) throws {
        try HDF5Library.sync {
            let dst = try id(), src = try source.id(), ctx = context.child(path)
            try requireWritable(ctx)
            try ctx.check(H5Ocopy(src, path, dst, path, HDF5Library.defaultPlist, HDF5Library.defaultPlist),
                          .writeFailed, "cannot copy from \(source.fileState.path)")
        }
    }

    /// Removes the link at `path` (dataset or group). HDF5 does not shrink the file;
    /// the space is reused only by later writes in the same session or after h5repack.
    public func delete(_ path: String) throws {
        try HDF5Library.sync {
            let loc = try id(), ctx = context.child(path)
            try requireWritable(ctx)
            guard exists(path) else { throw HDF5Error(.notFound, file: ctx.file, object: ctx.object, "nothing to delete") }
            try ctx.check(H5Ldelete(loc, path, HDF5Library.defaultPlist), .deleteFailed, "cannot delete")
        }
    }

    // MARK: datasets

    /// Opens an existing dataset; throws `notFound` if missing, `typeMismatch` if it is a group.
    public func dataset(_ path: String) throws -> HDF5Dataset {
        try HDF5Library.sync {
            let loc = try id(), ctx = context.child(path)
            try requireKind(path, .dataset, ctx)
            let d = try ctx.handle(H5Dopen2(loc, path, HDF5Library.defaultPlist), .dataset, .readFailed, "cannot open dataset")
            return HDF5Dataset(handle: d, file: fileState, path: ctx.object)
        }
    }

    /// Writes a whole n-D numeric array (row-major `values`, `shape` [] = scalar) as a new dataset.
    /// An existing dataset at `path` is replaced only when `overwrite` is true, else `alreadyExists`.
    @discardableResult
    public func write<T: HDF5Scalar>(_ path: String, _ values: [T], shape: [Int],
                                     options: HDF5DatasetOptions = .contiguous, overwrite: Bool = false) throws -> HDF5Dataset {
        try HDF5Library.sync {
            let loc = try id(), ctx = context.child(path)
            try checkCount(values.count, shape, ctx)
            try prepareForCreate(path, overwrite: overwrite, ctx)
            let d = try HDF5IO.createDataset(at: loc, name: path, fileType: T.hdf5Type.fileType, shape: shape,
                                             elementSize: T.hdf5Type.byteCount, options: options, ctx)
            if !values.isEmpty {
                try values.withUnsafeBytes { raw in
                    _ = try ctx.check(HDF5DataHolder.dataset(d.id).write(T.hdf5Type.memoryType, raw.baseAddress!), .writeFailed,
                                  "writing \(values.count) \(T.hdf5Type.rawValue) values failed")
                }
            }
            return HDF5Dataset(handle: d, file: fileState, path: ctx.object)
        }
    }

    /// Writes an `HDF5Array` as a new dataset (see `write(_:_:shape:options:overwrite:)`).
    @discardableResult
    public func write<T: HDF5Scalar>(_ path: String, _ array: HDF5Array<T>,
                                     options: HDF5DatasetOptions = .contiguous, overwrite: Bool = false) throws -> HDF5Dataset {
        try write(path, array.values, shape: array.shape, options: options, overwrite: overwrite)
    }

    /// Writes UTF-8 strings as a new dataset of shape `shape` (default [values.count]):
    /// variable-length (h5py `string_dtype()`) unless `fixedLength` bytes is given (null-padded).
    @discardableResult
    public func writeStrings(_ path: String, _ values: [String], shape: [Int]? = nil, fixedLength: Int? = nil,
                             options: HDF5DatasetOptions = .contiguous, overwrite: Bool = false) throws -> HDF5Dataset {
        try HDF5Library.sync {
            let loc = try id(), ctx = context.child(path)
            let shape = shape ?? [values.count]
            try checkCount(values.count, shape, ctx)
            let type = try HDF5IO.stringMemoryType(fixedSize: fixedLength, utf8: true, ctx)
            try HDF5IO.withStringBuffer(values, fixedSize: fixedLength, ctx) { _ in }  // validate before touching the file
            try prepareForCreate(path, overwrite: overwrite, ctx)
            let d = try HDF5IO.createDataset(at: loc, name: path, fileType: type.id, shape: shape,
                                             elementSize: fixedLength ?? 16, options: options, ctx)
            if !values.isEmpty {
                try HDF5IO.withStringBuffer(values, fixedSize: fixedLength, ctx) { buf in
                    _ = try ctx.check(HDF5DataHolder.dataset(d.id).write(type.id, buf!), .writeFailed,
                                  "writing \(values.count) strings failed")
                }
            }
            return HDF5Dataset(handle: d, file: fileState, path: ctx.object)
        }
    }

    /// Reads a whole numeric dataset as `T` with its shape; see `HDF5ReadConversion`.
    public func read<T: HDF5Scalar>(_ path: String, as type: T.Type,
                                    conversion: HDF5ReadConversion = .sameKind) throws -> HDF5Array<T> {
        try dataset(path).read(as: type, conversion: conversion)
    }

    /// Reads a whole string dataset with its shape.
    public func readStrings(_ path: String) throws -> HDF5Array<String> {
        try dataset(path).readStrings()
    }

    // MARK: helpers

    private func checkCount(_ count: Int, _ shape: [Int], _ ctx: HDF5Context) throws {
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == count else {
            throw HDF5Error(.shapeMismatch, file: ctx.file, object: ctx.object,
                            "shape \(shape) needs \(shape.allSatisfy { $0 >= 0 } ? shape.reduce(1, *) : -1) values, got \(count)")
        }
    }

    private func requireKind(_ path: String, _ wanted: HDF5ObjectKind, _ ctx: HDF5Context) throws {
        guard let found = kind(of: path) else {
            throw HDF5Error(.notFound, file: ctx.file, object: ctx.object, "no \(wanted.rawValue) at this path")
        }
        guard found == wanted else {
            throw HDF5Error(.typeMismatch, file: ctx.file, object: ctx.object, "this is a \(found.rawValue), not a \(wanted.rawValue)")
        }
    }

    private func prepareForCreate(_ path: String, overwrite: Bool, _ ctx: HDF5Context) throws {
        try requireWritable(ctx)
        guard let found = kind(of: path) else { return }
        guard overwrite else {
            throw HDF5Error(.alreadyExists, file: ctx.file, object: ctx.object,
                            "a \(found.rawValue) already exists here (pass overwrite: true to replace a dataset)")
        }
        guard found == .dataset else {
            throw HDF5Error(.alreadyExists, file: ctx.file, object: ctx.object, "a \(found.rawValue) exists here; only datasets are overwritten")
        }
        try ctx.check(H5Ldelete(try id(), path, HDF5Library.defaultPlist), .deleteFailed, "cannot delete the old dataset")
    }
}
