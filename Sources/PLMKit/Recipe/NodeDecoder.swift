import Foundation
import Yams

/// Shared state of one strict decode: which mapping keys were read, and
/// which keys the schema asked for (present or not), by mapping path.
final class StrictDecodeState {
    let file: String
    let baseDirectory: URL
    let userInfo: [CodingUserInfoKey: Any]
    var consumed = Set<String>()              // "path\u{0}key"
    var asked: [String: Set<String>] = [:]    // mapping path -> keys the schema knows

    init(file: String, baseDirectory: URL, userInfo: [CodingUserInfoKey: Any]) {
        self.file = file
        self.baseDirectory = baseDirectory
        self.userInfo = userInfo
    }
}

func pathString(_ path: [CodingKey]) -> String {
    path.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
}

struct IndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ i: Int) { stringValue = String(i); intValue = i }
    init?(stringValue: String) { self.stringValue = stringValue; intValue = Int(stringValue) }
    init?(intValue: Int) { self.init(intValue) }
}

/// A `Decoder` over a Yams `Node` that reports errors with key path and line,
/// and remembers which keys were read so that unknown keys can be reported
/// afterwards (`StrictYAML.decode`). Scalars are converted by the requested
/// type: `1e-4` is a number where a number is wanted and a string where a
/// string is wanted.
struct NodeDecoder: Decoder {
    let node: Node
    let codingPath: [CodingKey]
    let state: StrictDecodeState
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func error(_ message: String, at node: Node? = nil, key: CodingKey? = nil) -> RecipeError {
        let n = node ?? self.node
        let path = key.map { codingPath + [$0] } ?? codingPath
        return RecipeError(file: state.file, keyPath: pathString(path), line: n.mark.map { $0.line },
                           column: n.mark.map { $0.column }, message)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard let m = node.mapping else { throw error("expected a mapping (key: value pairs), got \(describe(node))") }
        return KeyedDecodingContainer(MappingContainer<Key>(mapping: m, decoder: self))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard let s = node.sequence else { throw error("expected a list, got \(describe(node))") }
        return SequenceContainer(items: Array(s), decoder: self)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { ScalarContainer(decoder: self) }

    /// Marks every key below this node as read (for values decoded as raw nodes).
    func consumeAll() {
        func walk(_ n: Node, _ p: String) {
            if let m = n.mapping {
                for (k, v) in m { if let ks = k.string { state.consumed.insert(p + "\u{0}" + ks); walk(v, p.isEmpty ? ks : p + "." + ks) } }
            } else if let s = n.sequence {
                for (i, v) in s.enumerated() { walk(v, p.isEmpty ? "\(i)" : p + ".\(i)") }
            }
        }
        walk(node, pathString(codingPath))
    }
}

func describe(_ n: Node) -> String {
    switch n {
    case .scalar(let s): return "'\(s.string)'"
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    }
}

struct MappingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let mapping: Node.Mapping
    let decoder: NodeDecoder
    var codingPath: [CodingKey] { decoder.codingPath }
    var path: String { pathString(codingPath) }

    var allKeys: [Key] { mapping.keys.compactMap { $0.string.flatMap(Key.init(stringValue:)) } }

    func value(_ key: CodingKey) -> Node? {
        decoder.state.asked[path, default: []].insert(key.stringValue)
        guard let v = mapping[key.stringValue] else { return nil }
        decoder.state.consumed.insert(path + "\u{0}" + key.stringValue)
        return v
    }

    func contains(_ key: Key) -> Bool {
        decoder.state.asked[path, default: []].insert(key.stringValue)
        return mapping[key.stringValue] != nil
    }

    func child(_ key: CodingKey) throws -> NodeDecoder {
        guard let v = value(key) else {
            throw decoder.error("missing required key '\(key.stringValue)'")
        }
        return NodeDecoder(node: v, codingPath: codingPath + [key], state: decoder.state)
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let v = value(key) else { return true }
        return isNull(v)
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try T(from: child(key))
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let v = value(key), !isNull(v) else { return nil }
        return try T(from: NodeDecoder(node: v, codingPath: codingPath + [key], state: decoder.state))
    }

    func nestedContainer<N: CodingKey>(keyedBy type: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> Decoder { try child(key) }
}

func isNull(_ n: Node) -> Bool {
    guard case let .scalar(s) = n else { return false }
    return s.style == .plain && ["", "~", "null", "Null", "NULL"].contains(s.string)
}

struct SequenceContainer: UnkeyedDecodingContainer {
    let items: [Node]
    let decoder: NodeDecoder
    var currentIndex = 0
    var codingPath: [CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [Node], decoder: NodeDecoder) {
        self.items = items
        self.decoder = decoder
    }

    mutating func next() throws -> NodeDecoder {
        guard !isAtEnd else { throw decoder.error("the list has too few items (\(items.count))") }
        defer { currentIndex += 1 }
        return NodeDecoder(node: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)], state: decoder.state)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return false }
        if isNull(items[currentIndex]) { currentIndex += 1; return true }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: next()) }
    mutating func nestedContainer<N: CodingKey>(keyedBy type: N.Type) throws -> KeyedDecodingContainer<N> { try next().container(keyedBy: type) }
    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> Decoder { try next() }
}

struct ScalarContainer: SingleValueDecodingContainer {
    let decoder: NodeDecoder
    var codingPath: [CodingKey] { decoder.codingPath }

    func scalar(_ what: String) throws -> String {
        guard case let .scalar(s) = decoder.node else { throw decoder.error("expected \(what), got \(describe(decoder.node))") }
        return s.string
    }

    func decodeNil() -> Bool { isNull(decoder.node) }

    func decode(_ type: Bool.Type) throws -> Bool {
        let s = try scalar("true or false")
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw decoder.error("expected true or false, got '\(s)'")
        }
    }

    func decode(_ type: String.Type) throws -> String { try scalar("a string") }

    func number(_ what: String) throws -> Double {
        let s = try scalar(what)
        switch s.lowercased() {
        case ".inf", "+.inf", "inf": return .infinity
        case "-.inf", "-inf": return -.infinity
        case ".nan", "nan": return .nan
        default: break
        }
        guard let v = Double(s.replacingOccurrences(of: "_", with: "")) else { throw decoder.error("expected \(what), got '\(s)'") }
        return v
    }

    func integer<T: FixedWidthInteger>(_ t: T.Type) throws -> T {
        let s = try scalar("an integer")
        let clean = s.replacingOccurrences(of: "_", with: "")
        if let v = T(clean) { return v }
        // Accept integral floats written in scientific notation (e.g. 2e5 steps).
        if let d = Double(clean), d.rounded() == d, let v = T(exactly: d) { return v }
        throw decoder.error("expected an integer, got '\(s)'")
    }

    func decode(_ type: Double.Type) throws -> Double { try number("a number") }
    func decode(_ type: Float.Type) throws -> Float { Float(try number("a number")) }
    func decode(_ type: Int.Type) throws -> Int { try integer(Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(UInt.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(UInt64.self) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: decoder) }
}

/// Strict YAML decoding entry points.
public enum StrictYAML {
    /// Decodes `T` from YAML text; unknown keys, wrong types and missing keys
    /// throw `RecipeError` naming the key path and line.
    public static func decode<T: Decodable>(_ type: T.Type, yaml: String, file: String, baseDirectory: URL,
                                            userInfo: [CodingUserInfoKey: Any] = [:]) throws -> T {
        let node = try compose(yaml, file: file)
        return try decode(type, node: node, file: file, baseDirectory: baseDirectory, userInfo: userInfo)
    }

    /// Parses YAML into a node tree (empty documents become an empty mapping).
    public static func compose(_ yaml: String, file: String) throws -> Node {
        do {
            return try Yams.compose(yaml: yaml) ?? Node.mapping(Node.Mapping([]))
        } catch let e as YamlError {
            throw RecipeError(file: file, keyPath: "", "YAML syntax error: \(e)")
        }
    }

    public static func decode<T: Decodable>(_ type: T.Type, node: Node, file: String, baseDirectory: URL,
                                            userInfo: [CodingUserInfoKey: Any] = [:]) throws -> T {
        let state = StrictDecodeState(file: file, baseDirectory: baseDirectory, userInfo: userInfo)
        let value = try T(from: NodeDecoder(node: node, codingPath: [], state: state))
        try checkUnknownKeys(node, path: "", state: state)
        return value
    }

    static func checkUnknownKeys(_ node: Node, path: String, state: StrictDecodeState) throws {
        if let m = node.mapping {
            for (k, v) in m {
                guard let key = k.string else { continue }
                let childPath = path.isEmpty ? key : path + "." + key
                if !state.consumed.contains(path + "\u{0}" + key) {
                    var msg = "unknown key '\(key)'"
                    let known = Array(state.asked[path] ?? [])
                    if let c = closest(key, among: known) { msg += " (did you mean '\(c)'?)" }
                    else if !known.isEmpty { msg += "; known keys here: \(known.sorted().joined(separator: ", "))" }
                    throw RecipeError(file: state.file, keyPath: childPath, line: k.mark?.line, column: k.mark?.column, msg)
                }
                try checkUnknownKeys(v, path: childPath, state: state)
            }
        } else if let s = node.sequence {
            for (i, v) in s.enumerated() { try checkUnknownKeys(v, path: path.isEmpty ? "\(i)" : path + ".\(i)", state: state) }
        }
    }
}

/// A filesystem path from a recipe, resolved against the recipe's folder.
public struct RecipePath: Codable, Equatable, Sendable, CustomStringConvertible {
    /// As written in the recipe.
    public var raw: String
    /// Absolute path.
    public var path: String

    public init(_ path: String) { raw = path; self.path = path }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        raw = try c.decode(String.self)
        if let d = decoder as? NodeDecoder, !raw.hasPrefix("/") {
            path = d.state.baseDirectory.appendingPathComponent(raw).standardizedFileURL.path
        } else {
            path = raw
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(path)
    }

    public var url: URL { URL(fileURLWithPath: path) }
    public var description: String { path }
}

/// An error about a recipe value, located at `key` of the section `decoder`
/// is reading (file, key path, line). For plugin configs' own validation.
public func recipeError(_ decoder: Decoder, key: CodingKey? = nil, _ message: String) -> Error {
    if let d = decoder as? NodeDecoder {
        var at: Node? = nil
        if let key, let m = d.node.mapping { at = m.first(where: { $0.key.string == key.stringValue })?.value }
        return d.error(message, at: at, key: key)
    }
    let path = pathString(decoder.codingPath + (key.map { [$0] } ?? []))
    return RecipeError(file: "<recipe>", keyPath: path, message)
}
