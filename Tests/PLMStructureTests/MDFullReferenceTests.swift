import Foundation
import Testing
@testable import PLMStructure

/// The by-hand comparison on every trajectory of the shared data folder (all frames):
///   /usr/bin/python3 scripts/reference/md/make_fixtures.py --full /tmp/md_full
///   PLM_MD_FULL_REFERENCE=/tmp/md_full swift test -c release --scratch-path .build-md --filter MDFullReference
/// Prints the agreement per feature and trajectory and applies the same tolerances as the fixture tests.
@Suite("MDFullReference", .enabled(if: ProcessInfo.processInfo.environment["PLM_MD_FULL_REFERENCE"] != nil))
struct MDFullReferenceTests {
    static let dir = URL(fileURLWithPath: ProcessInfo.processInfo.environment["PLM_MD_FULL_REFERENCE"] ?? "/tmp/md_full")
    static var names: [String] {
        guard let data = try? Data(contentsOf: dir.appendingPathComponent("index.json")),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: String] else { return [] }
        return obj.keys.sorted()
    }

    @Test("every shared trajectory matches MDTraj", arguments: names)
    func trajectory(_ name: String) throws {
        let data = try Data(contentsOf: Self.dir.appendingPathComponent(name + ".json"))
        let r = MDReferenceCase(name: name, json: jDict(try JSONSerialization.jsonObject(with: data)), base: nil)
        let f = try MDFeatures.compute(topology: r.topology, trajectory: r.trajectory, options: MDFeatureOptions(stride: r.stride))
        let top = try MDTopology(contentsOf: r.topology)
        let letters = try mdDSSPLetters(topology: top, trajectory: r.trajectory, stride: r.stride)
        let a = MDAgreement(f, r, frameLetters: letters)
        print("[MDFULL] \(name): \(f.frameCount) frames, L=\(f.residueCount), \(String(format: "%.2f", f.timings.total)) s: \(a)")
        #expect(f.frameCount == r.frames && f.residueCount == r.residues)
        #expect(a.rmsf <= 1e-4 && a.corr <= 1e-4)
        #expect(a.phi <= 1e-4 && a.psi <= 1e-4 && a.chi <= 1e-4)
        #expect(a.sasaMean <= 0.01 && a.sasaStd <= 0.01)
        #expect(a.dsspResidues >= 0.99 && a.dsspLetters >= 0.99)
        if r.contacts != nil {
            let c = MDContactAgreement(f, r)
            print("[MDFULL] \(name) contacts vs GetContacts: \(c)")
        }
    }
}
