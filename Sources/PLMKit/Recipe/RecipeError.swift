import Foundation

/// A problem in a recipe, located by file, key path and line.
public struct RecipeError: Error, CustomStringConvertible, Equatable {
    public var file: String
    /// Dotted key path, list items by index (e.g. `data.sources.1.path`).
    public var keyPath: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(file: String, keyPath: String, line: Int? = nil, column: Int? = nil, _ message: String) {
        self.file = file
        self.keyPath = keyPath
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var loc = file
        if let line { loc += ":\(line)" + (column.map { ":\($0)" } ?? "") }
        return "\(loc): \(keyPath.isEmpty ? "(top level)" : keyPath): \(message)"
    }
}

/// Levenshtein distance, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a), y = Array(b)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var prev = Array(0...y.count), cur = [Int](repeating: 0, count: y.count + 1)
    for i in 1...x.count {
        cur[0] = i
        for j in 1...y.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[y.count]
}

func closest(_ key: String, among candidates: [String]) -> String? {
    let best = candidates.map { ($0, editDistance(key, $0)) }.min { $0.1 < $1.1 }
    guard let (c, d) = best, d <= max(2, key.count / 3) else { return nil }
    return c
}
