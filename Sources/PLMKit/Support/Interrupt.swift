import Dispatch
import Foundation

/// Turns Ctrl-C (SIGINT) and SIGTERM into a flag that long loops poll
/// between units of work, so they can save what they have and exit cleanly.
/// A second Ctrl-C exits at once (status 130).
public final class InterruptFlag: @unchecked Sendable {
    public static let shared = InterruptFlag()
    public init() {}
    private let lock = NSLock()
    private var raised = false
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "plm.signals")

    /// Starts catching SIGINT/SIGTERM (idempotent).
    public func install() {
        lock.lock(); defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            s.setEventHandler { [unowned self] in
                if self.isRaised {
                    FileHandle.standardError.write(Data("\ninterrupted again: exiting now\n".utf8))
                    exit(130)
                }
                self.raise()
                FileHandle.standardError.write(Data("\ninterrupt: finishing the current step and saving (Ctrl-C again to quit now)\n".utf8))
            }
            s.resume()
            sources.append(s)
        }
    }

    public func raise() { lock.lock(); raised = true; lock.unlock() }
    public func reset() { lock.lock(); raised = false; lock.unlock() }
    public var isRaised: Bool { lock.lock(); defer { lock.unlock() }; return raised }
}
