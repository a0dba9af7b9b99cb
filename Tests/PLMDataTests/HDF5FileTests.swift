import Foundation
import Testing
@testable import PLMData

private typealias S = HDF5TestSupport

@Suite("HDF5 wrapper")
struct HDF5FileTests {
    @Test("a process spawned or forked while a file is open (sharing descriptors) does not keep its lock after close")
    func spawnedChildDoesNotKeepLock() throws {
        let path = try S.temporaryPath("lock.h5")
        let f = try HDF5File.create(path)
        try f.write("x", [Float(1), 2, 3], shape: [3])
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("3"), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0)   // inherits every non-CLOEXEC descriptor
        defer { kill(pid, SIGKILL); var st: Int32 = 0; waitpid(pid, &st, 0) }
        // A child that has forked but not yet exec'd shares every descriptor, O_CLOEXEC
        // ones included (what another thread's spawn looks like from here, for as long
        // as the child takes to reach exec). Closing ours must still free the lock.
        #if os(Linux)   // Swift marks fork() unavailable on Darwin
        let forked = fork()
        if forked == 0 { sleep(3); _exit(0) }   // async-signal-safe only
        #expect(forked > 0)
        defer { kill(forked, SIGKILL); var st: Int32 = 0; waitpid(forked, &st, 0) }
        #endif
        f.close()
        let g = try HDF5File.open(path, mode: .readWrite)   // "unable to lock file, errno = 11" if the child held the lock
        #expect(try g.read("x", as: Float.self).values == [1, 2, 3])
        g.close()
    }

    @Test("the file lock is PLMKit's own: exclusive while writing, shared while reading, refused while another holder writes")
    func interProcessLock() throws {
        let path = try S.temporaryPath("locked.h5")
        // flock locks belong to an open file description, so a second open() here
        // stands in for another process (h5py's HDF5 flocks the same way).
        func otherHolder(_ op: Int32) -> Int32? {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            if flock(fd, op | LOCK_NB) != 0 { close(fd); return nil }
            return fd
        }
        let w = try HDF5File.create(path)
        try w.write("x", [Int32(7)], shape: [1])
        #expect(otherHolder(LOCK_SH) == nil)            // writer holds it exclusively
        let again = try HDF5File.open(path)             // our own process: HDF5 arbitrates, no self-conflict
        #expect(try again.read("x", as: Int32.self).values == [7])
        again.close()
        w.close()
        let r = try HDF5File.open(path)
        let shared = try #require(otherHolder(LOCK_SH))  // readers share
        #expect(otherHolder(LOCK_EX) == nil)
        close(shared)
        r.close()
        let writer = try #require(otherHolder(LOCK_EX))
        let e = S.hdf5Error { _ = try HDF5File.open(path) }
        #expect(e?.kind == .openFailed && e?.message.contains("another process") == true)
        let e2 = S.hdf5Error { _ = try HDF5File.create(path) }
        #expect(e2?.kind == .openFailed)
        close(writer)
        #expect(try HDF5File.open(path, mode: .readWrite).read("x", as: Int32.self).values == [7])   // the refused create truncated nothing
        // and nothing stays locked after all handles close
        let last = try #require(otherHolder(LOCK_EX))
        close(last)
        // HDF5 keeps a file open while a dataset from it is (weak close degree): so does the lock.
        do {
            let f = try HDF5File.open(path, mode: .readWrite)
            let ds = try f.dataset("x")
            f.close()
            #expect(otherHolder(LOCK_SH) == nil, "the file is still open through its dataset")
            ds.close()
        }
        let free = try #require(otherHolder(LOCK_EX))
        close(free)
    }

    @Test("every numeric dtype round-trips with its shape, bit for bit")
    func numericRoundTrip() throws {
        let path = try S.temporaryPath("dtypes.h5")
        let f32: [Float] = [1.5, -2.25, 0, 1e-30, -0.0, .greatestFiniteMagnitude, .infinity, -.leastNonzeroMagnitude]
        let f64: [Double] = [0.1, -1e-300, 1e300, 1.0 / 3.0]
        let i32: [Int32] = [0, -1, .max, .min, 7, 8]
        let i64: [Int64] = [0, 1 << 40 + 1, -(1 << 62)]
        let u8: [UInt8] = [0, 1, 127, 128, 255]
        do {
            let file = try HDF5File.create(path)
            try file.write("f32", f32, shape: [2, 4])
            try file.write("f64", f64, shape: [4])
            try file.write("i32", i32, shape: [3, 1, 2])
            try file.write("i64", i64, shape: [3])
            try file.write("u8", u8, shape: [5])
            try file.write("scalar", [Float(-0.75)], shape: [])
            try file.write("empty", [Float](), shape: [0, 3])
        }
        let file = try HDF5File.open(path)
        let r32 = try file.read("f32", as: Float.self)
        #expect(r32.shape == [2, 4])
        #expect(r32.values.map(\.bitPattern) == f32.map(\.bitPattern))
        let r64 = try file.read("f64", as: Double.self)
        #expect(r64.shape == [4] && r64.values.map(\.bitPattern) == f64.map(\.bitPattern))
        #expect(try file.read("i32", as: Int32.self) == HDF5Array(shape: [3, 1, 2], values: i32))
        #expect(try file.read("i64", as: Int64.self) == HDF5Array(shape: [3], values: i64))
        #expect(try file.read("u8", as: UInt8.self) == HDF5Array(shape: [5], values: u8))
        #expect(try file.read("scalar", as: Float.self) == HDF5Array(shape: [], values: [-0.75]))
        #expect(try file.read("empty", as: Float.self) == HDF5Array(shape: [0, 3], values: []))
        #expect(try file.dataset("i32").info().dataType == .integer(bits: 32, signed: true))
        #expect(try file.dataset("u8").info().dataType == .integer(bits: 8, signed: false))
        #expect(try file.dataset("f64").info().dataType == .float(bits: 64))
        let a = try file.read("i32", as: Int32.self)
        #expect(a[2, 0, 1] == 8 && a[1, 0, 0] == .max)
    }

    @Test("variable- and fixed-length UTF-8 strings round-trip with shape")
    func stringRoundTrip() throws {
        let path = try S.temporaryPath("strings.h5")
        let words = ["alpha", "βeta", "", "γ ✓", "MKTAYIAKQR", "x"]
        do {
            let file = try HDF5File.create(path)
            try file.writeStrings("vlen", words, shape: [2, 3])
            try file.writeStrings("fixed", words, fixedLength: 10)
            try file.writeStrings("one", ["solo"], shape: [])
        }
        let file = try HDF5File.open(path)
        #expect(try file.readStrings("vlen") == HDF5Array(shape: [2, 3], values: words))
        #expect(try file.readStrings("fixed") == HDF5Array(shape: [6], values: words))
        #expect(try file.readStrings("one") == HDF5Array(shape: [], values: ["solo"]))
        #expect(try file.dataset("vlen").info().dataType == .string(variableLength: true, size: 0, utf8: true))
        #expect(try file.dataset("fixed").info().dataType == .string(variableLength: false, size: 10, utf8: true))
        file.close()  // HDF5 refuses a read-write open while the file is open read-only
        let rw = try HDF5File.open(path, mode: .readWrite)
        // "γ ✓" is 6 UTF-8 bytes: too long for 5.
        let e = S.hdf5Error { _ = try rw.writeStrings("short", words, fixedLength: 5) }
        #expect(e?.kind == .invalidArgument)
        #expect(e?.description.contains("longer than the fixed length 5") == true)
        let nul = S.hdf5Error { _ = try rw.writeStrings("nul", ["a\u{0}b"]) }
        #expect(nul?.kind == .invalidArgument)
        #expect(!rw.exists("short") && !rw.exists("nul"))  // nothing written on failure
    }

    @Test("attributes of every kind on the root, a group and a dataset")
    func attributes() throws {
        let path = try S.temporaryPath("attrs.h5")
        do {
            let file = try HDF5File.create(path)
            try file.setAttribute("title", "PLMKit ✓")
            try file.setAttribute("version", 3)
            try file.setAttribute("scale", 0.125)
            try file.setAttribute("vec", [Float(1), -2.5, 3.25])
            try file.setAttribute("dvec", [0.1, 0.2])
            try file.setAttribute("ivec", [1, -2, 1 << 40])
            try file.setAttribute("tags", ["x", "yé"])
            let g = try file.createGroup("g/h")
            try g.setAttribute("note", "nested")
            let d = try file.write("data", [Float(1), 2], shape: [2])
            try d.setAttribute("units", "nm")
            try d.setAttribute("units", "Å")  // replaces
        }
        let file = try HDF5File.open(path)
        #expect(try file.attributeNames() == ["dvec", "ivec", "scale", "tags", "title", "vec", "version"])
        #expect(try file.stringAttribute("title") == "PLMKit ✓")
        #expect(try file.intAttribute("version") == 3)
        #expect(try file.doubleAttribute("scale") == 0.125)
        #expect(try file.floatArrayAttribute("vec") == [1, -2.5, 3.25])
        #expect(try file.attribute("dvec") == .doubles([0.1, 0.2]))
        #expect(try file.attribute("ivec") == .ints([1, -2, 1 << 40]))
        #expect(try file.attribute("tags") == .strings(["x", "yé"]))
        #expect(try file.attribute("version") == .int(3))
        #expect(try file.attribute("title") == .string("PLMKit ✓"))
        #expect(try file.readAttribute("vec", as: Float.self).shape == [3])
        #expect(try file.group("g/h").stringAttribute("note") == "nested")
        #expect(try file.dataset("data").stringAttribute("units") == "Å")
        #expect(try file.dataset("data").attributeNames() == ["units"])
        #expect(try file.hasAttribute("nope") == false)
        let missing = S.hdf5Error { _ = try file.stringAttribute("nope") }
        #expect(missing?.kind == .notFound && missing?.description.contains("nope") == true)
        let wrong = S.hdf5Error { _ = try file.intAttribute("scale") }
        #expect(wrong?.kind == .typeMismatch)
        let notOne = S.hdf5Error { _ = try file.doubleAttribute("dvec") }
        #expect(notOne?.kind == .shapeMismatch)
        file.close()
        let rw = try HDF5File.open(path, mode: .readWrite)
        try rw.deleteAttribute("dvec")
        #expect(try rw.hasAttribute("dvec") == false)
    }

    @Test("chunked gzip compression round-trips and shrinks compressible data")
    func compression() throws {
        let dir = try S.temporaryDirectory()
        let values = (0 ..< 256 * 64).map { Float($0 % 64) * 0.5 }
        var sizes: [String: Int] = [:]
        for (name, options) in [("plain", HDF5DatasetOptions.contiguous), ("gzip", .compressed(level: 6)),
                                ("chunked", HDF5DatasetOptions(chunks: [32, 64]))] {
            let path = dir.appendingPathComponent("\(name).h5").path
            do { try HDF5File.create(path).write("x", values, shape: [256, 64], options: options) }
            let file = try HDF5File.open(path)
            #expect(try file.read("x", as: Float.self) == HDF5Array(shape: [256, 64], values: values))
            let info = try file.dataset("x").info()
            switch name {
            case "plain": #expect(info.chunks == nil && info.gzipLevel == nil && !info.shuffle)
            case "gzip": #expect(info.chunks != nil && info.gzipLevel == 6 && info.shuffle)
            default: #expect(info.chunks == [32, 64] && info.gzipLevel == nil)
            }
            sizes[name] = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        }
        #expect(sizes["gzip"]! * 10 < sizes["plain"]!)
        // Bad options are reported, not trapped.
        let file = try HDF5File.create(dir.appendingPathComponent("bad.h5").path)
        let badChunk = S.hdf5Error { try file.write("y", values, shape: [256, 64], options: .init(chunks: [512, 64])) }
        #expect(badChunk?.kind == .invalidArgument && badChunk?.object == "/y")
        let badLevel = S.hdf5Error { try file.write("z", values, shape: [256, 64], options: .compressed(level: 12)) }
        #expect(badLevel?.kind == .invalidArgument)
        let badCount = S.hdf5Error { try file.write("w", values, shape: [3, 3]) }
        #expect(badCount?.kind == .shapeMismatch)
        // Compression options on a scalar or an empty array fall back to contiguous.
        try file.write("s", [1.0], shape: [], options: .compressed())
        try file.write("e", [Float](), shape: [0, 4], options: .compressed())
        #expect(try file.dataset("e").info().chunks == nil)
    }

    @Test("groups: create with parents, open, list children, exists, delete, overwrite")
    func groups() throws {
        let path = try S.temporaryPath("groups.h5")
        let file = try HDF5File.create(path)
        let deep = try file.createGroup("a/b/c")
        #expect(deep.path == "/a/b/c")
        try deep.write("x", [Int32(1), 2, 3], shape: [3])
        try file.write("a/y", [Int64(5)], shape: [1])
        try file.write("top", [UInt8(1)], shape: [1])
        #expect(try file.childNames() == ["a", "top"])
        #expect(try file.group("a").children() == [HDF5Child(name: "b", kind: .group), HDF5Child(name: "y", kind: .dataset)])
        #expect(file.exists("a/b/c/x") && file.exists("/a/b") && !file.exists("a/nope/x") && !file.exists("top/x"))
        #expect(file.kind(of: "a/b/c/x") == .dataset && file.kind(of: "a/b") == .group && file.kind(of: "zz") == nil)
        #expect(try file.group("a/b").read("c/x", as: Int32.self).values == [1, 2, 3])
        #expect(try file.requireGroup("a/b").path == "/a/b")
        #expect(try file.requireGroup("new/g").path == "/new/g")

        let dup = S.hdf5Error { try file.write("a/y", [Int64(6)], shape: [1]) }
        #expect(dup?.kind == .alreadyExists && dup?.object == "/a/y")
        try file.write("a/y", [Int64(6), 7], shape: [2], overwrite: true)
        #expect(try file.read("a/y", as: Int64.self).values == [6, 7])
        let overGroup = S.hdf5Error { try file.write("a/b", [Int64(6)], shape: [1], overwrite: true) }
        #expect(overGroup?.kind == .alreadyExists)
        #expect(S.hdf5Error { try file.createGroup("a/b") }?.kind == .alreadyExists)

        try file.delete("a/y")
        #expect(!file.exists("a/y"))
        #expect(S.hdf5Error { try file.delete("a/y") }?.kind == .notFound)
        #expect(S.hdf5Error { _ = try file.group("top") }?.kind == .typeMismatch)
        #expect(S.hdf5Error { _ = try file.dataset("a") }?.kind == .typeMismatch)
    }

    @Test("reopening for append keeps earlier datasets; extendable datasets grow")
    func append() throws {
        let path = try S.temporaryPath("append.h5")
        do {
            let file = try HDF5File.create(path)
            try file.write("first", [Float(1), 2], shape: [2])
            try file.write("rows", [Int32(1), 2, 3, 4], shape: [2, 2], options: .init(extendable: true))
            try file.writeStrings("names", ["a"], options: .init(extendable: true))
        }
        do {
            let file = try HDF5File.openOrCreate(path)
            #expect(file.isWritable)
            try file.write("second", [Float(3)], shape: [1])
            try file.dataset("rows").append([Int32(5), 6, 7, 8], rows: 2)
            try file.dataset("names").appendStrings(["β", "c"])
            try file.dataset("names").replaceStrings(start: 0, ["A"])
            try file.dataset("rows").replaceRows(start: 1, [Int32(30), 40], rows: 1)
            let bad = S.hdf5Error { try file.dataset("rows").append([Int32(1)], rows: 1) }
            #expect(bad?.kind == .shapeMismatch)
            let fixed = S.hdf5Error { try file.dataset("first").append([Float(1)], rows: 1) }
            #expect(fixed?.kind == .writeFailed && fixed?.description.contains("not extendable") == true)
        }
        let file = try HDF5File.open(path)
        #expect(try file.childNames() == ["first", "names", "rows", "second"])
        #expect(try file.read("first", as: Float.self).values == [1, 2])
        #expect(try file.read("second", as: Float.self).values == [3])
        #expect(try file.read("rows", as: Int32.self) == HDF5Array(shape: [4, 2], values: [1, 2, 30, 40, 5, 6, 7, 8]))
        #expect(try file.readStrings("names").values == ["A", "β", "c"])
        #expect(try file.dataset("rows").info().maxShape == [nil, 2])
    }

    @Test("dtype rules: floats convert, int->float throws unless asked, narrowing ints throw")
    func conversions() throws {
        let path = try S.temporaryPath("conv.h5")
        let file = try HDF5File.create(path)
        try file.write("d", [0.1, 2.5], shape: [2])
        try file.write("i", [Int32(7), -3], shape: [2])
        try file.write("big", [Int64(1) << 40], shape: [1])
        try file.write("b", [UInt8(200)], shape: [1])
        try file.writeStrings("s", ["x"])
        #expect(try file.read("d", as: Float.self).values == [Float(0.1), 2.5])  // float64 -> float32 rounds
        #expect(try file.read("i", as: Int64.self).values == [7, -3])           // widening
        #expect(try file.read("b", as: Int32.self).values == [200])
        let e = S.hdf5Error { _ = try file.read("i", as: Float.self) }
        #expect(e?.kind == .typeMismatch && e?.object == "/i")
        #expect(e?.description.contains("int32") == true && e?.description.contains("anyNumeric") == true)
        #expect(try file.read("i", as: Float.self, conversion: .anyNumeric).values == [7, -3])
        #expect(S.hdf5Error { _ = try file.read("big", as: Int32.self) }?.kind == .typeMismatch)
        #expect(S.hdf5Error { _ = try file.read("d", as: Int64.self) }?.kind == .typeMismatch)
        #expect(S.hdf5Error { _ = try file.read("s", as: Float.self) }?.kind == .typeMismatch)
        #expect(S.hdf5Error { _ = try file.readStrings("d") }?.kind == .typeMismatch)
    }

    @Test("bad files and paths throw typed errors naming the file and object")
    func errors() throws {
        let dir = try S.temporaryDirectory()
        // Not an HDF5 file.
        let text = dir.appendingPathComponent("not.h5").path
        try Data("just some text, not HDF5\n".utf8).write(to: URL(fileURLWithPath: text))
        let notH5 = S.hdf5Error { _ = try HDF5File.open(text) }
        #expect(notH5?.kind == .notHDF5)
        #expect(notH5?.description.contains(text) == true)
        #expect(!HDF5File.isHDF5(text))
        // Missing file.
        let missing = dir.appendingPathComponent("missing.h5").path
        let nf = S.hdf5Error { _ = try HDF5File.open(missing) }
        #expect(nf?.kind == .fileNotFound && nf?.file == missing)
        // Truncated file: valid header, data cut off.
        let good = dir.appendingPathComponent("good.h5").path
        do {
            let f = try HDF5File.create(good)
            try f.write("big", (0 ..< 4096).map { Float($0) }, shape: [4096])
            try f.setAttribute("a", "b")
        }
        #expect(HDF5File.isHDF5(good))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        for cut in [bytes.count / 2, 2048, 40] {
            let truncated = dir.appendingPathComponent("trunc\(cut).h5").path
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: truncated))
            let e = S.hdf5Error { _ = try HDF5File.open(truncated).read("big", as: Float.self) }
            #expect(e != nil && [.openFailed, .notHDF5, .readFailed].contains(e!.kind), "cut \(cut): \(String(describing: e))")
            #expect(e?.description.contains(truncated) == true)
        }
        // Missing dataset: error names the file and the object path.
        let file = try HDF5File.open(good)
        let md = S.hdf5Error { _ = try file.read("grp/nothing", as: Float.self) }
        #expect(md?.kind == .notFound && md?.object == "/grp/nothing" && md?.file == good)
        #expect(md?.description.contains("'/grp/nothing'") == true && md?.description.contains(good) == true)
        // Writing to a read-only file.
        let ro = S.hdf5Error { try file.write("x", [Float(1)], shape: [1]) }
        #expect(ro?.kind == .writeFailed && ro?.description.contains("read-only") == true)
        // Creating without overwrite.
        #expect(S.hdf5Error { _ = try HDF5File.create(good, overwrite: false) }?.kind == .alreadyExists)
        // A directory, and a file in a missing directory.
        #expect(S.hdf5Error { _ = try HDF5File.open(dir.path) }?.kind == .notHDF5)
        let noDir = S.hdf5Error { _ = try HDF5File.create(dir.appendingPathComponent("no/such/dir.h5").path) }
        #expect(noDir?.kind == .openFailed && noDir?.detail.isEmpty == false)
        // Closed objects.
        let g = try HDF5File.open(good)
        g.close()
        #expect(S.hdf5Error { _ = try g.childNames() }?.kind == .closed)
    }
}
