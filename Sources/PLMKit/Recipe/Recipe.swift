import Foundation
import PLMNN
import Yams

extension CodingUserInfoKey {
    /// The `PluginRegistry` that recipe decoding dispatches `kind:` sections to.
    public static let plmRegistry = CodingUserInfoKey(rawValue: "plm.registry")!
}

/// Category markers for `PluginSection`.
public protocol PluginCategoryMarker { static var category: PluginCategory { get } }
public enum EncoderCategory: PluginCategoryMarker { public static let category = PluginCategory.encoder }
public enum TargetCategory: PluginCategoryMarker { public static let category = PluginCategory.target }
public enum TuningCategory: PluginCategoryMarker { public static let category = PluginCategory.tuning }
public enum DataSourceCategory: PluginCategoryMarker { public static let category = PluginCategory.dataSource }
public enum OptimizerCategory: PluginCategoryMarker { public static let category = PluginCategory.optimizer }
public enum ScheduleCategory: PluginCategoryMarker { public static let category = PluginCategory.schedule }

/// A recipe section `{kind: ..., ...}`: the registry's plugin for `kind`
/// decodes the rest of the mapping.
public struct PluginSection<C: PluginCategoryMarker>: Codable {
    public let kind: String
    public let config: any PluginConfig
    /// Data sources only: `role: train | validation | test` puts every example
    /// of the source in that split (a separate validation or test file),
    /// whatever the source's own split or `validation_fraction` say. Read here,
    /// beside `kind`, so every source kind has it, third-party ones included.
    public let role: ExampleSplit?

    enum Keys: String, CodingKey { case kind, role }

    public init(kind: String, config: any PluginConfig, role: ExampleSplit? = nil) {
        self.kind = kind; self.config = config; self.role = role
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        kind = try c.decode(String.self, forKey: .kind)
        if C.category == .dataSource, let r = try c.decodeIfPresent(String.self, forKey: .role) {
            guard let split = ExampleSplit(rawValue: r) else {
                throw recipeError(decoder, key: Keys.role, "must be train, validation or test, got '\(r)'")
            }
            role = split
        } else {
            role = nil
        }
        guard let registry = decoder.userInfo[.plmRegistry] as? PluginRegistry else {
            fatalError("recipe decoding needs userInfo[.plmRegistry]")
        }
        do {
            config = try registry.decode(kind, in: C.category, from: decoder)
        } catch let e as RegistryError {
            if let d = decoder as? NodeDecoder, let m = d.node.mapping, let k = m.first(where: { $0.key.string == "kind" }) {
                throw d.error(e.description, at: k.value, key: Keys.kind)
            }
            throw e
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(role?.rawValue, forKey: .role)
        try config.encode(to: encoder)
    }
}

/// One whole run, as written in a recipe file. See docs/RECIPES.md.
public struct Recipe: Codable {
    public var seed: UInt64
    public var model: ModelSection
    public var targets: [PluginSection<TargetCategory>]
    public var data: DataSection
    public var optimizer: PluginSection<OptimizerCategory>
    public var schedule: PluginSection<ScheduleCategory>?
    public var training: TrainingSection

    public struct ModelSection: Codable {
        public var encoder: PluginSection<EncoderCategory>
        public var tuning: PluginSection<TuningCategory>?
    }

    public struct DataSection: Codable {
        public var sources: [PluginSection<DataSourceCategory>]
        /// Residues per example (longer ones are randomly cropped).
        public var maxLength: Int
        /// Optional length curriculum: stages applying until a fraction of the steps.
        public var curriculum: [CurriculumStage]?

        enum CodingKeys: String, CodingKey { case sources, maxLength = "max_length", curriculum }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            sources = try c.decode([PluginSection<DataSourceCategory>].self, forKey: .sources)
            maxLength = try c.decodeIfPresent(Int.self, forKey: .maxLength) ?? 1022
            curriculum = try c.decodeIfPresent([CurriculumStage].self, forKey: .curriculum)
        }
    }

    public struct CurriculumStage: Codable, Equatable {
        /// Applies while step < until · total steps.
        public var until: Double
        public var maxLength: Int
        enum CodingKeys: String, CodingKey { case until, maxLength = "max_length" }
    }

    public struct TrainingSection: Codable {
        public var steps: Int
        public var batchSize: Int
        public var gradAccumulation: Int
        public var clip: ClipSection?
        public var logEvery: Int
        public var evalEvery: Int?
        public var checkpointEvery: Int?
        public var keepCheckpoints: Int
        public var threads: Int?
        /// Stop when the validation loss has not improved for `patience` evaluations.
        public var earlyStopping: EarlyStoppingSection?
        /// Length bucketing: each window of this many consecutive (global) batches of a
        /// source's shuffled epoch order is sorted by length and cut into batches, which
        /// are shuffled again, so a batch holds similar lengths and pads little. nil: off.
        public var lengthBuckets: Int?

        enum CodingKeys: String, CodingKey {
            case steps, batchSize = "batch_size", gradAccumulation = "grad_accumulation", clip
            case logEvery = "log_every", evalEvery = "eval_every", checkpointEvery = "checkpoint_every"
            case keepCheckpoints = "keep_checkpoints", threads, earlyStopping = "early_stopping"
            case lengthBuckets = "length_buckets"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            steps = try c.decode(Int.self, forKey: .steps)
            batchSize = try c.decode(Int.self, forKey: .batchSize)
            gradAccumulation = try c.decodeIfPresent(Int.self, forKey: .gradAccumulation) ?? 1
            clip = try c.decodeIfPresent(ClipSection.self, forKey: .clip)
            logEvery = try c.decodeIfPresent(Int.self, forKey: .logEvery) ?? 10
            evalEvery = try c.decodeIfPresent(Int.self, forKey: .evalEvery)
            checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery)
            keepCheckpoints = try c.decodeIfPresent(Int.self, forKey: .keepCheckpoints) ?? 2
            threads = try c.decodeIfPresent(Int.self, forKey: .threads)
            earlyStopping = try c.decodeIfPresent(EarlyStoppingSection.self, forKey: .earlyStopping)
            lengthBuckets = try c.decodeIfPresent(Int.self, forKey: .lengthBuckets)
            if let w = lengthBuckets, w < 2 {
                throw recipeError(decoder, key: CodingKeys.lengthBuckets, "must be at least 2 (batches per sorting window), got \(w); leave it out to turn bucketing off")
            }
        }
    }

    /// `training.early_stopping`: after each evaluation, a validation loss that
    /// is not below the best by more than `min_delta` counts against
    /// `patience`; at `patience` such evaluations in a row the run stops (a
    /// completed run: final checkpoint, test split from `best/`).
    public struct EarlyStoppingSection: Codable, Equatable {
        public var patience: Int
        public var minDelta: Double
        enum CodingKeys: String, CodingKey { case patience, minDelta = "min_delta" }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            patience = try c.decode(Int.self, forKey: .patience)
            minDelta = try c.decodeIfPresent(Double.self, forKey: .minDelta) ?? 0
        }
    }

    public struct ClipSection: Codable, Equatable {
        /// Clamp each gradient entry into [-value, value] (SeqDance).
        public var value: Float?
        /// Scale gradients to a global L2 norm of at most `norm` (S-PLM).
        public var norm: Float?
    }

    enum CodingKeys: String, CodingKey { case seed, model, targets, data, optimizer, schedule, training }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? 42
        model = try c.decode(ModelSection.self, forKey: .model)
        targets = try c.decode([PluginSection<TargetCategory>].self, forKey: .targets)
        data = try c.decode(DataSection.self, forKey: .data)
        optimizer = try c.decode(PluginSection<OptimizerCategory>.self, forKey: .optimizer)
        schedule = try c.decodeIfPresent(PluginSection<ScheduleCategory>.self, forKey: .schedule)
        training = try c.decode(TrainingSection.self, forKey: .training)
    }

    /// Semantic checks beyond types (run after decoding).
    func validate(file: String, node: Node) throws {
        func fail(_ path: String, _ msg: String) -> RecipeError {
            RecipeError(file: file, keyPath: path, line: RecipeLoader.line(of: path, in: node), msg)
        }
        if training.steps < 1 { throw fail("training.steps", "must be at least 1, got \(training.steps)") }
        if training.batchSize < 1 { throw fail("training.batch_size", "must be at least 1, got \(training.batchSize)") }
        if training.gradAccumulation < 1 { throw fail("training.grad_accumulation", "must be at least 1") }
        if training.logEvery < 1 { throw fail("training.log_every", "must be at least 1") }
        if let e = training.evalEvery, e < 1 { throw fail("training.eval_every", "must be at least 1") }
        if let e = training.checkpointEvery, e < 1 { throw fail("training.checkpoint_every", "must be at least 1") }
        if training.keepCheckpoints < 1 { throw fail("training.keep_checkpoints", "must be at least 1") }
        if let es = training.earlyStopping {
            if es.patience < 1 { throw fail("training.early_stopping.patience", "must be at least 1, got \(es.patience)") }
            if !(es.minDelta >= 0) { throw fail("training.early_stopping.min_delta", "must be >= 0") }
            if training.evalEvery == nil { throw fail("training.early_stopping", "needs training.eval_every (and held-out examples) to watch the validation loss") }
        }
        if let c = training.clip, c.value == nil && c.norm == nil { throw fail("training.clip", "give 'value' or 'norm'") }
        if data.maxLength < 1 { throw fail("data.max_length", "must be at least 1") }
        if targets.isEmpty { throw fail("targets", "at least one target is needed") }
        if data.sources.isEmpty { throw fail("data.sources", "at least one data source is needed") }
        var names = Set<String>()
        for (i, s) in data.sources.enumerated() {
            guard let cfg = s.config as? DataSourcePluginConfig else { continue }
            if cfg.name.isEmpty { throw fail("data.sources.\(i).name", "must not be empty") }
            if !names.insert(cfg.name).inserted { throw fail("data.sources.\(i).name", "duplicate source name '\(cfg.name)'") }
            if !(cfg.weight >= 0 && cfg.weight.isFinite) { throw fail("data.sources.\(i).weight", "must be a finite number >= 0, got \(cfg.weight)") }
            if !(0..<1).contains(cfg.validationFraction) { throw fail("data.sources.\(i).validation_fraction", "must be in [0, 1), got \(cfg.validationFraction)") }
        }
        if let cur = data.curriculum {
            var last = 0.0
            for (i, st) in cur.enumerated() {
                if st.until <= last || st.until > 1 { throw fail("data.curriculum.\(i).until", "must increase within (0, 1]") }
                if st.maxLength < 1 { throw fail("data.curriculum.\(i).max_length", "must be at least 1") }
                last = st.until
            }
        }
    }

    /// Residues per example at `step` of `total` (curriculum or max_length).
    public func maxLength(atStep step: Int) -> Int {
        guard let cur = data.curriculum else { return data.maxLength }
        for st in cur where Double(step) < st.until * Double(training.steps) { return st.maxLength }
        return cur.last?.maxLength ?? data.maxLength
    }
}

/// Reads recipes: YAML → `--set` overrides → strict decode → validation.
public enum RecipeLoader {
    /// Loads `path`, applying `overrides` (`a.b.0.c=value`, value parsed as YAML).
    public static func load(path: String, overrides: [String] = [], registry: PluginRegistry) throws -> (recipe: Recipe, node: Node) {
        let url = URL(fileURLWithPath: path)
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw RecipeError(file: path, keyPath: "", "cannot read the recipe: \(error.localizedDescription)")
        }
        var node = try StrictYAML.compose(text, file: path)
        for o in overrides { node = try applyOverride(o, to: node, file: path) }
        let recipe = try StrictYAML.decode(Recipe.self, node: node, file: path,
                                           baseDirectory: url.deletingLastPathComponent().standardizedFileURL,
                                           userInfo: [.plmRegistry: registry])
        try recipe.validate(file: path, node: node)
        return (recipe, node)
    }

    /// Sets `key.path=value` in a node tree. The value is parsed as YAML, so
    /// `--set training.steps=100` is a number and `--set a=[1, 2]` a list;
    /// the schema then checks its type. Missing keys are created (and an
    /// unknown one is then reported by the strict decode).
    public static func applyOverride(_ spec: String, to node: Node, file: String) throws -> Node {
        guard let eq = spec.firstIndex(of: "="), eq != spec.startIndex else {
            throw RecipeError(file: "--set", keyPath: spec, "expected key.path=value")
        }
        let path = spec[..<eq].split(separator: ".").map(String.init)
        let valueText = String(spec[spec.index(after: eq)...])
        let value: Node
        do { value = try Yams.compose(yaml: valueText) ?? Node("") } catch {
            throw RecipeError(file: "--set", keyPath: path.joined(separator: "."), "value '\(valueText)' is not valid YAML")
        }
        func set(_ n: Node, _ rest: ArraySlice<String>, _ done: [String]) throws -> Node {
            guard let key = rest.first else { return value }
            let here = (done + [key]).joined(separator: ".")
            if var s = n.sequence {
                guard let i = Int(key), i >= 0, i < s.count else {
                    throw RecipeError(file: "--set", keyPath: here, "'\(key)' is not an index of this list (0..<\(s.count))")
                }
                s[i] = try set(s[i], rest.dropFirst(), done + [key])
                return .sequence(s)
            }
            var m = n.mapping ?? Node.Mapping([])
            let child = m[key] ?? .mapping(Node.Mapping([]))
            m[key] = try set(child, rest.dropFirst(), done + [key])
            return .mapping(m)
        }
        return try set(node, path[...], [])
    }

    /// Line of a dotted key path in the node tree, if present.
    static func line(of path: String, in node: Node) -> Int? {
        var n = node
        var mark = node.mark
        for key in path.split(separator: ".").map(String.init) {
            if let s = n.sequence, let i = Int(key), i < s.count { n = s[i]; mark = n.mark; continue }
            guard let m = n.mapping, let pair = m.first(where: { $0.key.string == key }) else { return mark?.line }
            mark = pair.key.mark
            n = pair.value
        }
        return mark?.line
    }

    /// The recipe with every default filled in and paths resolved, as YAML.
    public static func resolvedYAML(_ recipe: Recipe) throws -> String {
        let text = try YAMLEncoder().encode(recipe)
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { tidyNumber(String($0)) }.joined(separator: "\n")
    }

    /// Yams writes every float in scientific notation with the Float→Double
    /// widening visible (`3.00000002607703e-3`); print the shortest form that
    /// reads back to the same value instead (`0.003`).
    static func tidyNumber(_ line: String) -> String {
        let prefixEnd: String.Index
        if let r = line.range(of: ": ", options: .backwards) { prefixEnd = r.upperBound }
        else if let r = line.range(of: "- ", options: .backwards), line[..<r.lowerBound].allSatisfy({ $0 == " " }) { prefixEnd = r.upperBound }
        else { return line }
        let value = String(line[prefixEnd...])
        guard value.contains("e"), !value.contains(" "), let d = Double(value), d.isFinite else { return line }
        let f = Float(d)
        let shortest = abs(Double(f) - d) <= 1e-12 * abs(d) ? "\(f)" : "\(d)"
        return String(line[..<prefixEnd]) + shortest
    }
}
