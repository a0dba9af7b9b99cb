import Foundation
import PLMStructure

// Runs a per-structure job over many structures: a small work queue feeds
// `jobs` worker threads; each worker computes one protein at a time and
// writes it to the output as soon as it finishes (writes are serialised by
// one lock, which also guards the progress bar and the report). A protein
// that fails is recorded with its reason and never affects the others.
//
// Threads: with jobs > 1 every worker runs its LAPACK calls single-threaded
// (OpenBLAS is set to 1 thread for the run: its thread count is process-wide,
// and concurrent callers of a multi-threaded OpenBLAS would oversubscribe the
// cores). With jobs == 1 OpenBLAS keeps `blasThreads` threads, which helps a
// single large protein. Many proteins parallelise better across proteins
// (no synchronisation inside the eigensolver), hence the default
// jobs = min(cores, structures).

/// What happened to one structure.
public struct PrepareRecord: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Written to the output.
        case written
        /// Left alone on purpose (already in the output).
        case skipped
        /// Could not be prepared (unreadable file, too small, too large, ...).
        case failed
    }
    public var item: PrepareItem
    public var status: Status
    /// Residues (C-alpha atoms) written, 0 otherwise.
    public var residues: Int
    /// Why it was skipped or failed ("" when written).
    public var reason: String
    /// Seconds spent reading and computing (not writing) this structure.
    public var seconds: Double = 0
    /// Something the user should know about a written structure (e.g. residues stored as X).
    public var note: String = ""
}

extension PrepareRecord {
    /// The note for residues whose names have no one-letter code (nil when there are none).
    public static func unmappedNote(_ residues: [String]) -> String {
        guard !residues.isEmpty else { return "" }
        let shown = residues.prefix(5).joined(separator: ", ") + (residues.count > 5 ? ", …" : "")
        return "\(residues.count) residue(s) with no one-letter code stored as X (\(shown))"
    }
}

/// Outcome of a run: one record per input, in input order.
public struct PrepareReport: Sendable {
    public var records: [PrepareRecord]
    /// Number of inputs (more than `records.count` after an interrupt).
    public var total: Int
    /// True when Ctrl-C stopped the run before every structure was handled.
    public var interrupted: Bool
    /// Wall-clock seconds.
    public var seconds: Double

    public var written: [PrepareRecord] { records.filter { $0.status == .written } }
    public var skipped: [PrepareRecord] { records.filter { $0.status == .skipped } }
    public var failed: [PrepareRecord] { records.filter { $0.status == .failed } }

    /// The summary printed at the end: counts, then one line per skipped or failed structure
    /// (and with `verbose` one line per written structure with its residues and compute time).
    public func summary(label: String, output: String, verbose: Bool = false) -> String {
        let notRun = total - records.count
        var s = "\(label): \(written.count) written to \(output), \(skipped.count) skipped, \(failed.count) failed"
        if notRun > 0 { s += ", \(notRun) not started (interrupted)" }
        s += String(format: " (%.1f s)", seconds)
        if verbose {
            for r in records where r.status == .written {
                s += String(format: "\n  written %@ (%@): %d residues, %.3f s", r.item.name, r.item.label, r.residues, r.seconds)
            }
        }
        for r in records where r.status == .written && !r.note.isEmpty {
            s += "\n  note \(r.item.name) (\(r.item.label)): \(r.note)"
        }
        for r in records where r.status != .written {
            s += "\n  \(r.status.rawValue) \(r.item.name) (\(r.item.label)): \(r.reason)"
        }
        return s
    }
}

/// Parallel per-structure driver (see the file comment).
public struct PrepareRunner {
    /// Worker threads (proteins in flight).
    public var jobs: Int
    /// OpenBLAS threads when `jobs == 1`.
    public var blasThreads: Int
    /// Show a progress bar on stderr.
    public var showProgress: Bool
    /// Progress-bar label.
    public var label: String
    /// What the progress bar counts.
    public var unit: String

    public init(jobs: Int, blasThreads: Int = ProcessInfo.processInfo.activeProcessorCount,
                showProgress: Bool = true, label: String = "prepare", unit: String = "structures") {
        self.jobs = max(1, jobs)
        self.blasThreads = max(1, blasThreads)
        self.showProgress = showProgress
        self.label = label
        self.unit = unit
    }

    /// Runs `compute` on each item not rejected by `precheck` (on worker threads), then `write`
    /// (serially, under the lock) as soon as each one finishes. `precheck` returns a skip reason
    /// (status `.skipped`) or nil; `compute` and `write` throw to fail one item. `write` returns the
    /// number of residues written and a note for the summary ("" for none).
    public func run<Payload>(_ items: [PrepareItem], interrupt: InterruptFlag? = nil,
                             precheck: (PrepareItem) -> String?,
                             compute: (PrepareItem) throws -> Payload,
                             write: (PrepareItem, Payload) throws -> (residues: Int, note: String)) -> PrepareReport {
        let start = Date()
        var records: [PrepareRecord?] = Array(repeating: nil, count: items.count)
        var todo: [Int] = []
        for (i, it) in items.enumerated() {
            if let reason = precheck(it) {
                records[i] = PrepareRecord(item: it, status: .skipped, residues: 0, reason: reason)
            } else {
                todo.append(i)
            }
        }
        let bar = ProgressBar(label, total: items.count, unit: unit, enabled: showProgress)
        if items.count > todo.count { bar.advance(items.count - todo.count) }

        let workers = min(jobs, max(todo.count, 1))
        let previousBLAS = LAPACKThreads.count
        LAPACKThreads.set(workers > 1 ? 1 : blasThreads)
        defer { LAPACKThreads.set(previousBLAS) }

        let lock = NSLock()
        var next = 0
        var failures = 0
        var interrupted = false
        func take() -> Int? {
            lock.lock(); defer { lock.unlock() }
            if interrupt?.isRaised == true { interrupted = true; return nil }
            guard next < todo.count else { return nil }
            next += 1
            return todo[next - 1]
        }
        func describe(_ error: Error) -> String {
            let s = String(describing: error)
            return s.isEmpty ? "\(type(of: error))" : s
        }
        // Closures are called from several threads; `compute` must be thread-safe (it only
        // reads its item), `write` runs under the lock.
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let i = take() {
                let item = items[i]
                var record: PrepareRecord
                let t0 = Date()
                do {
                    let payload = try compute(item)
                    let seconds = Date().timeIntervalSince(t0)
                    lock.lock()
                    do {
                        let w = try write(item, payload)
                        record = PrepareRecord(item: item, status: .written, residues: w.residues, reason: "", seconds: seconds, note: w.note)
                    } catch {
                        record = PrepareRecord(item: item, status: .failed, residues: 0, reason: "writing failed: " + describe(error))
                    }
                    lock.unlock()
                } catch {
                    // A computation cut short by Ctrl-C (`compute` polls the flag on long
                    // work) is not a failure: the item counts as not started.
                    if interrupt?.isRaised == true { continue }
                    record = PrepareRecord(item: item, status: .failed, residues: 0, reason: describe(error),
                                           seconds: Date().timeIntervalSince(t0))
                }
                lock.lock()
                records[i] = record
                if record.status == .failed { failures += 1 }
                bar.advance(1, note: failures > 0 ? "\(failures) failed" : "")
                lock.unlock()
            }
        }
        bar.finish()
        let done = records.compactMap { $0 }
        return PrepareReport(records: done, total: items.count, interrupted: interrupted || done.count < items.count,
                             seconds: Date().timeIntervalSince(start))
    }
}
