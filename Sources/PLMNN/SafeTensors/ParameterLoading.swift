import Foundation
import PLMTensor

/// Which differences between a model's parameters and a checkpoint are allowed.
///
/// Patterns are exact names or globs where `*` matches any run of characters
/// (dots included), e.g. `esm.encoder.layer.*.attention.self.rotary_embeddings.inv_freq`.
public struct ParameterLoadingPolicy: Sendable, Equatable {
    /// File tensors that may be left unused (not expected by the model).
    public var ignoredUnused: [String]
    /// Expected parameters that may be absent from the file (the model keeps its own value).
    public var allowedMissing: [String]

    /// A policy from glob patterns (exact names or `*` wildcards).
    public init(ignoredUnused: [String] = [], allowedMissing: [String] = []) {
        self.ignoredUnused = ignoredUnused
        self.allowedMissing = allowedMissing
    }

    /// No allowances: every key must match exactly.
    public static let strict = ParameterLoadingPolicy()

    /// HuggingFace ESM checkpoints: the tied `lm_head.decoder.weight` may be
    /// present or absent, the legacy int64 `esm.embeddings.position_ids` and the
    /// unused (rotary models) `esm.embeddings.position_embeddings.weight` may be
    /// left over, and rotary `inv_freq` buffers may be missing (then recomputed).
    public static let huggingFaceESM = ParameterLoadingPolicy(
        ignoredUnused: [
            "lm_head.decoder.weight",
            "esm.embeddings.position_ids",
            "esm.embeddings.position_embeddings.weight",
        ],
        allowedMissing: [
            "lm_head.decoder.weight",
            "esm.encoder.layer.*.attention.self.rotary_embeddings.inv_freq",
        ])

    func isIgnoredUnused(_ name: String) -> Bool { ignoredUnused.contains { globMatch($0, name) } }
    func isAllowedMissing(_ name: String) -> Bool { allowedMissing.contains { globMatch($0, name) } }
}

/// `*` matches any (possibly empty) run of characters; everything else is literal.
func globMatch(_ pattern: String, _ name: String) -> Bool {
    let p = Array(pattern.utf8), s = Array(name.utf8)
    var pi = 0, si = 0, star = -1, mark = 0
    while si < s.count {
        if pi < p.count, p[pi] != UInt8(ascii: "*"), p[pi] == s[si] {
            pi += 1; si += 1
        } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
            star = pi; mark = si; pi += 1
        } else if star >= 0 {
            pi = star + 1; mark += 1; si = mark
        } else {
            return false
        }
    }
    while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
    return pi == p.count
}

/// Everything that keeps a checkpoint from loading into a model, reported at once.
public struct ParameterMismatchError: Error, Equatable, CustomStringConvertible, Sendable {
    /// One parameter whose shape differs between the model and the file.
    public struct ShapeMismatch: Equatable, Sendable {
        /// The parameter name.
        public let name: String
        /// The model's shape.
        public let expected: [Int]
        /// The file's shape.
        public let found: [Int]
    }

    /// Path of the checkpoint.
    public let file: String
    /// Expected parameters absent from the file (sorted).
    public let missing: [String]
    /// File tensors the model does not use (sorted).
    public let unused: [String]
    /// Parameters whose shapes differ (sorted by name).
    public let shapeMismatches: [ShapeMismatch]
    /// Expected parameters stored with a dtype that cannot be read: (name, dtype), sorted.
    public let unreadable: [(name: String, dtype: String)]

    /// True when nothing is wrong (the file loads).
    public var isEmpty: Bool { missing.isEmpty && unused.isEmpty && shapeMismatches.isEmpty && unreadable.isEmpty }

    public static func == (a: ParameterMismatchError, b: ParameterMismatchError) -> Bool {
        a.file == b.file && a.missing == b.missing && a.unused == b.unused && a.shapeMismatches == b.shapeMismatches
            && a.unreadable.map(\.name) == b.unreadable.map(\.name) && a.unreadable.map(\.dtype) == b.unreadable.map(\.dtype)
    }

    public var description: String {
        var lines = ["checkpoint \(file) does not match the model:"]
        func dims(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
        if !missing.isEmpty { lines.append("  missing (\(missing.count)): " + missing.joined(separator: ", ")) }
        if !unused.isEmpty { lines.append("  unused (\(unused.count)): " + unused.joined(separator: ", ")) }
        for m in shapeMismatches {
            lines.append("  shape mismatch: \(m.name): model \(dims(m.expected)), file \(dims(m.found))")
        }
        for u in unreadable { lines.append("  unsupported dtype: \(u.name) is \(u.dtype)") }
        return lines.joined(separator: "\n")
    }
}

extension SafeTensorsFile {
    /// Compares the file with a model's parameters (name -> shape) under a policy.
    /// Returns the differences that the policy does not allow (`isEmpty` when none).
    public func checkParameters(_ expected: [String: [Int]], policy: ParameterLoadingPolicy = .strict) -> ParameterMismatchError {
        var missing: [String] = [], mismatches: [ParameterMismatchError.ShapeMismatch] = []
        var unreadable: [(name: String, dtype: String)] = []
        for name in expected.keys.sorted() {
            guard let e = info(name) else {
                if !policy.isAllowedMissing(name) { missing.append(name) }
                continue
            }
            if e.shape != expected[name]! {
                mismatches.append(.init(name: name, expected: expected[name]!, found: e.shape))
            }
            if !e.dtype.isReadable { unreadable.append((name, e.dtype.rawValue)) }
        }
        let unused = names.filter { expected[$0] == nil && !policy.isIgnoredUnused($0) }
        return ParameterMismatchError(file: url.path, missing: missing, unused: unused,
                                      shapeMismatches: mismatches, unreadable: unreadable)
    }

    /// Loads a model's parameters after a strict check.
    ///
    /// Throws one `ParameterMismatchError` listing every missing key, unused
    /// key, shape mismatch and unreadable dtype the policy does not allow.
    /// Returns the expected tensors present in the file (allowed-missing ones
    /// are simply absent from the result). F32 data is zero-copy unless `copy`.
    public func loadParameters(_ expected: [String: [Int]], policy: ParameterLoadingPolicy = .strict,
                               copy: Bool = false) throws -> [String: Tensor] {
        let report = checkParameters(expected, policy: policy)
        guard report.isEmpty else { throw report }
        var out: [String: Tensor] = [:]
        for name in expected.keys where contains(name) { out[name] = try tensor(name, copy: copy) }
        return out
    }
}
