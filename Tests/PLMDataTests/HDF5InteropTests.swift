import Foundation
import Testing
@testable import PLMData

private typealias S = HDF5TestSupport

/// Files written by h5py (scripts/reference/hdf5/make_fixtures.py) read exactly, and the
/// files the h5py side checks (`make_fixtures.py swift_store.h5 swift_dtypes.h5`) written
/// here. Set PLM_HDF5_INTEROP_OUT=<dir> to keep the Swift-written files for that check.
@Suite("HDF5 interop with h5py")
struct HDF5InteropTests {
    struct StoreExpected: Decodable {
        struct Protein: Decodable {
            let name, sequence, source, kind: String
            let length: Int
            let special_positions: [Int]
            let res_shape, pair_shape: [Int]
            let res, pair: [Float]
        }
        let proteins: [Protein]
    }

    struct DtypesExpected: Decodable {
        struct Dataset: Decodable {
            let dtype: String
            let shape: [Int]
            let values: [Double]?
            let int_values: [Int64]?
        }
        let datasets: [String: Dataset]
        let vlen_strings: [String]
        let fixed_strings: [String]
    }

    private func decode<T: Decodable>(_ name: String, as _: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: S.fixture(name))))
    }

    @Test("h5py-written SeqDance store reads exactly (values, -1 borders, metadata)")
    func readH5pyStore() throws {
        let expected = try decode("seqdance_h5py_expected.json", as: StoreExpected.self)
        #expect(expected.proteins.count == 2)
        let store = try SeqDanceFeatureStore(path: S.fixture("seqdance_h5py.h5"))
        #expect(store.names == expected.proteins.map(\.name))
        for p in expected.proteins {
            let rec = try store.read(p.name)
            #expect(rec.metadata == SeqDanceEntry(name: p.name, sequence: p.sequence, source: p.source,
                                                  kind: SeqDanceFeatureKind(rawValue: p.kind)!, length: p.length))
            #expect(rec.residue.shape == p.res_shape && rec.pair.shape == p.pair_shape)
            #expect(rec.residue.values.map(\.bitPattern) == p.res.map(\.bitPattern), "\(p.name) residue")
            #expect(rec.pair.values.map(\.bitPattern) == p.pair.map(\.bitPattern), "\(p.name) pair")
            #expect(SeqDanceTokenSpace.specialPositions(in: p.sequence) == p.special_positions)
            // Re-embedding the stripped interior reproduces h5py's token-space arrays exactly.
            let res = try SeqDanceTokenSpace.stripResidue(rec.residue), pair = try SeqDanceTokenSpace.stripPair(rec.pair)
            #expect(try SeqDanceTokenSpace.embedResidue(res, specialPositions: p.special_positions) == rec.residue)
            #expect(try SeqDanceTokenSpace.embedPair(pair, specialPositions: p.special_positions) == rec.pair)
        }
        #expect(store.names(kind: .nma) == ["prot_nma"])
        let md = try store.read("prot_md")
        // residue[i, k] = (i*47 + k)*0.125 - 2 in residue space; token row 2 = residue 1.
        #expect(md.residue[2, SeqDanceColumns.MDResidue.sasaStd] == Float((1 * 47 + 1) * 0.125 - 2))
        #expect(md.pair[1, 2, SeqDanceColumns.MDPair.corr] == Float(((0 * 5 + 1) * 10 + 9) * 0.0625 + 0.5))
    }

    @Test("appending to a copy of the h5py-written store keeps its proteins")
    func appendToH5pyStore() throws {
        let path = try S.temporaryPath("copy.h5")
        try FileManager.default.copyItem(atPath: S.fixture("seqdance_h5py.h5"), toPath: path)
        let before = try SeqDanceFeatureStore(path: path).read("prot_nma")
        let f = S.formulaFeatures(L: 3, kind: .md, 1, 0, 1, 0)
        do {
            let store = try SeqDanceFeatureStore(path: path, mode: .append)
            try store.write(protein: "added", residue: f.residue, pair: f.pair, kind: .md, sequence: "ACD", source: "mdCATH")
        }
        let store = try SeqDanceFeatureStore(path: path)
        #expect(store.names == ["prot_md", "prot_nma", "added"])
        #expect(try store.read("prot_nma") == before)
        #expect(try store.read("added").residue[1, 0] == 0 && store.names(source: "mdCATH") == ["added"])
    }

    @Test("h5py-written dtypes, strings, compression and attributes read exactly")
    func readH5pyDtypes() throws {
        let expected = try decode("dtypes_h5py_expected.json", as: DtypesExpected.self)
        let file = try HDF5File.open(S.fixture("dtypes_h5py.h5"))
        #expect(expected.datasets.count == 8)
        for (name, e) in expected.datasets.sorted(by: { $0.key < $1.key }) {
            switch e.dtype {
            case "float32":
                let a = try file.read(name, as: Float.self)
                #expect(a.shape == e.shape && a.values.map(\.bitPattern) == e.values!.map { Float($0).bitPattern }, "\(name)")
            case "float64":
                let a = try file.read(name, as: Double.self)
                #expect(a.shape == e.shape && a.values.map(\.bitPattern) == e.values!.map(\.bitPattern), "\(name)")
            case "int32":
                let a = try file.read(name, as: Int32.self)
                #expect(a.shape == e.shape && a.values.map(Int64.init) == e.int_values!, "\(name)")
            case "int64":
                #expect(try file.read(name, as: Int64.self) == HDF5Array(shape: e.shape, values: e.int_values!), "\(name)")
            case "uint8":
                let a = try file.read(name, as: UInt8.self)
                #expect(a.shape == e.shape && a.values.map(Int64.init) == e.int_values!, "\(name)")
            default:
                Issue.record("unexpected dtype \(e.dtype) for \(name)")
            }
        }
        #expect(try file.read("scalar_f64", as: Double.self) == HDF5Array(shape: [], values: [-0.75]))
        let info = try file.dataset("compressed").info()
        #expect(info.gzipLevel == 4 && info.shuffle && info.chunks == [25, 10])
        #expect(try file.readStrings("vlen_strings").values == expected.vlen_strings)
        #expect(try file.readStrings("fixed_strings").values == expected.fixed_strings)
        #expect(try file.dataset("fixed_strings").info().dataType == .string(variableLength: false, size: 5, utf8: false))
        #expect(try file.stringAttribute("title") == "h5py fixture ✓")
        #expect(try file.intAttribute("version") == 3)
        #expect(try file.doubleAttribute("scale") == 0.5)
        #expect(try file.floatArrayAttribute("vec") == [1, -2.5, 3.25])
        #expect(try file.attribute("ints") == .ints([1, 2, 3]))
        #expect(try file.group("grp").stringAttribute("note") == "nested")
        #expect(try file.dataset("f32").stringAttribute("units") == "nm")
        #expect(try file.group("grp").childNames() == ["sub"])
        // h5py's int32 dataset read as float is refused by default.
        #expect(S.hdf5Error { _ = try file.read("i32", as: Float.self) }?.kind == .typeMismatch)
    }

    /// Where the Swift-written interop files go: PLM_HDF5_INTEROP_OUT if set, else a temp dir.
    private func outputDirectory() throws -> URL {
        if let dir = ProcessInfo.processInfo.environment["PLM_HDF5_INTEROP_OUT"], !dir.isEmpty {
            let url = URL(fileURLWithPath: dir)
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
            return url
        }
        return try S.temporaryDirectory()
    }

    @Test("writes swift_store.h5 (two sessions) for the h5py check; content as make_fixtures.py expects")
    func writeSwiftStore() throws {
        let path = try outputDirectory().appendingPathComponent("swift_store.h5").path
        let specs: [(String, String, String, SeqDanceFeatureKind, (Double, Double, Double, Double))] = [
            ("alpha", "MKTAY", "ATLAS", .md, (0.125, -2, 0.0625, 0.5)),
            ("beta", "GS<eos><cls>AVL", "proteinflow_pdb", .nma, (0.5, 1, 0.25, -3)),
            ("gamma", "PEP", "IDRome", .md, (-0.25, 4, 0.125, -1.5)),
        ]
        func put(_ store: SeqDanceFeatureStore, _ s: (String, String, String, SeqDanceFeatureKind, (Double, Double, Double, Double))) throws {
            let f = S.formulaFeatures(L: SeqDanceTokenSpace.tokenCount(s.1), kind: s.3, s.4.0, s.4.1, s.4.2, s.4.3)
            try store.write(protein: s.0, residue: f.residue, pair: f.pair, kind: s.3, sequence: s.1, source: s.2)
        }
        do {
            let store = try SeqDanceFeatureStore(path: path, mode: .truncate)
            try put(store, specs[0])
            try put(store, specs[1])
        }
        do {
            let store = try SeqDanceFeatureStore(path: path, mode: .append)
            try put(store, specs[2])
        }
        let store = try SeqDanceFeatureStore(path: path)
        #expect(store.names == ["alpha", "beta", "gamma"])
        #expect(store.names(kind: .md) == ["alpha", "gamma"])
        #expect(try store.read("gamma").residue[1, 0] == 4)
    }

    @Test("writes swift_dtypes.h5 for the h5py check; content as make_fixtures.py expects")
    func writeSwiftDtypes() throws {
        let path = try outputDirectory().appendingPathComponent("swift_dtypes.h5").path
        do {
            let f = try HDF5File.create(path)
            let f32 = try f.write("f32", [Float(1.5), -2.25, 0, 1e-30, -0.0, .greatestFiniteMagnitude], shape: [2, 3])
            try f32.setAttribute("units", "nm")
            try f.write("f64", [0.1, -1e-300, 1e300, 1.0 / 3.0], shape: [4])
            try f.write("i32", [Int32(0), -1, .max, .min], shape: [2, 2])
            try f.write("i64", [Int64(0), 1 << 40 + 1, -(1 << 62)], shape: [3])
            try f.write("u8", [UInt8(0), 1, 127, 128, 255], shape: [5])
            try f.write("scalar_f64", [-0.75], shape: [])
            try f.write("nested/deeper/data3d", (0 ..< 24).map { Float($0) * 0.5 - 3 }, shape: [2, 3, 4])
            try f.group("nested").setAttribute("note", "group attr")
            try f.write("compressed", (0 ..< 64 * 32).map { Float($0) * 0.25 }, shape: [64, 32], options: .compressed(level: 5))
            try f.writeStrings("vlen_strings", ["alpha", "βeta", "", "γ ✓"])
            try f.writeStrings("fixed_strings", ["ab", "hello", ""], fixedLength: 5)
            try f.write("deleted", [Float(1)], shape: [1])
            try f.delete("deleted")
            try f.write("overwritten", [Float(1)], shape: [1])
            try f.write("overwritten", [Int32(9), 8, 7], shape: [3], overwrite: true)
            try f.setAttribute("title", "Swift ✓")
            try f.setAttribute("version", 7)
            try f.setAttribute("scale", 0.125)
            try f.setAttribute("vec", [Float(1), -2.5, 3.25])
            try f.setAttribute("tags", ["x", "yé"])
        }
        let f = try HDF5File.open(path)
        #expect(try f.childNames() == ["compressed", "f32", "f64", "fixed_strings", "i32", "i64", "nested", "overwritten",
                                       "scalar_f64", "u8", "vlen_strings"])
        #expect(try f.read("overwritten", as: Int32.self).values == [9, 8, 7])
    }
}
