import Foundation

// Inputs of `plm prepare md`: one topology + trajectory pair, a list file of
// pairs, or a directory with one folder per protein (the layout of ATLAS /
// mdCATH downloads after unpacking). Each becomes a `PrepareItem` whose `path`
// is the topology and `trajectory` the trajectory.

/// Topology + trajectory pairs for `plm prepare md`, and the folders that gave none.
public struct MDPrepareInputs: Sendable {
    /// Pairs to prepare, in input order.
    public var items: [PrepareItem]
    /// Folders of `--dir` that could not be paired (status `.failed`, with the reason) or hold
    /// no trajectory at all (status `.skipped`).
    public var rejected: [PrepareRecord]

    /// Topology file extensions (what `MDTopology` reads).
    public static let topologyExtensions: Set<String> = ["pdb", "ent", "cif", "mmcif"]
    /// Trajectory file extensions.
    public static let trajectoryExtensions: Set<String> = ["xtc", "dcd"]

    /// Resolves the inputs (any combination; at least one):
    /// - `topology` + `trajectory`: one pair, named `name` or the topology's file stem.
    /// - `list`: a text file, one pair per line: `TOPOLOGY TRAJECTORY [NAME]` (whitespace-separated;
    ///   relative paths from the list's folder; blank lines and `#` comments skipped).
    /// - `directory`: every sub-folder is one protein named after the folder (a folder without
    ///   sub-folders is itself the one protein). It must hold one topology (.pdb/.ent/.cif/.mmcif)
    ///   and one trajectory (.xtc/.dcd); `prefer` (`xtc` or `dcd`) picks between trajectories of
    ///   both kinds, and among several topologies the one with the trajectory's stem is taken.
    ///   Folders that cannot be paired are `rejected` with the reason, never fatal for the rest.
    /// Names must be unique and must not contain '/'.
    public static func resolve(topology: String?, trajectory: String?, list: String?, directory: String?,
                               prefer: String? = nil, name: String? = nil) throws -> MDPrepareInputs {
        var items: [PrepareItem] = []
        var rejected: [PrepareRecord] = []
        switch (topology, trajectory) {
        case let (t?, x?): items.append(PrepareItem(path: t, name: name ?? MDPrepare.defaultName(topology: t), trajectory: x))
        case (nil, nil): break
        case (_?, nil): throw PrepareInputError("--topology needs --trajectory (or use --list / --dir for many)")
        case (nil, _?): throw PrepareInputError("--trajectory needs --topology (or use --list / --dir for many)")
        }
        if name != nil && (topology == nil || list != nil || directory != nil) {
            throw PrepareInputError("--name applies to a single --topology/--trajectory pair; name list entries with a third column instead")
        }
        if let prefer, !trajectoryExtensions.contains(prefer.lowercased()) {
            throw PrepareInputError("--prefer must be xtc or dcd, got '\(prefer)'")
        }
        if let list { items += try readList(list) }
        if let directory {
            let found = try scan(directory, prefer: prefer?.lowercased())
            items += found.items
            rejected += found.rejected
        }
        guard !items.isEmpty || !rejected.isEmpty else {
            throw PrepareInputError("give --topology T --trajectory X, --list FILE or --dir DIR")
        }
        try PrepareInputs.checkNames(items, listHint: "--list TOPOLOGY TRAJECTORY NAME")
        return MDPrepareInputs(items: items, rejected: rejected)
    }

    /// Reads a list file of `TOPOLOGY TRAJECTORY [NAME]` lines (see `resolve`).
    public static func readList(_ path: String) throws -> [PrepareItem] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw PrepareInputError("--list \(path): cannot read the file")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ p: String) -> String { p.hasPrefix("/") ? p : base.appendingPathComponent(p).path }
        var out: [PrepareItem] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let cols = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard cols.count == 2 || cols.count == 3 else {
                throw PrepareInputError("\(path):\(i + 1): expected 'TOPOLOGY TRAJECTORY [NAME]', found \(cols.count) column\(cols.count == 1 ? "" : "s")")
            }
            let ext = URL(fileURLWithPath: cols[1]).pathExtension.lowercased()
            guard trajectoryExtensions.contains(ext) else {
                throw PrepareInputError("\(path):\(i + 1): the second column must be a .xtc or .dcd trajectory, got '\(cols[1])'")
            }
            let top = resolve(cols[0])
            out.append(PrepareItem(path: top, name: cols.count == 3 ? cols[2] : MDPrepare.defaultName(topology: top),
                                   trajectory: resolve(cols[1])))
        }
        if out.isEmpty { throw PrepareInputError("--list \(path): no trajectories listed") }
        return out
    }

    /// One protein per sub-folder of `directory` (see `resolve`).
    static func scan(_ directory: String, prefer: String?) throws -> (items: [PrepareItem], rejected: [PrepareRecord]) {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw PrepareInputError("--dir \(directory): no such directory")
        }
        func entries(_ d: String) throws -> (files: [String], folders: [String]) {
            var files: [String] = [], folders: [String] = []
            for e in try fm.contentsOfDirectory(atPath: d).sorted() where !e.hasPrefix(".") {
                let p = (d as NSString).appendingPathComponent(e)
                var sub: ObjCBool = false
                guard fm.fileExists(atPath: p, isDirectory: &sub) else { continue }
                if sub.boolValue { folders.append(p) } else { files.append(p) }
            }
            return (files, folders)
        }
        let top = try entries(directory)
        let folders = top.folders.isEmpty ? [directory] : top.folders
        var items: [PrepareItem] = []
        var rejected: [PrepareRecord] = []
        for folder in folders {
            let name = URL(fileURLWithPath: folder).lastPathComponent
            let files = try entries(folder).files
            func ext(_ p: String) -> String { URL(fileURLWithPath: p).pathExtension.lowercased() }
            func stem(_ p: String) -> String { URL(fileURLWithPath: p).deletingPathExtension().lastPathComponent }
            func names(_ ps: [String]) -> String { ps.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", ") }
            var trajectories = files.filter { trajectoryExtensions.contains(ext($0)) }
            let topologies = files.filter { topologyExtensions.contains(ext($0)) }
            func reject(_ status: PrepareRecord.Status, _ reason: String) {
                rejected.append(PrepareRecord(item: PrepareItem(path: folder, name: name), status: status, residues: 0, reason: reason))
            }
            if trajectories.isEmpty { reject(.skipped, "no .xtc or .dcd trajectory in the folder"); continue }
            if trajectories.count > 1, let prefer {
                let kept = trajectories.filter { ext($0) == prefer }
                if !kept.isEmpty { trajectories = kept }
            }
            guard trajectories.count == 1 else {
                reject(.failed, "\(trajectories.count) trajectories (\(names(trajectories))): keep one per folder, pass --prefer xtc|dcd, or pair them with --list")
                continue
            }
            let trajectory = trajectories[0]
            var topology = topologies
            if topology.count > 1 {
                let same = topology.filter { stem($0) == stem(trajectory) }
                if same.count == 1 { topology = same }
            }
            guard topology.count == 1 else {
                reject(.failed, topology.isEmpty
                       ? "no topology (.pdb/.ent/.cif/.mmcif) beside \(names([trajectory]))"
                       : "\(topology.count) topologies (\(names(topology))) and none named like \(names([trajectory])); pair them with --list")
                continue
            }
            items.append(PrepareItem(path: topology[0], name: name, trajectory: trajectory))
        }
        return (items, rejected)
    }
}

extension PrepareReport {
    /// The report with `records` (input problems found before the run) put first.
    public func including(_ records: [PrepareRecord]) -> PrepareReport {
        var r = self
        r.records = records + r.records
        r.total += records.count
        return r
    }
}
