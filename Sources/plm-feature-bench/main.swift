// Feature benchmark (not a test): CPU time per frame of each MD feature step on the
// shared trajectories, the whole `plm prepare md` pass, and SeqDance NMA on a ~120
// and a ~500 residue structure. The reference numbers come from
//   /usr/bin/python3 scripts/reference/md/make_fixtures.py --bench [--json]   (MDTraj)
//   OPENBLAS_NUM_THREADS=1 /usr/bin/python3 scripts/reference/nma/bench_prody.py ...   (ProDy)
// Results and the table: docs/FEATURES.md.
//
//   swift build -c release --product plm-feature-bench && swift build -c release --product plm
//   .build/release/plm-feature-bench [--data DIR] [--repeat N] [--plm PATH] [--json] [--md-only|--nma-only]
//
// All times are CPU times (thread CPU time for single-threaded steps, process or child
// CPU time, user + system, for whole passes), best of --repeat runs (per-frame steps: and
// of as many runs as fill 0.3 s), so they stay comparable on a machine shared with other work.
import COpenBLAS
import Foundation
import PLMStructure

struct Options {
    var data = ProcessInfo.processInfo.environment["PLM_DATA"] ?? "/work/shared/data"
    var repeats = 3
    var json = false
    var md = true, nma = true
    var plm: String? = nil
    /// Only these per-frame steps (and no whole passes); nil = everything.
    var steps: [MDFeatureBenchmark.Step]? = nil
    /// Print a digest of the DSSP and SASA outputs per trajectory.
    var digest = false
}

func parse() -> Options {
    var o = Options()
    var args = Array(CommandLine.arguments.dropFirst())
    while !args.isEmpty {
        let a = args.removeFirst()
        switch a {
        case "--data": o.data = args.removeFirst()
        case "--repeat": o.repeats = max(1, Int(args.removeFirst()) ?? 3)
        case "--plm": o.plm = args.removeFirst()
        case "--json": o.json = true
        case "--digest": o.digest = true
        case "--steps":
            o.steps = args.removeFirst().split(separator: ",").map {
                guard let s = MDFeatureBenchmark.Step(rawValue: String($0)) else {
                    FileHandle.standardError.write(Data("unknown step '\($0)'\n".utf8)); exit(2)
                }
                return s
            }
            o.nma = false
        case "--md-only": o.nma = false
        case "--nma-only": o.md = false
        case "-h", "--help":
            print("usage: plm-feature-bench [--data DIR] [--repeat N] [--plm PATH] [--json] [--md-only|--nma-only] [--steps dssp,sasa,...]")
            exit(0)
        default:
            FileHandle.standardError.write(Data("unknown argument '\(a)'\n".utf8)); exit(2)
        }
    }
    if o.plm == nil {
        // `plm` from the same build directory, if it was built.
        let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("plm").path
        if FileManager.default.isExecutableFile(atPath: sibling) { o.plm = sibling }
    }
    return o
}

/// CPU seconds (user + system) of terminated children so far.
func childCPUSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) * 1e-6
        + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) * 1e-6
}

/// Runs `plm args...` and returns its CPU seconds (user + system), or nil if it failed.
func runPLM(_ plm: String, _ args: [String]) -> Double? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: plm)
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    let c0 = childCPUSeconds()
    do { try p.run() } catch { return nil }
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { return nil }
    return childCPUSeconds() - c0
}

func best(_ n: Int, _ body: () throws -> Double) rethrows -> Double {
    var b = Double.infinity
    for _ in 0 ..< n { b = min(b, try body()) }
    return b
}

/// Best of at least `n` runs and of as many as fill 0.3 s of CPU time (cheap steps are noisy
/// on a busy machine); `body` returns the seconds of one run.
func bestOf(_ n: Int, _ body: () -> Double) -> Double {
    var b = Double.infinity, total = 0.0, runs = 0
    while runs < n || total < 0.3 {
        let t = body()
        b = min(b, t); total += t; runs += 1
    }
    return b
}

func loadAverage() -> [Double] {
    var l = [Double](repeating: 0, count: 3)
    return getloadavg(&l, 3) == 3 ? l : []
}

let opts = parse()
let data = URL(fileURLWithPath: opts.data)
var report: [String: Any] = [:]
let coreName = openblas_get_corename().map { String(cString: $0) } ?? "unknown"
report["openblas_core"] = coreName
report["cpus"] = ProcessInfo.processInfo.activeProcessorCount
report["repeat"] = opts.repeats
report["load_average_start"] = loadAverage()
report["time_unit"] = "CPU milliseconds (best of repeat)"
if !opts.json {
    print("plm-feature-bench: CPU ms, best of \(opts.repeats); OpenBLAS core \(coreName); \(ProcessInfo.processInfo.activeProcessorCount) CPUs; load average \(loadAverage().map { String(format: "%.2f", $0) }.joined(separator: " "))")
}

let mdCases = [
    ("3tvj_I_dcd", "3tvj_I/3tvj_I.pdb", "3tvj_I/3tvj_I_10frames.dcd"),
    ("trpcage_xtc", "trpcage_1l2y/trpcage_1l2y.pdb", "trpcage_1l2y/trpcage_1l2y.xtc"),
    ("ubiquitin_xtc", "ubiquitin_1ubi/ubiquitin_1ubi.pdb", "ubiquitin_1ubi/ubiquitin_1ubi.xtc"),
    ("ala2_xtc", "ala2/native.pdb", "ala2/frame0.xtc"),
]
let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("plm-feature-bench-\(getpid())")
try? FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: tmp) }

if opts.md {
    var rows: [[String: Any]] = []
    if !opts.json {
        print("\nMD, per frame (1 thread):")
        print("trajectory      atoms   res frames  superpose      sasa      dssp  dihedrals  contacts | pass/frame (in-process) | plm prepare md (process, s)")
    }
    for (name, top, traj) in mdCases {
        let topURL = data.appendingPathComponent("trajectories").appendingPathComponent(top)
        let trajURL = data.appendingPathComponent("trajectories").appendingPathComponent(traj)
        let topology = try MDTopology(contentsOf: topURL)
        let frames = try openTrajectory(trajURL).readAll().map(\.positions)
        let bench = try MDFeatureBenchmark(topology: topology, frames: frames)
        var steps: [String: Double] = [:]
        for step in MDFeatureBenchmark.Step.allCases {
            steps[step.rawValue] = opts.steps.map { $0.contains(step) } ?? true
                ? bestOf(opts.repeats) { bench.cpuSecondsPerFrame(step) * Double(bench.frameCount) } / Double(bench.frameCount) * 1e3 : .nan
        }
        if opts.digest { print("\(name): \(bench.outputDigest)") }
        if opts.steps != nil {
            if !opts.json {
                let s = MDFeatureBenchmark.Step.allCases.map { String(format: "%9.4f", steps[$0.rawValue]!) }.joined(separator: " ")
                print(name.padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: " %6d %5d %6d  ", topology.atomCount, topology.residueCount, frames.count) + s)
            }
            rows.append(["name": name, "frames": frames.count, "cpu_ms_per_frame": steps.filter { !$0.value.isNaN }])
            continue
        }
        // The whole pass in this process, one worker thread: read + every step + statistics.
        let pass = try best(opts.repeats) {
            let c0 = processCPUSeconds()
            _ = try MDFeatures.compute(topology: topURL, trajectory: trajURL, options: MDFeatureOptions(threads: 1))
            return processCPUSeconds() - c0
        }
        // The whole command (start-up, HDF5 output included).
        var command: Double? = nil
        if let plm = opts.plm {
            let out = tmp.appendingPathComponent("\(name).h5").path
            command = best(opts.repeats) {
                try? FileManager.default.removeItem(atPath: out)
                return runPLM(plm, ["prepare", "md", "--topology", topURL.path, "--trajectory", trajURL.path,
                                    "--out", out, "--threads", "1", "--quiet"]) ?? .infinity
            }
            if command == .infinity { command = nil }
        }
        var row: [String: Any] = ["name": name, "atoms": topology.atomCount, "residues": topology.residueCount,
                                  "frames": frames.count, "cpu_ms_per_frame": steps,
                                  "pass_cpu_ms_per_frame": pass * 1e3 / Double(frames.count),
                                  "contact_events_per_frame": bench.contactEventsPerFrame]
        if let command { row["prepare_md_cpu_s"] = command }
        rows.append(row)
        if !opts.json {
            let s = MDFeatureBenchmark.Step.allCases.map { String(format: "%9.4f", steps[$0.rawValue]!) }.joined(separator: " ")
            print(name.padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: " %6d %5d %6d  ", topology.atomCount, topology.residueCount, frames.count)
                  + s + String(format: "  | %10.4f              | %@", pass * 1e3 / Double(frames.count),
                               (command.map { String(format: "%.3f", $0) } ?? "(no plm binary)") as NSString))
        }
    }
    report["md"] = rows
}

if opts.nma {
    openblas_set_num_threads(1)
    var rows: [[String: Any]] = []
    if !opts.json { print("\nNMA (GNM + ANM, SeqDance features; OpenBLAS 1 thread):\nstructure  residues  read+NMA (process CPU ms) | plm prepare nma (process, LAPACK all cores, ms)") }
    for file in ["2G3R.pdb", "1TIM.pdb"] {
        let url = data.appendingPathComponent("structures").appendingPathComponent(file)
        var n = 0
        let t = try best(opts.repeats) {
            let c0 = processCPUSeconds()
            let trace = try Structure.read(contentsOf: url).caTrace()
            n = trace.coordinates.count
            _ = try SeqDanceNMA.features(caCoordinates: trace.coordinates)
            return processCPUSeconds() - c0
        }
        var command: Double? = nil
        if let plm = opts.plm {
            let out = tmp.appendingPathComponent("\(file).h5").path
            command = best(opts.repeats) {
                try? FileManager.default.removeItem(atPath: out)
                return runPLM(plm, ["prepare", "nma", "--structure", url.path, "--out", out, "--quiet"]) ?? .infinity
            }
            if command == .infinity { command = nil }
        }
        var row: [String: Any] = ["name": file, "residues": n, "cpu_ms": t * 1e3]
        if let command { row["prepare_nma_cpu_ms"] = command * 1e3 }
        rows.append(row)
        if !opts.json {
            print(file.padding(toLength: 10, withPad: " ", startingAt: 0) + String(format: " %8d  %12.1f              | %@", n, t * 1e3,
                         (command.map { String(format: "%.1f", $0 * 1e3) } ?? "(no plm binary)") as NSString))
        }
    }
    report["nma"] = rows
}
report["load_average_end"] = loadAverage()
if opts.json {
    let d = try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: d, as: UTF8.self))
} else {
    print("\nload average at the end: \(loadAverage().map { String(format: "%.2f", $0) }.joined(separator: " "))")
}
