import Foundation
import Testing
@testable import PLMStructure

/// Fixture files and the reference JSON written by scripts/reference/structure/make_reader_fixtures.py.
enum Fixtures {
    static let directory: URL = {
        if let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) { return url }
        return Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    }()

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    static let reference: [String: Any] = {
        let data = try! Data(contentsOf: url("reader_reference.json"))
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    static func structure(_ name: String) -> [String: Any] {
        (reference["structures"] as! [String: Any])[name] as! [String: Any]
    }

    static func trajectory(_ name: String) -> [String: Any] {
        (reference["trajectories"] as! [String: Any])[name] as! [String: Any]
    }

    /// A fresh temporary file holding `bytes`.
    static func temporaryFile(_ bytes: [UInt8], name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("plmstructure-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    static func bytes(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: url(name))) }
}

// JSON accessors (JSONSerialization gives NSNumber / NSArray / NSDictionary).
func jDict(_ v: Any?) -> [String: Any] { v as! [String: Any] }
func jArray(_ v: Any?) -> [Any] { v as! [Any] }
func jDouble(_ v: Any?) -> Double { (v as! NSNumber).doubleValue }
func jInt(_ v: Any?) -> Int { (v as! NSNumber).intValue }
func jString(_ v: Any?) -> String { v as! String }
func jDoubles(_ v: Any?) -> [Double] { jArray(v).map { jDouble($0) } }
/// Float32 values stored as exact doubles.
func jFloats(_ v: Any?) -> [Float] { jArray(v).map { Float(jDouble($0)) } }

/// Largest absolute difference; fails loudly on length mismatch.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length mismatch \(a.count) vs \(b.count)")
    var m: Float = 0
    for i in a.indices { m = max(m, abs(a[i] - b[i])) }
    return m
}

/// Index of the first differing element, for messages.
func firstMismatch(_ a: [Float], _ b: [Float]) -> String {
    for i in a.indices where a[i] != b[i] { return "index \(i): \(a[i]) vs \(b[i])" }
    return "none"
}

/// Runs `body` expecting a `StructureIOError`; returns it (nil and a recorded issue otherwise).
@discardableResult
func expectIOError(_ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation,
                   _ body: () throws -> Void) -> StructureIOError? {
    do {
        try body()
        Issue.record("expected a StructureIOError \(comment.map { "(\($0))" } ?? "")", sourceLocation: sourceLocation)
        return nil
    } catch let e as StructureIOError {
        return e
    } catch {
        Issue.record("expected a StructureIOError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Key that identifies an atom within a model (as the reference JSON samples it).
struct AtomKey: Hashable {
    var chain: String, resseq: Int, icode: String, resname: String, name: String
}

extension StructureModel {
    func atomLookup() -> [AtomKey: Atom] {
        var out: [AtomKey: Atom] = [:]
        for a in atoms {
            let k = AtomKey(chain: a.chainID, resseq: a.residueNumber, icode: a.insertionCode,
                            resname: a.residueName, name: a.name)
            if out[k] == nil { out[k] = a }
        }
        return out
    }
}
