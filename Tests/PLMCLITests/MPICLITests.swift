import Foundation
import PLMData
import PLMNN
import Testing

/// `mpirun` on PATH (Open MPI), or nil: the MPI tests are then skipped.
enum MPITestSupport {
    static let mpirun: String? = {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/usr/local/bin").split(separator: ":") {
            let p = "\(dir)/mpirun"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }()
    static var available: Bool { mpirun != nil }
    static let skipNote: Comment = "mpirun not found: install Open MPI (bash scripts/install-deps.sh) to run the MPI tests"

    static let quickstart = CLIFixtures.root.appendingPathComponent("recipes/quickstart.yaml").path

    /// Common `--set`s: a tiny quickstart run, no evaluation.
    static func sets(steps: Int, batch: Int, extra: [String] = []) -> [String] {
        (["training.steps=\(steps)", "training.batch_size=\(batch)", "training.eval_every=100000", "training.log_every=1"] + extra)
            .flatMap { ["--set", $0] }
    }

    /// Starts `mpirun -np N plm ARGS` (one OpenBLAS/pool thread per rank) with output to files.
    static func start(np: Int, _ args: [String], mca: [String] = [], tag: String = "") throws -> (Process, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: mpirun!)
        p.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", "\(np)"] + mca
            + ["-x", "PLM_NUM_THREADS=1", "-x", "PLM_TEST_TAG=\(tag)", productsDirectory().appendingPathComponent("plm").path] + args
        var env = ProcessInfo.processInfo.environment
        env["PLM_NUM_THREADS"] = "1"
        p.environment = env
        let out = CLIFixtures.temp("mpi.out"), err = CLIFixtures.temp("mpi.err")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: out)
        p.standardError = FileHandle(forWritingAtPath: err)
        try p.run()
        return (p, out, err)
    }

    #if os(Linux)   // posix_spawn's attribute types differ on Darwin
    /// `mpirun -np N plm ARGS` spawned with no signal blocked, output to files.
    /// Foundation's `Process` passes on the calling thread's signal mask, and
    /// the test runner's threads (libdispatch workers) block SIGUSR1 & co., so
    /// an mpirun started that way never sees the SIGUSR1 a user's shell
    /// would deliver. Returns the pid; reap it with `waitExit`.
    static func spawnUnblocked(np: Int, _ args: [String], mca: [String] = []) throws -> (pid: pid_t, out: String, err: String) {
        let out = CLIFixtures.temp("mpi.out"), err = CLIFixtures.temp("mpi.err")
        let argv = [mpirun!, "--allow-run-as-root", "--oversubscribe", "-np", "\(np)"] + mca + ["-x", "PLM_NUM_THREADS=1",
                    productsDirectory().appendingPathComponent("plm").path] + args
        var env = ProcessInfo.processInfo.environment
        env["PLM_NUM_THREADS"] = "1"
        let cArgs = argv.map { strdup($0) } + [nil], cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &all)   // and no inherited SIG_IGN
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, mpirun!, &actions, &attr, cArgs, cEnv)
        guard rc == 0 else { throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "posix_spawn mpirun: \(rc)"]) }
        return (pid, out, err)
    }

    /// Exit status of `pid` once it ends within `seconds`, else nil (still running).
    static func waitExit(_ pid: pid_t, seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while Date() < deadline {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
            if r < 0 { return nil }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }
    #endif

    static func run(np: Int, _ args: [String], mca: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        let (p, o, e) = try start(np: np, args, mca: mca)
        p.waitUntilExit()
        defer { try? FileManager.default.removeItem(atPath: o); try? FileManager.default.removeItem(atPath: e) }
        return (p.terminationStatus, (try? String(contentsOfFile: o, encoding: .utf8)) ?? "", (try? String(contentsOfFile: e, encoding: .utf8)) ?? "")
    }

    /// Plain `plm` (no MPI) with one thread.
    static func single(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = productsDirectory().appendingPathComponent("plm")
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["PLM_NUM_THREADS"] = "1"
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// Largest difference between two model files relative to the largest
    /// magnitude, over the whole parameter vector and per tensor.
    static func compare(_ a: String, _ b: String) throws -> (global: Double, perTensor: [(String, Double)]) {
        let x = try SafeTensorsFile(url: URL(fileURLWithPath: a)).tensors(copy: true)
        let y = try SafeTensorsFile(url: URL(fileURLWithPath: b)).tensors(copy: true)
        #expect(Set(x.keys) == Set(y.keys))
        var num = 0.0, den = 0.0
        var per: [(String, Double)] = []
        for (k, t) in x {
            guard let u = y[k], u.count == t.count else { Issue.record("tensor \(k) missing or resized"); continue }
            var m = 0.0, d = 0.0
            for i in 0..<t.count {
                let p = Double(t.data[i]), q = Double(u.data[i])
                m = max(m, abs(p)); d = max(d, abs(p - q))
                num += (p - q) * (p - q); den += p * p
            }
            per.append((k, d / max(m, 1e-30)))
        }
        return ((num / max(den, 1e-300)).squareRoot(), per.sorted { $0.1 > $1.1 })
    }

    /// Pid of rank `rank` of the job started with PLM_TEST_TAG=tag.
    static func pid(ofRank rank: Int, tag: String) -> Int32? {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for n in names {
            guard let pid = Int32(n), let env = FileManager.default.contents(atPath: "/proc/\(n)/environ") else { continue }
            let vars = env.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if vars.contains("PLM_TEST_TAG=\(tag)") && vars.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }
}

@Suite("mpirun plm train (data-parallel)", .serialized, .enabled(if: MPITestSupport.available, MPITestSupport.skipNote))
struct MPICLITests {
    typealias S = MPITestSupport

    @Test("MLM: 2 ranks × batch 4 (TCP transport) equal 1 process × batch 8 after 3 steps")
    func mlmEquivalence() throws {
        let one = CLIFixtures.temp("mpi-eq1"), two = CLIFixtures.temp("mpi-eq2")
        defer { for d in [one, two] { try? FileManager.default.removeItem(atPath: d) } }
        let a = try S.single(["train", S.quickstart] + S.sets(steps: 3, batch: 8) + ["--out", one, "--quiet"])
        #expect(a.status == 0, "stderr: \(a.stderr)")
        // Force the TCP transport once, so the network path (not shared memory) is exercised.
        let b = try S.run(np: 2, ["train", S.quickstart] + S.sets(steps: 3, batch: 4) + ["--out", two, "--quiet"],
                          mca: ["--mca", "btl", "tcp,self"])
        #expect(b.status == 0, "stderr: \(b.stderr)")
        // rank 0 alone reports and writes
        #expect(b.stdout.components(separatedBy: "trained 3 steps").count == 2, "stdout: \(b.stdout)")
        #expect(b.stdout.contains("2 ranks"))
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: two + "/summary.json"))) as! [String: Any]
        #expect(summary["world_size"] as? Int == 2)
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: two + "/checkpoint-3/state.json"))) as! [String: Any]
        #expect(state["world_size"] as? Int == 2)
        let l1 = summary["final_loss"] as? Double ?? .nan
        let s1 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: one + "/summary.json"))) as! [String: Any]
        let l0 = s1["final_loss"] as? Double ?? .nan
        #expect(abs(l1 - l0) <= 1e-5 * abs(l0), "final loss: 1 process \(l0), 2 ranks \(l1)")
        // Logged metrics cover both ranks' rows: masks are drawn per global row, so each
        // step's masked-token count on 2 ranks (the mean of theirs) is half the single
        // process's (rank 0's own count alone would differ).
        func selected(_ run: String) throws -> [Double] {
            try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
                .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .filter { $0["split"] as? String == "train" }.compactMap { $0["mlm/selected"] as? Double }
        }
        let sel1 = try selected(one), sel2 = try selected(two)
        #expect(sel1.count == 3 && sel2 == sel1.map { $0 / 2 }, "mlm/selected: 1 process \(sel1), 2 ranks \(sel2)")
        let (global, per) = try S.compare(one + "/checkpoint-3/model.safetensors", two + "/checkpoint-3/model.safetensors")
        #expect(global < 1e-5, "relative L2 difference of all parameters: \(global)")
        // Attention key biases have an exactly zero gradient (softmax ignores a
        // per-query constant), so theirs is pure rounding noise that AdamW
        // normalises to lr-sized steps; every other tensor must agree closely.
        let worst = per.filter { !$0.0.hasSuffix("key.bias") }
        #expect((worst.first?.1 ?? 0) < 1e-4, "worst tensors: \(per.prefix(4))")
        print("MPI equivalence (MLM, 3 steps): relative L2 \(global); worst tensors \(per.prefix(3))")
    }

    @Test("contrastive (S-PLM): 2 ranks × batch 4 equal 1 process × batch 8 — gathered negatives, synchronised BatchNorm")
    func contrastiveEquivalence() throws {
        let one = CLIFixtures.temp("mpi-c1"), two = CLIFixtures.temp("mpi-c2")
        defer { for d in [one, two] { try? FileManager.default.removeItem(atPath: d) } }
        let recipe = CLIFixtures.root.appendingPathComponent("recipes/splm.yaml").path
        func sets(_ batch: Int) -> [String] {
            ["model.encoder={kind: esm2, layers: 1, hidden_size: 32, heads: 2}", "model.tuning.layers={top: 1}",
             "targets.0.patch_size=8", "targets.0.dim=16", "targets.0.depth=2", "targets.0.heads=2", "targets.0.window=2",
             "targets.0.projection_hidden=32", "targets.0.projection_dim=16", "data.max_length=64",
             "data.sources.0.validation_fraction=0", "training.steps=3", "training.batch_size=\(batch)",
             "training.log_every=1", "training.eval_every=1000"].flatMap { ["--set", $0] }
        }
        let a = try S.single(["train", recipe] + sets(8) + ["--out", one, "--quiet"])
        #expect(a.status == 0, "stderr: \(a.stderr)")
        // 10 kB buckets: the gradients go in many all-reduce buckets (the default 4 MB holds them all).
        let b = try S.run(np: 2, ["train", recipe] + sets(4) + ["--out", two, "--quiet"], mca: ["-x", "PLM_ALLREDUCE_BUCKET_MB=0.01"])
        #expect(b.status == 0, "stderr: \(b.stderr)")
        func norms(_ d: String) throws -> [Double] {
            try String(contentsOfFile: d + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
                .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .compactMap { $0["grad_norm"] as? Double }
        }
        let (n1, n2) = (try norms(one), try norms(two))
        #expect(n1.count == 3 && n2.count == 3)
        for (x, y) in zip(n1, n2) { #expect(abs(x - y) <= 1e-5 * x, "gradient norms \(n1) vs \(n2)") }
        for file in ["heads.safetensors", "adapters.safetensors"] {
            let (global, per) = try S.compare(one + "/checkpoint-3/" + file, two + "/checkpoint-3/" + file)
            #expect(global < 1e-5, "\(file): relative L2 difference \(global)")
            // The structure encoder's final LayerNorm bias shifts every row's
            // pooled embedding by one vector, which the projector's BatchNorm
            // subtracts again: its gradient is exactly zero, its update rounding noise.
            let worst = per.filter { !$0.0.hasSuffix("structure_encoder.norm.bias") }
            #expect((worst.first?.1 ?? 0) < 1e-4, "\(file): worst tensors \(per.prefix(4))")
            print("MPI equivalence (contrastive, 3 steps) \(file): relative L2 \(global); worst tensors \(per.prefix(3))")
        }
    }

    @Test("killing one rank ends the job within seconds; the checkpoint loads and --resume reaches the uninterrupted result")
    func killOneRank() throws {
        let ref = CLIFixtures.temp("mpi-ref"), run = CLIFixtures.temp("mpi-kill")
        defer { for d in [ref, run] { try? FileManager.default.removeItem(atPath: d) } }
        let steps = 40   // the schedule depends on training.steps: the killed run uses the same recipe (~25 ms a step)
        let set = S.sets(steps: steps, batch: 4, extra: ["training.checkpoint_every=2"])
        let r = try S.run(np: 2, ["train", S.quickstart] + set + ["--out", ref, "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")

        let tag = UUID().uuidString
        let (p, _, errFile) = try S.start(np: 2, ["train", S.quickstart] + set + ["--out", run, "--quiet"], tag: tag)
        defer { if p.isRunning { p.terminate() } }
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline && !FileManager.default.fileExists(atPath: run + "/checkpoint-2/state.json") && p.isRunning {
            Thread.sleep(forTimeInterval: 0.1)
        }
        guard let victim = S.pid(ofRank: 1, tag: tag) else { Issue.record("rank 1 not found"); return }
        kill(victim, SIGKILL)
        let killed = Date()
        while p.isRunning && Date().timeIntervalSince(killed) < 60 { Thread.sleep(forTimeInterval: 0.05) }
        let waited = Date().timeIntervalSince(killed)
        #expect(!p.isRunning, "the job still runs \(waited) s after a rank was killed")
        p.waitUntilExit()
        let stderr = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        #expect(p.terminationStatus != 0)
        #expect(waited < 15, "job took \(waited) s to end")
        #expect(stderr.contains("plm rank 0/2: SIGTERM from the MPI launcher"), "the survivor says what happened: \(stderr)")
        print("kill one rank: job ended \(String(format: "%.2f", waited)) s later with status \(p.terminationStatus)")

        // The newest checkpoint is complete and loads as a model.
        let saved = try FileManager.default.contentsOfDirectory(atPath: run).compactMap { $0.hasPrefix("checkpoint-") ? Int($0.dropFirst(11)) : nil }
        let last = try #require(saved.max())
        #expect(last < steps, "the killed run got to step \(last); make it slower or kill sooner")
        _ = try EsmForMaskedLM.load(directory: URL(fileURLWithPath: run + "/checkpoint-\(last)"))

        let resumed = try S.run(np: 2, ["train", S.quickstart] + set + ["--resume", run, "--quiet"])
        #expect(resumed.status == 0 && resumed.stdout.contains("trained \(steps) steps"), "stderr: \(resumed.stderr)")
        let (global, per) = try S.compare(ref + "/checkpoint-\(steps)/model.safetensors", run + "/checkpoint-\(steps)/model.safetensors")
        #expect(global == 0 && (per.first?.1 ?? 0) == 0, "resumed run differs from the uninterrupted one: \(global), \(per.prefix(3))")
    }

    @Test("a frozen rank (SIGSTOP): the other ends itself after PLM_MPI_STALL_SECONDS with a message, and the job ends")
    func frozenRank() throws {
        let run = CLIFixtures.temp("mpi-frozen")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let tag = "frozen-\(UUID().uuidString)"
        let (p, _, errFile) = try S.start(np: 2, ["train", S.quickstart] + S.sets(steps: 100_000, batch: 4) + ["--out", run, "--quiet"],
                                          mca: ["-x", "PLM_MPI_STALL_SECONDS=3"], tag: tag)
        var victim: pid_t? = nil
        defer {
            if let v = victim { kill(v, SIGKILL) }
            if p.isRunning { p.terminate() }
            try? FileManager.default.removeItem(atPath: errFile)
        }
        let deadline = Date().addingTimeInterval(300)
        func trainLines() -> Int {
            ((try? String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)) ?? "").components(separatedBy: "\"split\":\"train\"").count - 1
        }
        while Date() < deadline && trainLines() < 2 && p.isRunning { Thread.sleep(forTimeInterval: 0.05) }
        victim = S.pid(ofRank: 1, tag: tag)
        guard let v = victim else { Issue.record("rank 1 not found"); return }
        kill(v, SIGSTOP)
        let stopped = Date()
        while p.isRunning && Date().timeIntervalSince(stopped) < 60 { Thread.sleep(forTimeInterval: 0.1) }
        let waited = Date().timeIntervalSince(stopped)
        #expect(!p.isRunning, "the job still runs \(waited) s after a rank froze")
        let stderr = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        #expect(stderr.contains("plm rank 0/2: no progress for 3 s (PLM_MPI_STALL_SECONDS): a peer rank is stuck"), "stderr: \(stderr)")
        #expect(waited < 30, "job took \(waited) s to end")
        if !p.isRunning { #expect(p.terminationStatus != 0) }
        print("frozen rank: job ended \(String(format: "%.1f", waited)) s after SIGSTOP")
    }

    #if os(Linux)
    @Test("SIGUSR1 to mpirun: every rank stops after the same step, rank 0 saves it, exit 130; --resume reaches the uninterrupted result")
    func usr1Stop() throws {
        let ref = CLIFixtures.temp("mpi-usr1-ref"), run = CLIFixtures.temp("mpi-usr1")
        defer { for d in [ref, run] { try? FileManager.default.removeItem(atPath: d) } }
        let steps = 80   // ~25 ms a step: the signal lands mid-run
        let set = S.sets(steps: steps, batch: 4)
        let r = try S.run(np: 2, ["train", S.quickstart] + set + ["--out", ref, "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")

        let (pid, outFile, errFile) = try S.spawnUnblocked(np: 2, ["train", S.quickstart] + set + ["--out", run, "--quiet"])
        var status: Int32? = nil
        defer { if status == nil { kill(pid, SIGKILL); _ = S.waitExit(pid, seconds: 10) } }
        func trainLines() -> [[String: Any]] {
            ((try? String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .filter { $0["split"] as? String == "train" }
        }
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline && trainLines().count < 3 && kill(pid, 0) == 0 { Thread.sleep(forTimeInterval: 0.02) }
        kill(pid, SIGUSR1)
        status = S.waitExit(pid, seconds: 60)
        #expect(status != nil, "the job still runs a minute after SIGUSR1")
        let stderr = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        let stdout = (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? ""
        defer { try? FileManager.default.removeItem(atPath: outFile); try? FileManager.default.removeItem(atPath: errFile) }
        #expect(status == 130, "status \(String(describing: status)), stderr: \(stderr)")
        #expect(stderr.contains("SIGUSR1: finishing the current step and saving"), "stderr: \(stderr)")
        #expect(!stderr.contains("MPI_ABORT"), "an orderly stop must not abort the job: \(stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/summary.json"))) as? [String: Any])
        let stoppedAt = try #require(summary["steps"] as? Int)
        #expect(summary["interrupted"] as? Bool == true && stoppedAt >= 3 && stoppedAt < steps, "\(summary)")
        #expect(stderr.contains("interrupted: saved checkpoint-\(stoppedAt)") && stdout.contains("trained \(stoppedAt) steps"), "\(stdout) \(stderr)")
        #expect(trainLines().last?["step"] as? Int == stoppedAt)
        #expect(FileManager.default.fileExists(atPath: run + "/checkpoint-\(stoppedAt)/state.json"))

        let resumed = try S.run(np: 2, ["train", S.quickstart] + set + ["--resume", run, "--quiet"])
        #expect(resumed.status == 0 && resumed.stdout.contains("trained \(steps) steps"), "stderr: \(resumed.stderr)")
        let (global, per) = try S.compare(ref + "/checkpoint-\(steps)/model.safetensors", run + "/checkpoint-\(steps)/model.safetensors")
        #expect(global == 0 && (per.first?.1 ?? 0) == 0, "stopped + resumed run differs from the uninterrupted one: \(global), \(per.prefix(3))")
    }

    /// Ctrl-C: mpirun waits `odls_base_sigkill_timeout` (2 s here), sends SIGTERM to
    /// every rank, waits as long again and sends SIGKILL. The ranks stop after the same
    /// step within that window and rank 0 saves it (the stop path after the flag is the
    /// one the SIGUSR1 test checks against an uninterrupted run).
    @Test("Ctrl-C to mpirun: every rank says so, they stop after the same step and rank 0 saves it before the launcher's SIGKILL")
    func ctrlCStop() throws {
        let run = CLIFixtures.temp("mpi-ctrlc")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let steps = 5000
        let (pid, outFile, errFile) = try S.spawnUnblocked(np: 2, ["train", S.quickstart] + S.sets(steps: steps, batch: 4)
                                                           + ["--out", run, "--quiet"], mca: ["--mca", "odls_base_sigkill_timeout", "2"])
        var status: Int32? = nil
        defer { if status == nil { kill(pid, SIGKILL); _ = S.waitExit(pid, seconds: 10) } }
        defer { try? FileManager.default.removeItem(atPath: outFile); try? FileManager.default.removeItem(atPath: errFile) }
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline && !FileManager.default.fileExists(atPath: run + "/metrics.jsonl") && kill(pid, 0) == 0 {
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.3)
        kill(pid, SIGINT)
        status = S.waitExit(pid, seconds: 60)
        #expect(status != nil, "the job still runs a minute after Ctrl-C")
        let stderr = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        #expect(status != 0, "mpirun reports the cancelled job: status \(String(describing: status))")
        for r in 0..<2 { #expect(stderr.contains("plm rank \(r)/2: SIGTERM from the MPI launcher (Ctrl-C"), "stderr: \(stderr)") }
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/summary.json"))) as? [String: Any],
                                   "no summary: the ranks did not stop in time; stderr: \(stderr)")
        let stoppedAt = try #require(summary["steps"] as? Int)
        #expect(summary["interrupted"] as? Bool == true && stoppedAt > 0 && stoppedAt < steps, "\(summary)")
        #expect(stderr.contains("interrupted: saved checkpoint-\(stoppedAt)"), "stderr: \(stderr)")
        _ = try EsmForMaskedLM.load(directory: URL(fileURLWithPath: run + "/checkpoint-\(stoppedAt)"))
    }
    #endif

    @Test("validation is sharded over the ranks: 2 ranks report the single process's whole-set metrics (two sources, one chunk on rank 1 only)")
    func shardedValidation() throws {
        let one = CLIFixtures.temp("mpi-val1"), two = CLIFixtures.temp("mpi-val2")
        defer { for d in [one, two] { try? FileManager.default.removeItem(atPath: d) } }
        let recipe = CLIFixtures.root.appendingPathComponent("recipes/tune-topk-class.yaml").path
        // lr 0: both runs keep the initial weights, so their validations see the same model.
        func sets(_ batch: Int) -> [String] {
            ["training.steps=2", "training.eval_every=2", "training.batch_size=\(batch)", "optimizer.lr=0", "training.checkpoint_every=1000"]
                .flatMap { ["--set", $0] }
        }
        let a = try S.single(["train", recipe] + sets(16) + ["--out", one, "--quiet"])
        #expect(a.status == 0, "stderr: \(a.stderr)")
        let b = try S.run(np: 2, ["train", recipe] + sets(8) + ["--out", two, "--quiet"])
        #expect(b.status == 0, "stderr: \(b.stderr)")
        func validation(_ run: String) throws -> [String: Double] {
            let line = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
                .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .last { $0["split"] as? String == "validation" } ?? [:]
            return line.compactMapValues { $0 as? Double }
        }
        let v1 = try validation(one), v2 = try validation(two)
        // disorder.csv: 73 valid rows = 5 chunks of 16 (ranks 0,1,0,1,0); ss3.csv: 4 rows = chunk 6 (rank 1).
        #expect(v1["classification/disorder/items"] == 73 && v1["regression/fold/items"] == 4, "\(v1)")
        #expect(Set(v1.keys) == Set(v2.keys), "keys: \(Set(v1.keys).symmetricDifference(v2.keys))")
        for (k, x) in v1 {
            let y = v2[k] ?? .nan
            #expect(abs(x - y) <= 1e-9 * max(1, abs(x)), "\(k): 1 process \(x), 2 ranks \(y)")
        }
        // plm evaluate (one process) on the 2-rank run's best/ chunks by its world size: the same numbers.
        let e = try S.single(["evaluate", two, "--split", "validation", "--json"])
        #expect(e.status == 0, "stderr: \(e.stderr)")
        let ev = try #require((try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])?["metrics"] as? [String: Double])
        for (k, x) in v2 where k != "step" { #expect(abs(x - (ev[k] ?? .nan)) <= 1e-9 * max(1, abs(x)), "plm evaluate \(k): \(ev[k] ?? .nan) vs logged \(x)") }
        // MLM draws validation masks per chunk: plm evaluate must chunk as the 2-rank run did.
        let mlm = CLIFixtures.temp("mpi-val-mlm")
        defer { try? FileManager.default.removeItem(atPath: mlm) }
        let m = try S.run(np: 2, ["train", S.quickstart] + ["training.steps=2", "training.eval_every=2", "training.batch_size=4"]
            .flatMap { ["--set", $0] } + ["--out", mlm, "--quiet"])
        #expect(m.status == 0, "stderr: \(m.stderr)")
        let logged = try validation(mlm)
        let me = try S.single(["evaluate", mlm, "--split", "validation", "--json"])
        let mv = try #require((try JSONSerialization.jsonObject(with: Data(me.stdout.utf8)) as? [String: Any])?["metrics"] as? [String: Double])
        #expect(logged["mlm/loss"] != nil && abs((logged["mlm/loss"] ?? 0) - (mv["mlm/loss"] ?? .nan)) <= 1e-9, "MLM: logged \(logged), plm evaluate \(mv)")
        // The test split (rank 0 alone, from best/) agrees as well.
        let s1 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: one + "/summary.json"))) as? [String: Any]
        let s2 = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: two + "/summary.json"))) as? [String: Any]
        let t1 = try #require(s1?["test"] as? [String: Double]), t2 = try #require(s2?["test"] as? [String: Double])
        for (k, x) in t1 { #expect(abs(x - (t2[k] ?? .nan)) <= 1e-9 * max(1, abs(x)), "test \(k): \(x) vs \(t2[k] ?? .nan)") }
    }

    @Test("plm embed: 2 ranks shard the FASTA and merge into one file equal to the single-process output")
    func embedShards() throws {
        let one = CLIFixtures.temp("e1.h5"), two = CLIFixtures.temp("e2.h5")
        defer { for d in [one, two] { try? FileManager.default.removeItem(atPath: d) } }
        let args = ["embed", "--model", CLIFixtures.tinyRotary, "--fasta", CLIFixtures.embedFasta, "--logits", "--per-residue", "--quiet"]
        let a = try S.single(args + ["--out", one])
        #expect(a.status == 0, "stderr: \(a.stderr)")
        let b = try S.run(np: 2, args + ["--out", two])
        #expect(b.status == 0, "stderr: \(b.stderr)")
        #expect(b.stderr.contains("merged 2 shard(s)"), "stderr: \(b.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)
            .filter { $0.hasPrefix(URL(fileURLWithPath: two).lastPathComponent + ".rank-") }
        #expect(left.isEmpty, "shards left behind: \(left)")
        let f1 = try HDF5File.open(one), f2 = try HDF5File.open(two)
        #expect(try f1.childNames() == f2.childNames())
        for g in try f1.childNames() {
            for ds in ["mean", "per_residue", "logits"] {
                let x = try f1.group(g).read(ds, as: Float.self), y = try f2.group(g).read(ds, as: Float.self)
                #expect(x.shape == y.shape)
                let diff = zip(x.values, y.values).map { abs($0 - $1) }.max() ?? 0
                let scale = x.values.map { abs($0) }.max() ?? 1
                #expect(diff <= 1e-5 * scale, "\(g)/\(ds): max difference \(diff)")
            }
            #expect(try f1.group(g).stringAttribute("sequence") == f2.group(g).stringAttribute("sequence"))
        }
    }

    @Test("plm embed --structures with a fusion run: 2 ranks shard the structures and merge into one file equal to the single-process output")
    func embedRunShards() throws {
        let run = CLIFixtures.temp("mpi-fusion-run"), one = CLIFixtures.temp("mpi-fe1.h5"), two = CLIFixtures.temp("mpi-fe2.h5")
        defer { for p in [run, one, two] { try? FileManager.default.removeItem(atPath: p) } }
        let recipe = CLIFixtures.root.appendingPathComponent("recipes/3dprotlm.yaml").path
        let t = try S.single(["train", recipe, "--set", "model.encoder.graph_dim=16", "--set", "targets.0.hidden=32", "--set", "targets.0.output=16",
                              "--set", "data.max_length=64", "--set", "training.steps=2", "--set", "training.batch_size=4", "--out", run, "--quiet"])
        #expect(t.status == 0, "stderr: \(t.stderr)")
        let structures = CLIFixtures.root.appendingPathComponent("examples/splm/structures").path
        let args = ["embed", "--model", run, "--structures", structures, "--per-residue", "--quiet"]
        let a = try S.single(args + ["--out", one])
        #expect(a.status == 0, "stderr: \(a.stderr)")
        let b = try S.run(np: 2, args + ["--out", two])
        #expect(b.status == 0, "stderr: \(b.stderr)")
        #expect(b.stderr.contains("merged 2 shard(s) into \(two): 11 protein(s)"), "stderr: \(b.stderr)")
        #expect(!FileManager.default.fileExists(atPath: two + ".rank-1-of-2.h5"), "shards removed after the merge")
        let f1 = try HDF5File.open(one), f2 = try HDF5File.open(two)
        defer { f1.close(); f2.close() }
        #expect(try f1.childNames().count == 11 && f1.childNames() == f2.childNames())
        for g in try f1.childNames() {
            for ds in ["protein", "per_residue"] {
                let x = try f1.group(g).read(ds, as: Float.self), y = try f2.group(g).read(ds, as: Float.self)
                #expect(x.shape == y.shape, "\(g)/\(ds)")
                let diff = zip(x.values, y.values).map { abs($0 - $1) }.max() ?? 0
                let scale = max(x.values.map { abs($0) }.max() ?? 1, 1)
                #expect(diff <= 1e-5 * scale, "\(g)/\(ds): max difference \(diff)")
            }
            #expect(try f1.group(g).stringAttribute("sequence") == f2.group(g).stringAttribute("sequence"))
            #expect(try f2.group(g).intAttribute("complete") == 1)
        }
    }

    @Test("a missing MPI library is a clear error, not a crash")
    func missingLibrary() throws {
        let r = try S.run(np: 1, ["train", S.quickstart, "--quiet"], mca: ["-x", "PLM_MPI_LIBRARY=/nonexistent/libmpi.so"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("error: MPI: cannot load /nonexistent/libmpi.so"), "stderr: \(r.stderr)")
    }

    @Test("a rank that fails ends every rank with its message")
    func errorOnStart() throws {
        let r = try S.run(np: 2, ["train", S.quickstart, "--set", "training.steps=eighty", "--quiet"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("training.steps"), "stderr: \(r.stderr)")
    }

    @Test("plm prepare nma / contact-map: 2 ranks shard a directory and merge into one file equal to the single-process output")
    func prepareSharded() throws {
        let dir = try PrepareFixtures.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let inputs = dir.appendingPathComponent("in")
        try FileManager.default.createDirectory(at: inputs, withIntermediateDirectories: true)
        for f in ["2BEG_ca.pdb", "2G3R.pdb", "1TIM_ca.pdb"] {
            try FileManager.default.copyItem(atPath: PrepareFixtures.path(f), toPath: inputs.appendingPathComponent(f).path)
        }
        for cmd in ["contact-map", "nma"] {
            let one = dir.appendingPathComponent("\(cmd)-1.h5").path, two = dir.appendingPathComponent("\(cmd)-2.h5").path
            let r1 = try S.single(["prepare", cmd, "--structure", inputs.path, "--out", one, "--quiet"])
            #expect(r1.status == 0, "single: \(r1.stderr)")
            let r2 = try S.run(np: 2, ["prepare", cmd, "--structure", inputs.path, "--out", two, "--quiet"])
            #expect(r2.status == 0, "2 ranks: \(r2.stderr)")
            #expect(r2.stderr.contains("merged 2 shard(s) into \(two): 3 entries"), "stderr: \(r2.stderr)")
            #expect(!FileManager.default.fileExists(atPath: two + ".rank-0-of-2.h5"))   // shards removed after the merge
            if cmd == "contact-map" {
                let a = try HDF5File.open(one), b = try HDF5File.open(two)
                #expect(try a.childNames().sorted() == b.childNames().sorted())
                for n in try a.childNames() {
                    #expect(try a.read("\(n)/distance", as: Float.self).values == b.read("\(n)/distance", as: Float.self).values, "\(n)")
                    #expect(try a.read("\(n)/contact_map", as: Float.self).values == b.read("\(n)/contact_map", as: Float.self).values, "\(n)")
                    #expect(try a.group(n).stringAttribute("sequence") == b.group(n).stringAttribute("sequence"))
                }
            } else {
                let a = try SeqDanceFeatureStore(path: one), b = try SeqDanceFeatureStore(path: two)
                #expect(a.names().sorted() == b.names().sorted() && a.names().count == 3)
                for n in a.names() {
                    let x = try a.read(n), y = try b.read(n)
                    #expect(x.metadata.sequence == y.metadata.sequence && x.residue.shape == y.residue.shape)
                    let dr = zip(x.residue.values, y.residue.values).map { abs($0 - $1) }.max() ?? 0
                    let dp = zip(x.pair.values, y.pair.values).map { abs($0 - $1) }.max() ?? 0
                    #expect(dr < 1e-5 && dp < 1e-5, "\(n): max |diff| residue \(dr), pair \(dp)")
                }
            }
        }
    }

    @Test("plm prepare md: 2 ranks share a list of trajectories and merge into one file equal to the single-process output")
    func prepareMDSharded() throws {
        let one = CLIFixtures.temp("mpi-md-1.h5"), two = CLIFixtures.temp("mpi-md-2.h5"), list = CLIFixtures.temp("mpi-md.txt")
        defer { for p in [one, two, list] { try? FileManager.default.removeItem(atPath: p) } }
        let md = CLIFixtures.root.appendingPathComponent("Tests/PLMStructureTests/Fixtures").path
        try """
        \(md)/trpcage_1l2y.pdb \(md)/trpcage_1l2y.xtc trpcage
        \(md)/3tvj_I.pdb \(md)/3tvj_I_10frames.dcd 3tvj_I
        \(md)/ala2_native.pdb \(md)/ala2_frame0.xtc ala2

        """.write(toFile: list, atomically: true, encoding: .utf8)
        let args = ["prepare", "md", "--list", list, "--stride", "4", "--quiet"]
        let r1 = try S.single(args + ["--out", one])
        #expect(r1.status == 0, "single: \(r1.stderr)")
        let r2 = try S.run(np: 2, args + ["--out", two])
        #expect(r2.status == 0, "2 ranks: \(r2.stderr)")
        #expect(r2.stderr.contains("merged 2 shard(s) into \(two): 3 entries"), "stderr: \(r2.stderr)")
        #expect(!FileManager.default.fileExists(atPath: two + ".rank-0-of-2.h5"))
        let a = try SeqDanceFeatureStore(path: one), b = try SeqDanceFeatureStore(path: two)
        #expect(a.names().sorted() == ["3tvj_I", "ala2", "trpcage"] && b.names().sorted() == a.names().sorted())
        for n in a.names() {
            let x = try a.read(n), y = try b.read(n)
            #expect(x.metadata.sequence == y.metadata.sequence && x.metadata.kind == .md && y.metadata.kind == .md)
            #expect(x.residue.values == y.residue.values && x.pair.values == y.pair.values, "\(n) differs")
        }
    }
}
