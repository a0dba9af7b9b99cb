import Foundation
import Testing

/// Runs the built `plm` executable (it sits beside the test bundle in the
/// build products directory) and captures its output.
func runPLM(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let bin = productsDirectory().appendingPathComponent("plm")
    let p = Process()
    p.executableURL = bin
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}

func productsDirectory() -> URL {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("plm").path) { return url }
    }
    return URL(fileURLWithPath: ".build/debug")
}

@Suite("plm CLI")
struct CLITests {
    @Test("--version prints the version and exits 0")
    func version() throws {
        let r = try runPLM(["--version"])
        #expect(r.status == 0)
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "plm 0.1.0")
    }

    @Test("plugins lists every category")
    func plugins() throws {
        let r = try runPLM(["plugins", "--json"])
        #expect(r.status == 0)
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: [String]]
        #expect(Set(obj?.keys.map { $0 } ?? []) == ["encoder", "target", "tuning", "data_source", "optimizer", "schedule"])
        let table = try runPLM(["plugins"])
        #expect(table.status == 0 && table.stdout.contains("encoder:"))
    }

    @Test("info reports threads and the OpenBLAS core")
    func info() throws {
        let r = try runPLM(["info"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("openblas core: "))
        #expect(!r.stdout.contains("openblas core: unknown"))
    }

    @Test("an unknown subcommand fails with a usage message")
    func unknown() throws {
        let r = try runPLM(["frobnicate"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("Unexpected argument") || r.stderr.contains("frobnicate"))
    }
}
