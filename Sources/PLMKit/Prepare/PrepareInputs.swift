import Foundation

// Inputs of `plm prepare nma|contact-map`: one structure file, every structure
// file in a directory, or a list file. Names default to the file stem.

/// One structure (or topology + trajectory) to prepare and the name it is stored under.
public struct PrepareItem: Sendable, Equatable {
    /// Path of the PDB / mmCIF file (`plm prepare md`: the topology).
    public var path: String
    /// Name in the output file (HDF5 dataset / group name).
    public var name: String
    /// `plm prepare md`: the trajectory (DCD / XTC) read with the topology `path`.
    public var trajectory: String?

    public init(path: String, name: String, trajectory: String? = nil) {
        self.path = path
        self.name = name
        self.trajectory = trajectory
    }

    /// The input as reports show it: the path, or `topology + trajectory`.
    public var label: String { trajectory.map { "\(path) + \($0)" } ?? path }
}

/// A problem with the inputs as a whole (not with one structure): bad paths, bad list lines.
public struct PrepareInputError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Finds the structures named by `--structure` / `--list`.
public enum PrepareInputs {
    /// File extensions read as structures (case-insensitive).
    public static let structureExtensions: Set<String> = ["pdb", "ent", "cif", "mmcif"]

    /// Default name of a structure: the file name without its extension (`1abc.pdb` -> `1abc`).
    public static func defaultName(_ path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    /// Resolves the inputs.
    /// - `structure`: a structure file, or a directory whose structure files (by extension,
    ///   not recursive, sorted by name) are all taken.
    /// - `list`: a text file with one structure per line: `PATH [NAME]` (whitespace-separated;
    ///   relative paths resolve against the list file's folder; blank lines and `#` comments skipped).
    /// - `name`: overrides the name; only with exactly one structure file.
    /// Names must be unique and must not contain '/'.
    public static func resolve(structure: String?, list: String?, name: String?) throws -> [PrepareItem] {
        var items: [PrepareItem] = []
        var singleFile = false
        if let structure {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: structure, isDirectory: &isDir) else {
                throw PrepareInputError("--structure \(structure): no such file or directory")
            }
            if isDir.boolValue {
                let entries = try FileManager.default.contentsOfDirectory(atPath: structure).sorted()
                for e in entries where structureExtensions.contains(URL(fileURLWithPath: e).pathExtension.lowercased()) {
                    let p = (structure as NSString).appendingPathComponent(e)
                    var sub: ObjCBool = false
                    if FileManager.default.fileExists(atPath: p, isDirectory: &sub), !sub.boolValue {
                        items.append(PrepareItem(path: p, name: defaultName(p)))
                    }
                }
                if items.isEmpty {
                    throw PrepareInputError("--structure \(structure): directory holds no .pdb, .ent, .cif or .mmcif files")
                }
            } else {
                items.append(PrepareItem(path: structure, name: defaultName(structure)))
                singleFile = true
            }
        }
        if let list {
            items += try readList(list)
        }
        guard !items.isEmpty else { throw PrepareInputError("give --structure FILE|DIR or --list FILE") }
        if let name {
            guard singleFile, items.count == 1 else {
                throw PrepareInputError("--name applies to a single --structure file (\(items.count) structures given); name list entries with a second column instead")
            }
            items[0].name = name
        }
        try checkNames(items, listHint: "--list PATH NAME")
        return items
    }

    /// Output names must be non-empty, free of '/' and unique; errors name both inputs and
    /// `listHint` (how to give distinct names).
    public static func checkNames(_ items: [PrepareItem], listHint: String) throws {
        var seen: [String: String] = [:]
        for it in items {
            guard !it.name.isEmpty, !it.name.contains("/") else {
                throw PrepareInputError("\(it.label): name '\(it.name)' must be non-empty and must not contain '/'")
            }
            if let other = seen[it.name] {
                throw PrepareInputError("name '\(it.name)' is used by both \(other) and \(it.label); give distinct names (\(listHint))")
            }
            seen[it.name] = it.label
        }
    }

    /// Reads a list file (see `resolve`).
    public static func readList(_ path: String) throws -> [PrepareItem] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw PrepareInputError("--list \(path): cannot read the file")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        var out: [PrepareItem] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let cols = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard cols.count <= 2 else {
                throw PrepareInputError("\(path):\(i + 1): expected 'PATH [NAME]', found \(cols.count) columns")
            }
            let p = cols[0].hasPrefix("/") ? cols[0] : base.appendingPathComponent(cols[0]).path
            out.append(PrepareItem(path: p, name: cols.count == 2 ? cols[1] : defaultName(p)))
        }
        if out.isEmpty { throw PrepareInputError("--list \(path): no structures listed") }
        return out
    }

    /// Parses `--chain A` / `--chain A,B` (nil = every chain). A blank chain ID is written as `_`.
    public static func parseChains(_ text: String?) throws -> [String]? {
        guard let text else { return nil }
        let raw = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let ids = raw.map { $0 == "_" ? "" : $0 }
        guard !raw.isEmpty, !raw.contains(""), Set(ids).count == ids.count else {
            throw PrepareInputError("--chain '\(text)': give chain IDs separated by commas, each once ('_' for a blank chain ID)")
        }
        return ids
    }
}
