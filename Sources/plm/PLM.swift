import ArgumentParser
import ContrastiveStructure
import DynamicsRegression
import Downstream
import Foundation
import GraphFusion
import MaskedLM
import Tuning
import PLMKit
import PLMTensor

@main
struct PLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plm",
        abstract: "Train, tune and use structure- and dynamics-aware protein language models.",
        version: "plm \(PLMKitVersion.string)",
        subcommands: [Train.self, Evaluate.self, RecipeCommand.self, Embed.self, Score.self, Prepare.self, Plugins.self, Info.self, Bench.self]
    )

    static func main() {
        requireKernelCPU()
        main(nil)
    }
}

/// The engine is built for AVX2 + FMA by default (Package.swift); on a CPU
/// without them it would die of SIGILL in the first kernel. Say so instead.
func requireKernelCPU() {
    #if PLM_KERNELS_NEED_AVX2 && os(Linux)
    guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
    let flags = Set(flagsLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
    let missing = ["avx2", "fma"].filter { !flags.contains($0) }
    if !missing.isEmpty {
        FileHandle.standardError.write(Data("""
            error: this plm was built for AVX2 + FMA CPUs and this CPU lacks \(missing.joined(separator: ", ")).
            Rebuild for it with: PLM_TARGET_CPU=x86-64 swift build -c release --product plm

            """.utf8))
        exit(1)
    }
    #endif
}

/// Registers every built-in plugin. The one place where built-ins are named.
func builtinRegistry() -> PluginRegistry {
    let registry = PluginRegistry()
    do {
        try registry.registerCoreBuiltins()
        try registry.registerMaskedLM()
        try registry.registerTuning()
        try registry.registerContrastiveStructure()
        try registry.registerDynamicsRegression()
        try registry.registerDownstream()
        try registry.registerGraphFusion()
    } catch {
        fatalError("built-in plugin registration failed: \(error)")  // a programming error, not user input
    }
    return registry
}

struct Plugins: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the registered plugin kinds.")

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let registry = builtinRegistry()
        if json {
            var obj: [String: [String]] = [:]
            for c in PluginCategory.allCases { obj[c.rawValue] = registry.kinds(in: c) }
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        for c in PluginCategory.allCases {
            let kinds = registry.kinds(in: c)
            print("\(c.rawValue):")
            if kinds.isEmpty { print("  (none registered)") }
            for k in kinds {
                let d = try registry.lookup(k, in: c)
                print("  \(k.padding(toLength: 24, withPad: " ", startingAt: 0)) \(d.summary)")
            }
        }
    }
}

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the runtime: threads and the OpenBLAS core in use.")

    func run() throws {
        print("plm \(PLMKitVersion.string)")
        print("threads: \(Threads.count)")
        print("openblas core: \(Threads.blasCoreName)")
        print("openblas config: \(Threads.blasConfig)")
    }
}

/// The end of a sharded command under MPI (`plm embed`, `plm prepare`): once every rank
/// has finished its shard (`Communicator.shardPath`), rank 0 merges the shards into `out`
/// with `merge`, removes them and reports `merged N shard(s) into OUT: <count(n)>`; the
/// other ranks wait for the merge.
func mergeRankShards(_ comm: Communicator, into out: String, count: (Int) -> String,
                     merge: ([String]) throws -> Int) throws {
    comm.barrier()   // every shard is complete
    if comm.isRoot {
        let shards = (0..<comm.size).map { comm.shardPath(out, rank: $0) }
        let n = try merge(shards)
        for p in shards { try? FileManager.default.removeItem(atPath: p) }
        FileHandle.standardError.write(Data("merged \(comm.size) shard(s) into \(out): \(count(n))\n".utf8))
    }
    comm.barrier()
}

