import Foundation
import PLMTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The collective operations data-parallel training needs.
///
/// `SingleProcessCommunicator` (world size 1, every collective is the
/// identity) is what plain `plm train` and the tests use; `MPICommunicator`
/// talks to Open MPI through a library loaded at run time (dlopen), so PLMKit
/// builds and runs on machines without MPI. Collectives must be called by
/// every rank in the same order with the same sizes.
public protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Element-wise sum over all ranks, in place.
    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int)
    /// Element-wise sum over all ranks, in place.
    func allReduceSum(_ values: inout [Double])
    /// Element-wise maximum over all ranks, in place.
    func allReduceMax(_ values: inout [Double])
    /// `count` floats from every rank, concatenated in rank order (`size * count` floats).
    func allGather(_ values: [Float]) -> [Float]
    /// Rank 0's bytes on every rank (`bytes` is read on rank 0, written elsewhere).
    func broadcast(_ bytes: inout [UInt8])
    func barrier()
    /// Ends the whole job (every rank) with `code`; prints `message` first.
    func abort(_ message: String, code: Int32) -> Never
    /// Seconds on a monotonic clock.
    func wallTime() -> Double
    /// Shuts the library down (MPI_Finalize); idempotent.
    func finalize()
}

extension Communicator {
    public var isRoot: Bool { rank == 0 }
    public var isDistributed: Bool { size > 1 }
}

/// World size 1: every collective is the identity.
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
    public func allReduceSum(_ values: inout [Double]) {}
    public func allReduceMax(_ values: inout [Double]) {}
    public func allGather(_ values: [Float]) -> [Float] { values }
    public func broadcast(_ bytes: inout [UInt8]) {}
    public func barrier() {}
    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(code)
    }
    public func wallTime() -> Double { Date().timeIntervalSinceReferenceDate }
    public func finalize() {}
}

public enum MPIError: Error, CustomStringConvertible {
    case library(String)
    case call(String, Int32)
    /// Started as one of several tasks without an MPI environment.
    case notWired(String)
    public var description: String {
        switch self {
        case let .library(m): return "MPI: \(m)"
        case let .call(f, rc): return "MPI: \(f) failed with error code \(rc)"
        case let .notWired(m): return "MPI: \(m)"
        }
    }
}

/// Open MPI loaded at run time.
///
/// The library is `libmpi.so.40` (Open MPI 3/4/5 on Linux) unless
/// `PLM_MPI_LIBRARY` names another file. Open MPI's handles are the addresses
/// of global objects (`MPI_COMM_WORLD` is `&ompi_mpi_comm_world`, `MPI_FLOAT`
/// is `&ompi_mpi_float`, …), so they come from dlsym as well. MPICH (integer
/// handles) is not supported. Errors keep Open MPI's default handler
/// (`MPI_ERRORS_ARE_FATAL`): a failed collective — e.g. a peer that died —
/// aborts the job, and the launcher then ends every rank.
public final class MPICommunicator: Communicator {
    typealias Handle = UnsafeMutableRawPointer
    typealias InitThreadFn = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?, Int32, UnsafeMutablePointer<Int32>) -> Int32
    typealias CommIntFn = @convention(c) (Handle, UnsafeMutablePointer<Int32>) -> Int32
    typealias AllreduceFn = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer, Int32, Handle, Handle, Handle) -> Int32
    typealias AllgatherFn = @convention(c) (UnsafeRawPointer, Int32, Handle, UnsafeMutableRawPointer, Int32, Handle, Handle) -> Int32
    typealias BcastFn = @convention(c) (UnsafeMutableRawPointer, Int32, Handle, Int32, Handle) -> Int32
    typealias CommFn = @convention(c) (Handle) -> Int32
    typealias AbortFn = @convention(c) (Handle, Int32) -> Int32
    typealias VoidFn = @convention(c) () -> Int32
    typealias WtimeFn = @convention(c) () -> Double

    public let rank: Int
    public let size: Int
    let lib: UnsafeMutableRawPointer
    let world: Handle, float: Handle, double: Handle, byte: Handle, sum: Handle, max: Handle
    let allreduce: AllreduceFn, allgather: AllgatherFn, bcast: BcastFn, barrierFn: CommFn, abortFn: AbortFn
    let finalizeFn: VoidFn, wtime: WtimeFn
    private var finalized = false
    /// MPI counts are 32-bit: large buffers go in chunks of this many elements.
    static let maxChunk = 1 << 30
    /// Open MPI's `MPI_IN_PLACE`.
    static let inPlace = UnsafeRawPointer(bitPattern: 1)

    /// True when the process was started by an MPI launcher (mpirun/srun set these).
    public static var launchedByMPI: Bool {
        let env = ProcessInfo.processInfo.environment
        if env["PLM_NO_MPI"] != nil { return false }
        for k in ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"] where env[k] != nil { return true }
        return false
    }

    /// Ranks of this job on this machine as the launcher says (Open MPI, then
    /// Slurm); nil when it does not. Sharded commands split the cores among them.
    public static var ranksOnNode: Int? {
        let env = ProcessInfo.processInfo.environment
        return env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? env["SLURM_NTASKS_PER_NODE"].flatMap(Int.init)
    }

    /// The job's rank count the launcher announced, from the environment (before MPI_Init).
    public static var launcherSize: Int? {
        let env = ProcessInfo.processInfo.environment
        for k in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"] { if let v = env[k].flatMap(Int.init) { return v } }
        return nil
    }

    /// The rank the launcher assigned, from the environment (before MPI_Init).
    public static var launcherRank: Int? {
        let env = ProcessInfo.processInfo.environment
        for k in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"] { if let v = env[k].flatMap(Int.init) { return v } }
        return nil
    }

    public init() throws {
        let path = ProcessInfo.processInfo.environment["PLM_MPI_LIBRARY"] ?? "libmpi.so.40"
        // RTLD_GLOBAL: Open MPI's components (dlopened by libmpi) resolve libmpi's symbols.
        guard let h = dlopen(path, RTLD_NOW | RTLD_GLOBAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw MPIError.library("cannot load \(path) (\(why)); install Open MPI (apt-get install openmpi-bin libopenmpi-dev) or set PLM_MPI_LIBRARY")
        }
        lib = h
        func sym(_ name: String) throws -> UnsafeMutableRawPointer {
            guard let p = dlsym(h, name) else { throw MPIError.library("\(path) has no symbol \(name) (only Open MPI is supported)") }
            return p
        }
        func fn<T>(_ name: String, _: T.Type) throws -> T { unsafeBitCast(try sym(name), to: T.self) }
        world = try sym("ompi_mpi_comm_world")
        float = try sym("ompi_mpi_float")
        double = try sym("ompi_mpi_double")
        byte = try sym("ompi_mpi_byte")
        sum = try sym("ompi_mpi_op_sum")
        max = try sym("ompi_mpi_op_max")
        allreduce = try fn("MPI_Allreduce", AllreduceFn.self)
        allgather = try fn("MPI_Allgather", AllgatherFn.self)
        bcast = try fn("MPI_Bcast", BcastFn.self)
        barrierFn = try fn("MPI_Barrier", CommFn.self)
        abortFn = try fn("MPI_Abort", AbortFn.self)
        finalizeFn = try fn("MPI_Finalize", VoidFn.self)
        wtime = try fn("MPI_Wtime", WtimeFn.self)
        let initThread = try fn("MPI_Init_thread", InitThreadFn.self)
        var provided: Int32 = 0
        let rc = initThread(nil, nil, 2 /* MPI_THREAD_SERIALIZED */, &provided)
        guard rc == 0 else { throw MPIError.call("MPI_Init_thread", rc) }
        var r: Int32 = 0, s: Int32 = 0
        _ = try fn("MPI_Comm_rank", CommIntFn.self)(world, &r)
        _ = try fn("MPI_Comm_size", CommIntFn.self)(world, &s)
        rank = Int(r)
        size = Int(s)
    }

    func check(_ rc: Int32, _ what: String) {
        if rc != 0 { abort("plm rank \(rank): \(what) failed (MPI error \(rc)); a peer rank probably died — ending the job", code: 1) }
    }

    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        var done = 0
        while done < count {
            let n = Swift.min(count - done, Self.maxChunk)
            check(allreduce(Self.inPlace, buffer + done, Int32(n), float, sum, world), "MPI_Allreduce")
            done += n
        }
    }

    public func allReduceSum(_ values: inout [Double]) { reduceDoubles(&values, sum) }
    public func allReduceMax(_ values: inout [Double]) { reduceDoubles(&values, max) }

    func reduceDoubles(_ values: inout [Double], _ op: Handle) {
        guard !values.isEmpty else { return }
        let n = values.count
        values.withUnsafeMutableBytes { check(allreduce(Self.inPlace, $0.baseAddress!, Int32(n), double, op, world), "MPI_Allreduce") }
    }

    public func allGather(_ values: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: values.count * size)
        let n = Int32(values.count)
        guard n > 0 else { return out }
        values.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                check(allgather(src.baseAddress!, n, float, dst.baseAddress!, n, float, world), "MPI_Allgather")
            }
        }
        return out
    }

    public func broadcast(_ bytes: inout [UInt8]) {
        var n = [Double(bytes.count)]
        if rank != 0 { n[0] = 0 }
        reduceDoubles(&n, sum)   // rank 0's length everywhere
        if rank != 0 { bytes = [UInt8](repeating: 0, count: Int(n[0])) }
        guard !bytes.isEmpty else { return }
        let c = Int32(bytes.count)
        bytes.withUnsafeMutableBytes { check(bcast($0.baseAddress!, c, byte, 0, world), "MPI_Bcast") }
    }

    public func barrier() { check(barrierFn(world), "MPI_Barrier") }

    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        _ = abortFn(world, code)
        exit(code)
    }

    public func wallTime() -> Double { wtime() }

    public func finalize() {
        guard !finalized else { return }
        finalized = true
        _ = finalizeFn()
    }
}

/// The communicator for this process: MPI when started by an MPI launcher
/// (`OMPI_COMM_WORLD_SIZE`, `PMIX_RANK` or `PMI_SIZE` in the environment and
/// no `PLM_NO_MPI`), otherwise a single process that never touches MPI.
public enum Distributed {
    public static func makeCommunicator() throws -> Communicator {
        guard MPICommunicator.launchedByMPI else {
            try refuseUnwiredLauncher(ProcessInfo.processInfo.environment)
            return SingleProcessCommunicator()
        }
        return try MPICommunicator()
    }

    /// `srun` without an MPI plugin (`--mpi=pmix` / `pmi2`) starts N copies that know
    /// nothing of each other: each would train alone into the same run directory. Slurm
    /// says how many tasks the step has; without an MPI environment that must be 1.
    public static func refuseUnwiredLauncher(_ env: [String: String]) throws {
        guard env["PLM_NO_MPI"] == nil, let n = env["SLURM_STEP_NUM_TASKS"].flatMap(Int.init), n > 1 else { return }
        throw MPIError.notWired("this process is one of \(n) tasks of a Slurm step (SLURM_STEP_NUM_TASKS), but no MPI environment (PMIx/PMI) was set up, so every task would run alone and write the same outputs; launch with `srun --mpi=pmix` (or pmi2, see `srun --mpi=list`) or mpirun, or set PLM_NO_MPI=1 to run the tasks independently on purpose")
    }
}

extension Communicator {
    /// Every rank's `values` (any length per rank), in rank order, bit for bit
    /// (each Double travels as two Float bit patterns). Two all-gathers: the
    /// lengths, then the values padded to the longest.
    public func allGatherDoubles(_ values: [Double]) -> [[Double]] {
        guard isDistributed else { return [values] }
        func split(_ v: Double, into out: inout [Float], at i: Int) {
            let bits = v.bitPattern
            out[2 * i] = Float(bitPattern: UInt32(truncatingIfNeeded: bits >> 32))
            out[2 * i + 1] = Float(bitPattern: UInt32(truncatingIfNeeded: bits))
        }
        func joined(_ all: [Float], _ at: Int) -> Double {
            Double(bitPattern: UInt64(all[at].bitPattern) << 32 | UInt64(all[at + 1].bitPattern))
        }
        var count = [Float](repeating: 0, count: 2)
        split(Double(values.count), into: &count, at: 0)   // exact for any length (a Float count is not past 2^24)
        let gathered = allGather(count)
        let counts = (0..<size).map { Int(joined(gathered, 2 * $0)) }
        let width = 2 * (counts.max() ?? 0)
        guard width > 0 else { return counts.map { _ in [] } }
        var mine = [Float](repeating: 0, count: width)
        for (i, v) in values.enumerated() { split(v, into: &mine, at: i) }
        let all = allGather(mine)
        return counts.enumerated().map { r, n in (0..<n).map { joined(all, r * width + 2 * $0) } }
    }

    /// Every rank's `strings`, in rank order.
    public func allGatherStrings(_ strings: [String]) -> [[String]] {
        let text = strings.map { $0.replacingOccurrences(of: "\n", with: " ") }.joined(separator: "\n")
        return allGatherDoubles(Array(text.utf8).map(Double.init)).map { codes in
            codes.isEmpty ? [] : String(decoding: codes.map { UInt8($0) }, as: UTF8.self)
                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        }
    }

    /// This rank's share of `items` for sharded commands: items rank,
    /// rank + size, … (all of them in a single process).
    public func shard<T>(_ items: [T]) -> [T] {
        isDistributed ? items.enumerated().filter { $0.offset % size == rank }.map(\.element) : items
    }

    /// Where rank `rank` writes its part of `output` before rank 0 merges the
    /// parts (`OUT.rank-r-of-N.h5`).
    public func shardPath(_ output: String, rank: Int) -> String { "\(output).rank-\(rank)-of-\(size).h5" }

    /// Rows [n, …] from every rank stacked in rank order ([size · n, …]; every
    /// rank must pass the same shape). Only this rank's rows carry gradient;
    /// the others are constants here. A loss computed identically on every
    /// rank from gathered tensors (`TargetResult.replicated`) then gets its
    /// exact gradient as the *sum* over ranks of the local-slice gradients —
    /// the trainer multiplies such losses by the world size before averaging —
    /// provided that nothing computed from the gathered rows feeds back into
    /// other rows through trainable parameters or shared statistics (for
    /// BatchNorm see `Projector.global` in ContrastiveStructure).
    public func allGatherRows(_ x: Tensor) -> Tensor {
        guard isDistributed else { return x }
        let all = allGather(x.toArray())
        let n = x.count
        var parts: [Tensor] = []
        for r in 0..<size {
            if r == rank { parts.append(x) }
            else { parts.append(Tensor(shape: x.shape, values: Array(all[(r * n)..<((r + 1) * n)]))) }
        }
        return Tensor.concat(parts, axis: 0)
    }

}
