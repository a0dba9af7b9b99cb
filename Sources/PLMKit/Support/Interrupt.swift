import Dispatch
import Foundation

/// Turns Ctrl-C (SIGINT), SIGTERM and SIGUSR1 into a flag that long loops
/// poll between units of work, so they can save what they have and exit
/// cleanly. A second signal exits at once (status 130). SIGUSR1 is the one a
/// batch system sends ahead of a time limit (Slurm `--signal=USR1@120`) and
/// the one `mpirun` forwards to every rank without ending the job.
public final class InterruptFlag: @unchecked Sendable {
    public static let shared = InterruptFlag()
    public init() {}
    private let lock = NSLock()
    private var raised = false
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "plm.signals")

    /// Starts catching `signals` (idempotent: the first call decides).
    /// `announce` prints what happens on the first signal (off on all but one
    /// MPI rank).
    public func install(signals: [Int32] = [SIGINT, SIGTERM, SIGUSR1], announce: Bool = true) {
        lock.lock(); defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for sig in signals {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            s.setEventHandler { [unowned self] in
                if self.isRaised {
                    FileHandle.standardError.write(Data("\ninterrupted again: exiting now\n".utf8))
                    exit(130)
                }
                self.raise()
                if announce {
                    let name = sig == SIGUSR1 ? "SIGUSR1" : sig == SIGTERM ? "SIGTERM" : "interrupt"
                    FileHandle.standardError.write(Data("\n\(name): finishing the current step and saving (signal again to quit now)\n".utf8))
                }
            }
            s.resume()
            sources.append(s)
        }
    }

    public func raise() { lock.lock(); raised = true; lock.unlock() }
    public func reset() { lock.lock(); raised = false; lock.unlock() }
    public var isRaised: Bool { lock.lock(); defer { lock.unlock() }; return raised }
}
