import Foundation

/// A progress bar on standard error: `label  42% |████▌     | 420/1000 seq  1234 tok/s  ETA 0:12`.
///
/// On a terminal it redraws in place (at most 10 times a second); otherwise
/// (CI logs, pipes) it prints a plain line at every 10% and at the end.
/// Rates and ETA come from the work done since `start`.
public final class ProgressBar {
    public let label: String
    public let total: Int
    public let unit: String
    private let start = Date()
    private var done = 0
    private var tokens = 0
    private var lastDraw = Date.distantPast
    private var lastDecile = -1
    private let isTTY: Bool
    private let enabled: Bool
    private var extra: String = ""

    /// `enabled: false` silences it (e.g. `--quiet`).
    public init(_ label: String, total: Int, unit: String = "it", enabled: Bool = true) {
        self.label = label
        self.total = max(total, 0)
        self.unit = unit
        self.enabled = enabled
        isTTY = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["CI"] == nil
    }

    /// Adds `count` finished items and `tokens` processed tokens; `note` shows after the rate.
    public func advance(_ count: Int = 1, tokens: Int = 0, note: String? = nil) {
        done += count
        self.tokens += tokens
        if let note { extra = note }
        draw(force: done >= total)
    }

    /// Final line (always printed when enabled).
    public func finish(_ message: String? = nil) {
        draw(force: true)
        if enabled && isTTY { FileHandle.standardError.write(Data("\n".utf8)) }
        if enabled, let message { FileHandle.standardError.write(Data((message + "\n").utf8)) }
    }

    public var elapsed: TimeInterval { Date().timeIntervalSince(start) }
    public var tokensPerSecond: Double { elapsed > 0 ? Double(tokens) / elapsed : 0 }

    static func clock(_ s: Double) -> String {
        guard s.isFinite, s >= 0 else { return "--:--" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
    }

    /// The line as it would be drawn now (exposed for tests).
    public func render(width: Int = 24) -> String {
        let frac = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let cells = frac * Double(width)
        let full = Int(cells)
        let partials = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        var bar = String(repeating: "█", count: full)
        if full < width { bar += partials[Int((cells - Double(full)) * 8)] }
        bar = bar.padding(toLength: width, withPad: " ", startingAt: 0)
        let el = elapsed
        let eta = done > 0 && done < total ? el / Double(done) * Double(total - done) : (done >= total ? 0 : .nan)
        var s = String(format: "%@ %3d%% |%@| %d/%d %@", label, Int(frac * 100), bar, done, total, unit)
        if tokens > 0 { s += String(format: "  %.0f tok/s", tokensPerSecond) }
        if !extra.isEmpty { s += "  " + extra }
        s += done >= total ? "  " + ProgressBar.clock(el) : "  ETA " + ProgressBar.clock(eta)
        return s
    }

    private func draw(force: Bool) {
        guard enabled else { return }
        if isTTY {
            let now = Date()
            guard force || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
            lastDraw = now
            FileHandle.standardError.write(Data(("\r\u{1B}[2K" + render()).utf8))
        } else {
            let decile = total > 0 ? done * 10 / total : 10
            guard decile > lastDecile || (force && done >= total && lastDecile < 10) else { return }
            lastDecile = decile
            FileHandle.standardError.write(Data((render() + "\n").utf8))
        }
    }
}
