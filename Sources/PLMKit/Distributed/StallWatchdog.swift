import Foundation

/// Ends a data-parallel rank that makes no progress for `seconds`.
///
/// A peer that freezes (stopped, swapping, a hung file system) or becomes
/// unreachable without its connection failing leaves the other ranks waiting
/// inside a collective forever: no error, no signal. The trainer calls
/// `touch()` after every micro-batch, evaluation batch and checkpoint; a
/// background thread checks every few seconds and, once nothing moved for
/// `seconds`, prints what happened on this rank and exits it (status 1),
/// which makes the launcher end the whole job. The newest checkpoint is
/// complete (written atomically), so `--resume` continues from there.
/// `PLM_MPI_STALL_SECONDS` sets the limit (default 1800; 0 turns it off); it
/// must exceed the longest step, evaluation or checkpoint write.
public final class StallWatchdog: @unchecked Sendable {
    public let seconds: Double
    private let message: String
    private let lock = NSLock()
    private var last = Date()
    private var stopped = false

    /// nil when `seconds` is not positive.
    public init?(seconds: Double, message: String) {
        guard seconds > 0, seconds.isFinite else { return nil }
        self.seconds = seconds
        self.message = message
        let thread = Thread { [weak self] in
            while let me = self {
                let pause = min(5, max(0.2, me.seconds / 5))
                let (idle, done) = me.state()
                if done { return }
                if idle > me.seconds {
                    FileHandle.standardError.write(Data(me.message.replacingOccurrences(of: "{seconds}", with: String(Int(idle.rounded()))).utf8))
                    _exit(1)
                }
                Thread.sleep(forTimeInterval: pause)
            }
        }
        thread.name = "plm.stall-watchdog"
        thread.start()
    }

    /// The limit from `PLM_MPI_STALL_SECONDS` (default 1800 s).
    public static var configuredSeconds: Double {
        ProcessInfo.processInfo.environment["PLM_MPI_STALL_SECONDS"].flatMap(Double.init) ?? 1800
    }

    private func state() -> (idle: Double, stopped: Bool) {
        lock.lock(); defer { lock.unlock() }
        return (Date().timeIntervalSince(last), stopped)
    }

    /// Records progress.
    public func touch() { lock.lock(); last = Date(); lock.unlock() }

    /// Ends the watch (the run is over). The thread also ends once the watchdog is released.
    public func stop() { lock.lock(); stopped = true; lock.unlock() }
}
