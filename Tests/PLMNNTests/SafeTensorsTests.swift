import Foundation
import Testing
@testable import PLMNN
import PLMTensor

// MARK: Helpers

private func fixtureURL(_ name: String) throws -> URL {
    let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/safetensors/\(name)")
    guard FileManager.default.fileExists(atPath: url.path) else {
        throw SafeTensorsError.cannotRead(file: url.path, reason: "fixture missing")
    }
    return url
}

private func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("plmnn-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// A safetensors byte image: length prefix, header text padded with `padding` spaces, data.
private func craft(_ header: String, padding: Int = 0, data: [UInt8]) -> [UInt8] {
    let h = Array(header.utf8) + [UInt8](repeating: 0x20, count: padding)
    var out: [UInt8] = []
    withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
    return out + h + data
}

private func bytes(of floats: [Float]) -> [UInt8] {
    floats.withUnsafeBytes { Array($0) }
}

/// The SafeTensorsError thrown by `body`, or nil.
private func safeTensorsError(_ body: () throws -> Void) -> SafeTensorsError? {
    do { try body() } catch let e as SafeTensorsError { return e } catch { return nil }
    return nil
}

private func open(_ image: [UInt8]) throws -> SafeTensorsFile {
    try SafeTensorsFile(bytes: image, name: "crafted.safetensors")
}

// MARK: Golden files from the Python `safetensors` package

@Suite("safetensors: golden files from Python")
struct SafeTensorsGoldenTests {
    struct Expected {
        var dtype: String
        var shape: [Int]
        var bits: [UInt32]
        var int64: [Int64]?
    }

    func loadExpected() throws -> (tensors: [String: Expected], metadata: [String: String]) {
        let data = try Data(contentsOf: try fixtureURL("golden_expected.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let meta = try #require(root["metadata"] as? [String: String])
        let tensors = try #require(root["tensors"] as? [String: [String: Any]])
        var out: [String: Expected] = [:]
        for (name, t) in tensors {
            let bits = try #require(t["f32_bits"] as? [NSNumber]).map { UInt32($0.uint64Value) }
            let ints = (t["int64"] as? [NSNumber])?.map { $0.int64Value }
            out[name] = Expected(dtype: try #require(t["dtype"] as? String),
                                 shape: try #require(t["shape"] as? [Int]), bits: bits, int64: ints)
        }
        return (out, meta)
    }

    @Test("every tensor matches torch's float32 conversion bit for bit")
    func valuesMatchPython() throws {
        let (expected, metadata) = try loadExpected()
        let file = try SafeTensorsFile(url: try fixtureURL("golden.safetensors"))
        #expect(file.isMemoryMapped)
        #expect(file.names == expected.keys.sorted())
        #expect(file.metadata == metadata)
        #expect(file.metadata["note"] == "PLMKit golden file \u{2713}")
        #expect(file.metadata["quote"] == "a \"b\" \\c")
        for (name, want) in expected {
            let info = try #require(file.info(name))
            #expect(info.dtype.rawValue == want.dtype, "\(name)")
            #expect(info.shape == want.shape, "\(name)")
            let t = try file.tensor(name)
            #expect(t.shape == want.shape, "\(name)")
            let got = t.toArray().map(\.bitPattern)
            #expect(got == want.bits, "\(name): \(t.toArray()) vs \(want.bits.map { Float(bitPattern: $0) })")
            if let ints = want.int64 { #expect(try file.int64(name) == ints, "\(name)") }
        }
    }

    @Test("known values: dtypes, conversions and special cases")
    func knownValues() throws {
        let file = try SafeTensorsFile(url: try fixtureURL("golden.safetensors"))
        #expect(file.info("f16.values")?.dtype == .f16)
        #expect(file.info("bf16.matrix")?.dtype == .bf16)
        let f16 = try file.tensor("f16.values").toArray()
        #expect(f16[4] == 65504)
        #expect(f16[6] == 0x1p-24)                       // smallest half subnormal
        #expect(f16[7] == 0.333251953125)                // 1/3 rounded to half
        #expect(f16[1] == 0 && f16[1].sign == .minus)    // -0 kept
        #expect(f16[8] == -.infinity)
        let bf = try file.tensor("bf16.matrix")
        #expect(bf.shape == [3, 2])
        #expect(bf[1, 0] == 3.140625 && bf[2, 1] == -0.0078125)
        let f64 = try file.tensor("f64.values").toArray()
        #expect(f64[0] == Float(0.1))                    // rounded to nearest float
        #expect(f64[2] == .infinity)                     // 1e300 overflows
        #expect(f64[3] == 1.0)                           // 1 + 2^-24 ties to even
        #expect(try file.int64("i64.values") == [0, 1, -7, 1_099_511_627_777, 16_777_217, -(1 << 62)])
        #expect(try file.tensor("i64.values").toArray()[4] == 16_777_216)  // nearest float
        #expect(try file.int64("esm.embeddings.position_ids") == [0, 1, 2, 3, 4, 5])
        let ramp = try file.tensor("f32.ramp")
        #expect(ramp.shape == [2, 3, 4])
        #expect(ramp.toArray() == (0..<24).map { Float($0) * 0.5 - 3 })
        #expect(try file.tensor("f32.scalar").item() == -0.75)
        let empty = try file.tensor("f32.empty")
        #expect(empty.shape == [2, 0, 3] && empty.count == 0)
    }

    @Test("memory-mapped and read-into-memory openings agree")
    func mappedAndReadAgree() throws {
        let url = try fixtureURL("golden.safetensors")
        let a = try SafeTensorsFile(url: url)
        let b = try SafeTensorsFile(url: url, memoryMap: false)
        #expect(!b.isMemoryMapped)
        #expect(a.names == b.names && a.infos == b.infos && a.metadata == b.metadata)
        for name in a.names {
            #expect(try a.tensor(name).toArray().map(\.bitPattern) == b.tensor(name).toArray().map(\.bitPattern))
        }
    }

    @Test("F32 tensors are zero-copy views; writing to them never touches the file")
    func zeroCopy() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("copy.safetensors")
        try FileManager.default.copyItem(at: try fixtureURL("golden.safetensors"), to: url)
        var first: Tensor? = try SafeTensorsFile(url: url).tensor("f32.ramp")  // file object released here
        let file = try SafeTensorsFile(url: url)
        let a = try file.tensor("f32.ramp"), b = try file.tensor("f32.ramp")
        #expect(a.data == b.data)                        // both borrow the mapping
        let c = try file.tensor("f32.ramp", copy: true)
        #expect(c.data != a.data)
        // The tensor keeps its mapping alive after the file object is gone.
        #expect(first!.toArray() == c.toArray())
        first!.data[0] = 99                              // copy-on-write page, not the file
        first = nil
        a.data[1] = 42
        #expect(b[0, 0, 1] == 42)                        // same memory
        #expect(c[0, 0, 1] == -2.5)
        #expect(try SafeTensorsFile(url: url).tensor("f32.ramp", copy: true).toArray()
                == (0..<24).map { Float($0) * 0.5 - 3 })
    }

    @Test("all 65536 half-precision bit patterns convert exactly")
    func halfConversionExhaustive() {
        #if arch(x86_64) || arch(arm64)
        #if !os(macOS)
        for h in 0...UInt16.max {
            let want = Float(Float16(bitPattern: h))
            let got = halfBitsToFloat(h)
            if want.isNaN { #expect(got.isNaN); continue }
            if got.bitPattern != want.bitPattern { Issue.record("half \(h): \(got) != \(want)"); return }
        }
        #endif
        #endif
        for h: UInt16 in [0x0000, 0x3F80, 0xBFC0, 0x7F80, 0x0001] {
            #expect(bfloat16BitsToFloat(h).bitPattern == UInt32(h) << 16)
        }
    }

    @Test("misaligned F32 data is copied and read correctly")
    func misalignedData() throws {
        // F16 [1] (2 bytes) first, so the F32 tensor starts at data offset 2;
        // an odd header length makes the data buffer itself start at an odd address.
        let header = #"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"w":{"dtype":"F32","shape":[3],"data_offsets":[2,14]}}"#
        let padding = (8 - (8 + header.utf8.count) % 8) % 8 + 1
        let image = craft(header, padding: padding, data: [0x00, 0x3C] + bytes(of: [1.5, -2, 1e-20]))
        #expect((8 + header.utf8.count + padding) % 4 != 0)
        let file = try open(image)
        #expect(try file.tensor("w").toArray() == [1.5, -2, 1e-20])
        #expect(try file.tensor("h").toArray() == [1])
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("odd.safetensors")
        try Data(image).write(to: url)
        #expect(try SafeTensorsFile(url: url).tensor("w").toArray() == [1.5, -2, 1e-20])
    }
}

// MARK: Writer

@Suite("safetensors: writer")
struct SafeTensorsWriterTests {
    /// Must match SWIFT_WRITTEN in scripts/reference/safetensors/make_fixtures.py.
    static func swiftWritten() -> [String: SafeTensorsValue] {
        [
            "a.weight": .float32(Tensor(shape: [2, 3], values: [0.5, -1.25, 3.0, 1e-3, -0.0, 65504])),
            "b.bias": .float32(Tensor(shape: [3], values: [1, 2, 3])),
            "empty": .float32(Tensor(shape: [0, 4], values: [])),
            "ids": .int64(shape: [4], values: [0, 1, -7, 1 << 40]),
            "scalar": .float32(Tensor(scalar: 42)),
        ]
    }
    static let metadata = ["format": "pt", "producer": "PLMKit"]

    @Test("output is byte-identical to the file Python's safetensors verified")
    func goldenBytes() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("out.safetensors")
        try SafeTensors.write(values: Self.swiftWritten(), metadata: Self.metadata, to: url)
        if let extra = ProcessInfo.processInfo.environment["PLM_SAFETENSORS_ROUNDTRIP_OUT"] {
            try SafeTensors.write(values: Self.swiftWritten(), metadata: Self.metadata, to: URL(fileURLWithPath: extra))
        }
        let written = try Data(contentsOf: url)
        #expect(written == (try Data(contentsOf: try fixtureURL("swift_written.safetensors"))))
        #expect(Array(written) == (try SafeTensors.serialize(values: Self.swiftWritten(), metadata: Self.metadata)))
        // No temp files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["out.safetensors"])

        let n = written.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(n % 8 == 0)
        let file = try SafeTensorsFile(url: url)
        #expect(file.names == ["a.weight", "b.bias", "empty", "ids", "scalar"])
        #expect(file.metadata == Self.metadata)
        let a = try file.tensor("a.weight")
        #expect(a.shape == [2, 3])
        #expect(a.toArray().map(\.bitPattern) == [0.5, -1.25, 3.0, 1e-3, -0.0, 65504].map { Float($0).bitPattern })
        #expect(try file.int64("ids") == [0, 1, -7, 1 << 40])
        #expect(try file.tensor("scalar").shape == [])
        #expect(try file.tensor("empty").shape == [0, 4])
        #expect(file.info("ids")?.dtype == .i64)
    }

    @Test("round trip of F32 tensors, names sorted, no metadata")
    func roundTrip() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("rt.safetensors")
        let tensors: [String: Tensor] = [
            "z.last": Tensor(shape: [5], values: [1, 2, 3, 4, 5]),
            "a.first": Tensor(shape: [2, 2], values: [-1, .infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude]),
            "m \"quoted\"\n": Tensor(shape: [1], values: [7]),
        ]
        try SafeTensors.write(tensors, to: url)
        // Overwrite atomically with the same content: still one file.
        try SafeTensors.write(tensors, to: url)
        let file = try SafeTensorsFile(url: url)
        #expect(file.names == tensors.keys.sorted())
        #expect(file.metadata.isEmpty)
        for (name, t) in tensors {
            #expect(try file.tensor(name).toArray() == t.toArray())
            #expect(file.info(name)?.shape == t.shape)
        }
        // Data follows name order.
        #expect(file.info("a.first")?.dataOffsets == 0..<16)
        #expect(file.info("z.last")?.dataOffsets == 20..<40)
    }

    @Test("writer rejects the reserved name and inconsistent int64 values")
    func writerErrors() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("bad.safetensors")
        let e1 = safeTensorsError { try SafeTensors.write(["__metadata__": Tensor(scalar: 1)], to: url) }
        #expect(e1?.description.contains("__metadata__ is reserved") == true)
        let e2 = safeTensorsError { try SafeTensors.write(values: ["ids": .int64(shape: [3], values: [1, 2])], to: url) }
        #expect(e2?.description.contains("'ids'") == true)
        #expect(!FileManager.default.fileExists(atPath: url.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        let e3 = safeTensorsError {
            try SafeTensors.write(["x": Tensor(scalar: 1)], to: dir.appendingPathComponent("no/such/dir/x.safetensors"))
        }
        #expect(e3?.description.contains("cannot create") == true)
    }
}

// MARK: Bad inputs

@Suite("safetensors: invalid files give specific errors")
struct SafeTensorsValidationTests {
    let file = "crafted.safetensors"

    @Test func fileShorterThanLengthPrefix() {
        #expect(throws: SafeTensorsError.fileTooSmall(file: file, size: 5)) { try open([1, 0, 0, 0, 0]) }
        #expect(throws: SafeTensorsError.fileTooSmall(file: file, size: 0)) { try open([]) }
    }

    @Test func truncatedFileOnDisk() throws {
        let url = try fixtureURL("golden.safetensors")
        var image = Array(try Data(contentsOf: url))
        image.removeLast(3)
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cut = dir.appendingPathComponent("cut.safetensors")
        try Data(image).write(to: cut)
        let e = safeTensorsError { _ = try SafeTensorsFile(url: cut) }
        // f16.values is the last tensor in the python file's data buffer.
        guard case let .dataTruncated(f, tensor, end, length)? = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(f == cut.path && tensor == "f16.values" && end == length + 3)
        #expect(e!.description.contains("truncated file") && e!.description.contains(cut.path))

        let empty = dir.appendingPathComponent("empty.safetensors")
        try Data().write(to: empty)
        #expect(throws: SafeTensorsError.fileTooSmall(file: empty.path, size: 0)) { _ = try SafeTensorsFile(url: empty) }
        let missing = dir.appendingPathComponent("missing.safetensors")
        let e2 = safeTensorsError { _ = try SafeTensorsFile(url: missing) }
        #expect(e2?.description.contains(missing.path) == true)
    }

    @Test func headerLengthLargerThanFile() {
        var image = craft(#"{}"#, padding: 6, data: [])
        image[0] = 0xE8; image[1] = 0x03   // 1000
        #expect(throws: SafeTensorsError.headerBeyondFile(file: file, headerLength: 1000, fileSize: 16)) { try open(image) }
        var huge = image
        huge[0] = 0; huge[1] = 0xC2; huge[2] = 0xEB; huge[3] = 0x0B  // 200_000_000
        #expect(throws: SafeTensorsError.headerTooLarge(file: file, headerLength: 200_000_000, limit: 100_000_000)) {
            try open(huge)
        }
    }

    @Test func headerNotJSONObject() {
        let e1 = safeTensorsError { _ = try open(craft(#"[1, 2]"#, data: [])) }
        #expect(e1 == .invalidHeader(file: file, reason: "expected a JSON object, found array"))
        let e2 = safeTensorsError { _ = try open(craft(#"{"a": {"dtype": "F32",}"#, data: [])) }
        #expect(e2?.description.contains("JSON syntax error") == true)
        let e3 = safeTensorsError { _ = try open(craft("{\"\u{FF}\": 1}", data: []).map { $0 == 0xC3 ? 0xFF : $0 }) }
        #expect(e3 == .invalidHeader(file: file, reason: "not valid UTF-8"))
        let e4 = safeTensorsError { _ = try open(craft(#"{} x"#, data: [])) }
        #expect(e4?.description.contains("trailing characters") == true)
    }

    @Test func emptyHeaderObjectIsValid() throws {
        let f = try open(craft("{}", padding: 6, data: []))
        #expect(f.names.isEmpty && f.metadata.isEmpty)
        #expect(throws: SafeTensorsError.tensorNotFound(file: file, tensor: "x")) { try f.tensor("x") }
    }

    @Test func byteLengthDisagreesWithShape() {
        let h = #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#
        let e = safeTensorsError { _ = try open(craft(h, data: [UInt8](repeating: 0, count: 12))) }
        #expect(e == .byteLengthMismatch(file: file, tensor: "w", dtype: "F32", shape: [2, 2], expectedBytes: 16, actualBytes: 12))
        #expect(e?.description == "safetensors crafted.safetensors: tensor 'w' (F32 [2, 2]) needs 16 bytes but its data_offsets span 12")
    }

    @Test func gapBetweenTensors() {
        let h = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#
        #expect(throws: SafeTensorsError.gap(file: file, before: "b", begin: 8, end: 12)) {
            try open(craft(h, data: [UInt8](repeating: 0, count: 20)))
        }
        // Trailing bytes after the last tensor.
        let h2 = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let e = safeTensorsError { _ = try open(craft(h2, data: [UInt8](repeating: 0, count: 10))) }
        #expect(e == .gap(file: file, before: nil, begin: 8, end: 10))
        #expect(e?.description.contains("trailing bytes") == true)
        // A gap at the very start.
        let h3 = #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(throws: SafeTensorsError.gap(file: file, before: "a", begin: 0, end: 4)) {
            try open(craft(h3, data: [UInt8](repeating: 0, count: 8)))
        }
    }

    @Test func overlappingTensors() {
        let h = #"{"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        let e = safeTensorsError { _ = try open(craft(h, data: [UInt8](repeating: 0, count: 12))) }
        #expect(e == .overlap(file: file, tensor: "b", other: "a"))
        #expect(e?.description.contains("'a' and 'b' overlap") == true)
        // Two tensors on exactly the same bytes.
        let h2 = #"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        #expect(throws: SafeTensorsError.overlap(file: file, tensor: "y", other: "x")) {
            try open(craft(h2, data: [UInt8](repeating: 0, count: 4)))
        }
    }

    @Test func duplicateTensorNames() {
        let h = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        let e = safeTensorsError { _ = try open(craft(h, data: [UInt8](repeating: 0, count: 8))) }
        #expect(e == .duplicateName(file: file, tensor: "w"))
        #expect(e?.description.contains("duplicate tensor name 'w'") == true)
        // Escapes are decoded before comparing: "\u0077" is "w".
        let h2 = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\u0077":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        #expect(throws: SafeTensorsError.duplicateName(file: file, tensor: "w")) {
            try open(craft(h2, data: [UInt8](repeating: 0, count: 8)))
        }
    }

    @Test func unsupportedDTypes() throws {
        let h = #"{"mask":{"dtype":"BOOL","shape":[4],"data_offsets":[0,4]},"n":{"dtype":"I32","shape":[1],"data_offsets":[4,8]},"w":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        let f = try open(craft(h, data: [1, 0, 1, 1, 7, 0, 0, 0] + bytes(of: [2.5])))
        #expect(f.info("mask")?.dtype == .bool && f.info("n")?.dtype == .i32)
        #expect(try f.tensor("w").toArray() == [2.5])
        let e = safeTensorsError { _ = try f.tensor("n") }
        #expect(e == .unsupportedDType(file: file, tensor: "n", dtype: "I32"))
        #expect(e?.description.contains("tensor 'n' has unsupported dtype I32") == true)
        #expect(throws: SafeTensorsError.unsupportedDType(file: file, tensor: "mask", dtype: "BOOL")) { try f.tensor("mask") }
        #expect(throws: SafeTensorsError.wrongDType(file: file, tensor: "w", dtype: "F32", requested: "I64")) { try f.int64("w") }
        #expect(throws: SafeTensorsError.tensorNotFound(file: file, tensor: "nope")) { try f.int64("nope") }
        // A dtype the spec does not know fails on open (its size is unknown).
        let h2 = #"{"q":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,1]}}"#
        #expect(throws: SafeTensorsError.unsupportedDType(file: file, tensor: "q", dtype: "Q4_K")) {
            try open(craft(h2, data: [0]))
        }
    }

    @Test func missingTensorRequested() throws {
        let f = try SafeTensorsFile(url: try fixtureURL("golden.safetensors"))
        let e = safeTensorsError { _ = try f.tensor("esm.encoder.layer.0.attention.self.query.weight") }
        guard case let .tensorNotFound(path, name)? = e else { Issue.record("got \(String(describing: e))"); return }
        #expect(path.hasSuffix("golden.safetensors") && name == "esm.encoder.layer.0.attention.self.query.weight")
        #expect(e!.description.contains("no tensor named 'esm.encoder.layer.0.attention.self.query.weight'"))
    }

    @Test func malformedEntries() {
        let cases: [(String, String)] = [
            (#"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, "missing 'dtype'"),
            (#"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, "missing 'shape'"),
            (#"{"w":{"dtype":"F32","shape":[1]}}"#, "missing 'data_offsets'"),
            (#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, "non-negative integers"),
            (#"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, "non-negative integers"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}"#, "[begin, end]"),
            (#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, "end before they begin"),
            (#"{"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}"#, "'dtype' must be a string"),
            (#"{"w":[1,2]}"#, "entry must be an object"),
            (#"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}}"#, "too many elements"),
        ]
        for (header, message) in cases {
            let e = safeTensorsError { _ = try open(craft(header, data: [0, 0, 0, 0])) }
            guard case let .invalidEntry(_, tensor, reason)? = e else { Issue.record("\(header): got \(String(describing: e))"); continue }
            #expect(tensor == "w")
            #expect(reason.contains(message), "\(header): \(reason)")
        }
    }

    @Test func metadataMustBeStrings() {
        let e = safeTensorsError { _ = try open(craft(#"{"__metadata__":{"epoch":3}}"#, data: [])) }
        #expect(e == .invalidMetadata(file: file, reason: "value of 'epoch' must be a string, found number"))
        let e2 = safeTensorsError { _ = try open(craft(#"{"__metadata__":{"a":"1","a":"2"}}"#, data: [])) }
        #expect(e2 == .invalidMetadata(file: file, reason: "duplicate key 'a'"))
        let ok = try? open(craft(#"{"__metadata__":{"k":"\ud83e\uddec \"x\"\n"}}"#, data: []))
        #expect(ok?.metadata["k"] == "\u{1F9EC} \"x\"\n")
    }
}

// MARK: Strict parameter loading

@Suite("safetensors: strict parameter loading")
struct ParameterLoadingTests {
    func esmLikeFile(_ dir: URL) throws -> SafeTensorsFile {
        let url = dir.appendingPathComponent("model.safetensors")
        try SafeTensors.write(values: [
            "esm.embeddings.word_embeddings.weight": .float32(Tensor.ones([33, 4])),
            "esm.embeddings.position_ids": .int64(shape: [1, 8], values: (0..<8).map(Int64.init)),
            "esm.encoder.layer.0.attention.self.query.weight": .float32(Tensor.full([4, 4], 0.5)),
            "esm.encoder.layer.0.attention.self.query.bias": .float32(Tensor.zeros([4])),
            "lm_head.decoder.weight": .float32(Tensor.ones([33, 4])),
            "lm_head.bias": .float32(Tensor.zeros([33])),
        ], to: url)
        return try SafeTensorsFile(url: url)
    }

    let model: [String: [Int]] = [
        "esm.embeddings.word_embeddings.weight": [33, 4],
        "esm.encoder.layer.0.attention.self.query.weight": [4, 4],
        "esm.encoder.layer.0.attention.self.query.bias": [4],
        "esm.encoder.layer.0.attention.self.rotary_embeddings.inv_freq": [1],
        "lm_head.bias": [33],
    ]

    @Test("strict policy reports missing, unused and shape mismatches together")
    func strictReport() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try esmLikeFile(dir)
        var expected = model
        expected["esm.encoder.layer.0.attention.self.query.bias"] = [8]
        expected["contact_head.regression.weight"] = [1, 4]
        do {
            _ = try file.loadParameters(expected)
            Issue.record("expected a ParameterMismatchError")
        } catch let e as ParameterMismatchError {
            #expect(e.missing == ["contact_head.regression.weight",
                                  "esm.encoder.layer.0.attention.self.rotary_embeddings.inv_freq"])
            #expect(e.unused == ["esm.embeddings.position_ids", "lm_head.decoder.weight"])
            #expect(e.shapeMismatches == [.init(name: "esm.encoder.layer.0.attention.self.query.bias", expected: [8], found: [4])])
            #expect(e.description.contains("shape mismatch: esm.encoder.layer.0.attention.self.query.bias: model [8], file [4]"))
            #expect(e.description.contains("missing (2): contact_head.regression.weight"))
            #expect(e.description.contains("unused (2): esm.embeddings.position_ids, lm_head.decoder.weight"))
            #expect(e.description.contains("model.safetensors"))
        }
    }

    @Test("the HF ESM policy allows the tied decoder, position_ids and inv_freq")
    func esmPolicy() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try esmLikeFile(dir)
        #expect(file.checkParameters(model, policy: .huggingFaceESM).isEmpty)
        let params = try file.loadParameters(model, policy: .huggingFaceESM)
        #expect(params.keys.sorted() == [
            "esm.embeddings.word_embeddings.weight",
            "esm.encoder.layer.0.attention.self.query.bias",
            "esm.encoder.layer.0.attention.self.query.weight",
            "lm_head.bias",
        ])
        #expect(params["esm.encoder.layer.0.attention.self.query.weight"]?.toArray() == [Float](repeating: 0.5, count: 16))
        // A model that keeps its own decoder weight also loads it.
        var withDecoder = model
        withDecoder["lm_head.decoder.weight"] = [33, 4]
        #expect(try file.loadParameters(withDecoder, policy: .huggingFaceESM)["lm_head.decoder.weight"]?.shape == [33, 4])
        // Policies do not hide shape mismatches.
        var wrong = model
        wrong["lm_head.bias"] = [32]
        #expect(file.checkParameters(wrong, policy: .huggingFaceESM).shapeMismatches.map(\.name) == ["lm_head.bias"])
    }

    @Test func unreadableDTypeIsReported() throws {
        let h = #"{"w":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#
        let f = try open(craft(h, data: [1, 0, 0, 0]))
        let report = f.checkParameters(["w": [1]])
        #expect(report.unreadable.map(\.name) == ["w"] && report.unreadable.map(\.dtype) == ["I32"])
        #expect(report.description.contains("unsupported dtype: w is I32"))
    }

    @Test func globPatterns() {
        #expect(globMatch("a.*.c", "a.b.c"))
        #expect(globMatch("a.*.c", "a.1.2.c"))
        #expect(globMatch("*", ""))
        #expect(globMatch("esm.encoder.layer.*.attention.self.rotary_embeddings.inv_freq",
                          "esm.encoder.layer.11.attention.self.rotary_embeddings.inv_freq"))
        #expect(!globMatch("a.*.c", "a.b.d"))
        #expect(!globMatch("lm_head.bias", "lm_head.bias2"))
        #expect(globMatch("*bias", "x.bias") && !globMatch("*bias", "x.bias.y"))
    }
}
