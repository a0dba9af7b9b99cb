import Foundation
import PLMNN

/// `state.json` of a checkpoint.
public struct CheckpointState: Codable {
    public var step: Int
    public var seed: UInt64
    public var loss: Double?
    public var validationLoss: Double?
    public var recipeSHA: String
    /// Threads and OpenBLAS core of the run: GEMM results depend on both, so
    /// a resume is bit-exact only when they are the same.
    public var threads: Int?
    public var blasCore: String?
    /// Data-parallel ranks (MPI world size) of the run; absent for one process.
    public var worldSize: Int?
    /// Early stopping: evaluations since the validation loss last improved,
    /// and whether the run stopped there (a resume then has nothing to do).
    public var evaluationsWithoutImprovement: Int?
    public var stoppedEarly: Bool?

    enum CodingKeys: String, CodingKey {
        case step, seed, loss, validationLoss = "validation_loss", recipeSHA = "recipe_digest"
        case threads, blasCore = "blas_core", worldSize = "world_size"
        case evaluationsWithoutImprovement = "evaluations_without_improvement", stoppedEarly = "stopped_early"
    }
}

/// Finding, pruning and describing checkpoint directories.
public enum Checkpoints {
    /// The newest `checkpoint-N` directory (largest N) that is complete.
    public static func latest(in run: URL) -> (Int, URL)? {
        all(in: run).last
    }

    /// Complete `checkpoint-N` directories, oldest first.
    public static func all(in run: URL) -> [(Int, URL)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: run.path) else { return [] }
        return names.compactMap { n -> (Int, URL)? in
            guard n.hasPrefix("checkpoint-"), let k = Int(n.dropFirst("checkpoint-".count)) else { return nil }
            let u = run.appendingPathComponent(n)
            guard FileManager.default.fileExists(atPath: u.appendingPathComponent("state.json").path) else { return nil }
            return (k, u)
        }.sorted { $0.0 < $1.0 }
    }

    /// Puts back a checkpoint whose replacement was cut short between its two renames
    /// (`NAME` missing, `.NAME.old-PID` complete); returns the names restored.
    @discardableResult
    public static func recover(in run: URL) -> [String] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: run.path) else { return [] }
        var restored: [String] = []
        for n in names.sorted() where n.hasPrefix(".") && n.contains(".old-") {
            let name = String(n.dropFirst().prefix(upTo: n.range(of: ".old-")!.lowerBound))
            let from = run.appendingPathComponent(n), to = run.appendingPathComponent(name)
            guard !name.isEmpty, fm.fileExists(atPath: from.appendingPathComponent("state.json").path) else { continue }
            if fm.fileExists(atPath: to.appendingPathComponent("state.json").path) {
                try? fm.removeItem(at: from)   // the replacement finished; the old copy is stale
            } else if (try? fm.moveItem(at: from, to: to)) != nil {
                restored.append(name)
            }
        }
        return restored
    }

    /// Deletes all but the newest `keep` checkpoints.
    static func prune(_ run: URL, keep: Int) {
        let list = all(in: run)
        for (_, u) in list.dropLast(keep) { try? FileManager.default.removeItem(at: u) }
    }

    static func bestValidationLoss(in run: URL) throws -> Double? {
        let u = run.appendingPathComponent("best/state.json")
        guard FileManager.default.fileExists(atPath: u.path) else { return nil }
        return try JSONDecoder().decode(CheckpointState.self, from: Data(contentsOf: u)).validationLoss
    }

    /// A short content digest (FNV-1a 64, hex) for recipe identity.
    static func digest(_ s: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }
}

/// Appends one JSON object per line to `metrics.jsonl`; on resume, drops
/// lines logged after the checkpoint being resumed.
final class MetricsLog {
    let url: URL
    init(url: URL, truncateAfterStep: Int) throws {
        self.url = url
        let fm = FileManager.default
        if fm.fileExists(atPath: url.path) {
            let text = try String(contentsOf: url, encoding: .utf8)
            let kept = text.split(separator: "\n").filter { line in
                guard let d = line.data(using: .utf8),
                      let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
                      let s = o["step"] as? Double else { return false }
                return Int(s) <= truncateAfterStep
            }
            try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(to: url, atomically: true, encoding: .utf8)
        } else {
            fm.createFile(atPath: url.path, contents: nil)
        }
    }

    func append(_ values: [String: Double], split: String) throws {
        var obj: [String: Any] = ["split": split]
        for (k, v) in values { obj[k] = k == "step" ? Int(v) as Any : (v.isFinite ? v as Any : NSNull()) }
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
        let h = try FileHandle(forWritingTo: url)
        defer { try? h.close() }
        try h.seekToEnd()
        try h.write(contentsOf: data + Data("\n".utf8))
    }
}
