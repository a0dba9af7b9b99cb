import Foundation
import PLMTensor

/// The kinds of plugin a recipe can name with `kind:`.
public enum PluginCategory: String, CaseIterable, Sendable, Codable {
    case encoder, target, tuning, dataSource = "data_source", optimizer, schedule
}

/// A registered plugin: its `kind` string, category and a one-line summary.
public struct PluginDescriptor: Sendable, Equatable {
    public let kind: String
    public let category: PluginCategory
    public let summary: String
    public let module: String

    public init(kind: String, category: PluginCategory, summary: String, module: String) {
        self.kind = kind
        self.category = category
        self.summary = summary
        self.module = module
    }
}

/// Errors from registering or looking up plugins.
public enum RegistryError: Error, CustomStringConvertible, Equatable {
    case duplicate(kind: String, category: PluginCategory)
    case unknown(kind: String, category: PluginCategory, known: [String])
    case wrongCategory(kind: String, expected: PluginCategory)

    public var description: String {
        switch self {
        case let .duplicate(kind, category):
            return "a \(category.rawValue) plugin named '\(kind)' is already registered"
        case let .unknown(kind, category, known):
            return "unknown \(category.rawValue) kind '\(kind)'; registered: \(known.isEmpty ? "none" : known.joined(separator: ", "))"
        case let .wrongCategory(kind, expected):
            return "plugin '\(kind)' does not provide a \(expected.rawValue)"
        }
    }
}

/// Maps `kind` strings to plugins, per category. Each entry owns a factory
/// that decodes its own recipe section (strictly: unknown keys are errors)
/// into a config value that builds the plugin. Built-in plugins register in
/// one place (the `plm` executable); third parties call `register` the same
/// way before a recipe is loaded (see examples/custom-target).
public final class PluginRegistry {
    private var entries: [PluginCategory: [String: (descriptor: PluginDescriptor, decode: (Decoder) throws -> any PluginConfig)]] = [:]

    public init() {}

    /// Registers a plugin whose recipe section decodes as `C`.
    public func register<C: PluginConfig>(_ type: C.Type, kind: String, summary: String, module: String = "PLMKit") throws {
        let d = PluginDescriptor(kind: kind, category: C.category, summary: summary, module: module)
        if entries[d.category]?[d.kind] != nil { throw RegistryError.duplicate(kind: d.kind, category: d.category) }
        entries[d.category, default: [:]][d.kind] = (d, { try C(from: $0) })
    }

    /// Registers a descriptor only (listing; no recipe support).
    public func register(_ d: PluginDescriptor) throws {
        if entries[d.category]?[d.kind] != nil { throw RegistryError.duplicate(kind: d.kind, category: d.category) }
        entries[d.category, default: [:]][d.kind] = (d, { _ in throw RegistryError.wrongCategory(kind: d.kind, expected: d.category) })
    }

    public func lookup(_ kind: String, in category: PluginCategory) throws -> PluginDescriptor {
        guard let e = entries[category]?[kind] else {
            throw RegistryError.unknown(kind: kind, category: category, known: kinds(in: category))
        }
        return e.descriptor
    }

    /// Decodes the recipe section of `kind` in `category`.
    func decode(_ kind: String, in category: PluginCategory, from decoder: Decoder) throws -> any PluginConfig {
        guard let e = entries[category]?[kind] else {
            throw RegistryError.unknown(kind: kind, category: category, known: kinds(in: category))
        }
        return try e.decode(decoder)
    }

    /// Registered kinds of a category, sorted.
    public func kinds(in category: PluginCategory) -> [String] {
        (entries[category] ?? [:]).keys.sorted()
    }

    /// Every plugin, by category then kind.
    public var all: [PluginDescriptor] {
        PluginCategory.allCases.flatMap { c in kinds(in: c).compactMap { entries[c]?[$0]?.descriptor } }
    }
}
