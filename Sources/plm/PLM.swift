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
        subcommands: [Train.self, RecipeCommand.self, Embed.self, Score.self, Prepare.self, Plugins.self, Info.self, Bench.self]
    )
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
