import Foundation

/// CPU time of the calling thread, in seconds (robust to other load on the machine).
public func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// CPU time of the whole process (every thread, user + system), in seconds.
public func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Times the per-frame steps of an MD feature pass one at a time (for `plm-feature-bench`;
/// not used by the pass itself).
///
/// All frames are loaded and every step run once at creation, so each step then sees
/// exactly the inputs it sees inside `MDFeatures.compute` (the superposed frame for
/// SASA, DSSP and dihedrals; the raw Angstrom frame and frame 0's decisions for the
/// contacts). `cpuSecondsPerFrame` reruns one step over every frame on the calling
/// thread and returns its thread CPU time divided by the frame count.
public final class MDFeatureBenchmark {
    /// The per-frame steps, in pass order.
    public enum Step: String, CaseIterable, Sendable {
        case superposition, sasa, dssp, dihedrals, contacts
    }

    let engine: MDFrameEngine
    var slots: [MDFrameSlot]
    public var frameCount: Int { slots.count }
    public let topology: MDTopology

    /// Frames: Angstrom coordinates [atoms * 3] each, as the trajectory readers return them.
    public init(topology: MDTopology, frames: [[Float]], options: MDFeatureOptions = .init()) throws {
        precondition(!frames.isEmpty, "no frames")
        self.topology = topology
        let engine = try MDFrameEngine(topology: topology, options: options)
        self.engine = engine
        slots = frames.map { f in
            var s = MDFrameSlot(engine: engine)
            s.load(f)
            return s
        }
        engine.setReference(slots[0].angstrom)
        for k in slots.indices { engine.process(&slots[k]) }
    }

    /// Runs `step` over every frame once; returns thread CPU seconds per frame.
    public func cpuSecondsPerFrame(_ step: Step) -> Double {
        let t0 = threadCPUSeconds()
        for k in slots.indices {
            switch step {
            case .superposition: engine.superpose(&slots[k])
            case .sasa: engine.sasa(&slots[k])
            case .dssp: engine.dssp(&slots[k])
            case .dihedrals: engine.dihedrals(&slots[k])
            case .contacts: engine.contacts(&slots[k])
            }
        }
        return (threadCPUSeconds() - t0) / Double(slots.count)
    }

    /// FNV-1a digest of every frame's DSSP classes and SASA bits (to check that an
    /// optimisation leaves the outputs unchanged).
    public var outputDigest: String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ b: UInt8) { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        var d: UInt64 = 0xcbf2_9ce4_8422_2325
        for s in slots {
            for c in s.dssp { mix(c) }
            for a in s.sasa { d = (d ^ UInt64(a.bitPattern)) &* 0x100_0000_01b3 }
        }
        return String(format: "dssp %016llx sasa %016llx", h, d)
    }

    /// Atom-level interaction contacts found per frame (all types; a size check for the contacts step).
    public var contactEventsPerFrame: Double {
        Double(slots.reduce(0) { $0 + $1.events.count }) / Double(slots.count)
    }
}
