import Foundation
import Testing
@testable import PLMStructure

/// Minimal safetensors reader for the NMA / contact-map fixtures (F64, F32, I64, little-endian),
/// written by scripts/reference/nma/make_fixtures.py.
struct FixtureTensors {
    struct Entry { var dtype: String; var shape: [Int]; var range: Range<Int> }
    let entries: [String: Entry]
    let metadata: [String: String]
    private let data: Data
    private let base: Int

    init(_ url: URL) throws {
        data = try Data(contentsOf: url)
        let n = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        base = 8 + n
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8 ..< 8 + n)) as! [String: Any]
        var e: [String: Entry] = [:]
        var meta: [String: String] = [:]
        for (k, v) in header {
            if k == "__metadata__" { meta = v as! [String: String]; continue }
            let d = v as! [String: Any]
            let off = (d["data_offsets"] as! [NSNumber]).map(\.intValue)
            e[k] = Entry(dtype: d["dtype"] as! String, shape: (d["shape"] as! [NSNumber]).map(\.intValue), range: off[0] ..< off[1])
        }
        entries = e
        metadata = meta
    }

    init(fixture name: String) throws { try self.init(Fixtures.url("nma/" + name)) }

    func shape(_ name: String) -> [Int] { entries[name]!.shape }

    private func raw<T>(_ name: String, _ dtype: String, _ type: T.Type) -> [T] {
        guard let e = entries[name] else { fatalError("fixture tensor '\(name)' missing") }
        precondition(e.dtype == dtype, "\(name) is \(e.dtype), not \(dtype)")
        let count = e.range.count / MemoryLayout<T>.size
        return data.subdata(in: base + e.range.lowerBound ..< base + e.range.upperBound).withUnsafeBytes { buf in
            (0 ..< count).map { buf.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) }
        }
    }

    func doubles(_ name: String) -> [Double] { raw(name, "F64", Double.self) }
    func floats(_ name: String) -> [Float] { raw(name, "F32", Float.self) }
    func ints(_ name: String) -> [Int] { raw(name, "I64", Int64.self).map { Int($0) } }
}

/// Deviation summary of `actual` vs `expected`: largest absolute difference, largest difference
/// relative to |expected| (elements with |expected| >= `floor`), and the first element failing
/// `|a - e| <= rtol * max(|e|, floor)`.
struct Deviation: CustomStringConvertible {
    var maxAbs = 0.0
    var maxRel = 0.0
    var firstBad: String?

    init(_ actual: [Double], _ expected: [Double], rtol: Double, floor: Double) {
        precondition(actual.count == expected.count, "length mismatch \(actual.count) vs \(expected.count)")
        for i in actual.indices {
            let d = abs(actual[i] - expected[i])
            maxAbs = max(maxAbs, d)
            let scale = max(abs(expected[i]), floor)
            maxRel = max(maxRel, d / scale)
            if firstBad == nil && !(d <= rtol * scale) {
                firstBad = "index \(i): \(actual[i]) vs \(expected[i])"
            }
        }
    }

    var ok: Bool { firstBad == nil }
    var description: String { "max abs \(maxAbs), max rel \(maxRel)" + (firstBad.map { ", first bad \($0)" } ?? "") }
}

enum NMAFixtures {
    /// Reads a fixture structure the way SeqDance's NMA does (first altloc, first model).
    static func structure(_ name: String) throws -> Structure {
        try Structure.read(contentsOf: Fixtures.url("nma/" + name), options: StructureReadOptions(altLocs: .first, firstModelOnly: true))
    }

    /// Features of a fixture structure, memoised per process (the 1TIM ANM takes a second).
    nonisolated(unsafe) private static var cache: [String: NMAFeatures] = [:]
    private static let lock = NSLock()
    static func features(_ name: String) throws -> NMAFeatures {
        lock.lock()
        defer { lock.unlock() }
        if let f = cache[name] { return f }
        let f = try SeqDanceNMA.features(caCoordinates: try structure(name).caTrace().coordinates)
        cache[name] = f
        return f
    }
}
