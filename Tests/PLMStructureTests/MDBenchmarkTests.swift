import Dispatch
import Foundation
import Testing
@testable import PLMStructure

/// Per-frame SASA and DSSP timings on the shared trajectories (a benchmark, not a test:
/// it runs only with PLM_MD_BENCH=1, ideally in a release build:
///   PLM_MD_BENCH=1 swift test -c release --scratch-path .build-md --filter MDBenchmark
/// Compare with `/usr/bin/python3 scripts/reference/md/make_fixtures.py --bench` (MDTraj).
/// CPU time of the calling thread in ns (robust to other load on the machine).
func mdThreadCPUTime() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

@Suite("MDBenchmark", .enabled(if: ProcessInfo.processInfo.environment["PLM_MD_BENCH"] == "1"))
struct MDBenchmark {
    static let data = URL(fileURLWithPath: ProcessInfo.processInfo.environment["PLM_DATA"] ?? "/work/shared/data")
        .appendingPathComponent("trajectories")
    static let cases = [
        ("3tvj_I", "3tvj_I/3tvj_I.pdb", "3tvj_I/3tvj_I_10frames.dcd"),
        ("trpcage", "trpcage_1l2y/trpcage_1l2y.pdb", "trpcage_1l2y/trpcage_1l2y.xtc"),
        ("ubiquitin", "ubiquitin_1ubi/ubiquitin_1ubi.pdb", "ubiquitin_1ubi/ubiquitin_1ubi.xtc"),
        ("ala2", "ala2/native.pdb", "ala2/frame0.xtc"),
    ]

    @Test("single-thread SASA and DSSP per frame, and the whole pass")
    func perFrame() throws {
        print("[MDBENCH] trajectory   atoms  frames  sasa cpu-ms/frame  dssp cpu-ms/frame  full pass s (threads=all)  per-frame ms by feature (threads=1)")
        for (name, top, traj) in Self.cases {
            let topology = try MDTopology(contentsOf: Self.data.appendingPathComponent(top))
            let frames = try openTrajectory(Self.data.appendingPathComponent(traj)).readAll()
            let sr = MDShrakeRupley()
            let radii = try topology.sasaRadii(probe: 0.14)
            let m = topology.sasaAtoms.count
            let nm = frames.map { f in topology.sasaAtoms.flatMap { a in (0 ..< 3).map { f.positions[3 * Int(a) + $0] * Float(0.1) } } }
            let all = frames.map { $0.positions.map { $0 * Float(0.1) } }
            var areas = [Float](repeating: 0, count: m)
            var best = (Double.infinity, Double.infinity)
            for _ in 0 ..< 3 {
                var t0 = mdThreadCPUTime()
                for x in nm { sr.atomAreas(positions: x, radii: radii, count: m, areas: &areas) }
                let sasa = Double(mdThreadCPUTime() - t0) / 1e6 / Double(frames.count)
                var codes = [UInt8](repeating: 0, count: topology.dssp.count)
                t0 = mdThreadCPUTime()
                for x in all { MDDSSP.assign(positions: x, tables: topology.dssp, out: &codes) }
                let dssp = Double(mdThreadCPUTime() - t0) / 1e6 / Double(frames.count)
                best = (min(best.0, sasa), min(best.1, dssp))
            }
            let full = try MDFeatures.compute(topology: Self.data.appendingPathComponent(top),
                                              trajectory: Self.data.appendingPathComponent(traj))
            let one = try MDFeatures.compute(topology: Self.data.appendingPathComponent(top),
                                             trajectory: Self.data.appendingPathComponent(traj),
                                             options: MDFeatureOptions(threads: 1))
            let t = one.timings, f = Double(one.frameCount) / 1000
            print(String(format: "[MDBENCH] %-11@ %6d %7d %14.3f %14.4f %12.3f   read %.3f sup %.3f sasa %.3f dssp %.3f dih %.4f contacts %.3f",
                         name, topology.atomCount, frames.count, best.0, best.1, full.timings.total,
                         t.read / f, t.superposition / f, t.sasa / f, t.dssp / f, t.dihedrals / f, t.contacts / f))
        }
    }
}
