/// The sequence window a long protein is scored in (ESM-1v / ProteinGym
/// convention).
///
/// ESM models were trained on at most 1024 tokens: `<cls>`, 1022 residues,
/// `<eos>`. A sequence of L > 1022 residues is scored in a window of
/// `width` = 1022 residues centred on the residue of interest (for a
/// substitution, its site; for a pseudo-log-likelihood term, the masked
/// position), clamped at the sequence ends so the window always holds
/// `width` residues, and encoded as `<cls> window <eos>`: the window's ends
/// get BOS/EOS as if it were a whole sequence (ESM-1v's and ProteinGym's
/// "optimal" window). In 0-based residue indices the window of position `p`
/// starts at `min(max(p - width/2, 0), L - width)` and the site's token index
/// is `p - start + 1`. Shorter sequences are scored whole (start 0).
public struct ScoringWindow: Equatable, Sendable {
    /// First residue of the window (0-based).
    public let start: Int
    /// Residues in the window (`min(length, width)`).
    public let count: Int

    /// Residue indices covered, 0-based.
    public var residues: Range<Int> { start..<(start + count) }
    /// Tokens of the encoded window, `<cls>` and `<eos>` included.
    public var tokenCount: Int { count + 2 }

    /// The window for 0-based residue `position` of a `length`-residue sequence.
    public init(centeredOn position: Int, length: Int, width: Int) {
        precondition(width >= 1 && length >= 1 && position >= 0 && position < length,
                     "ScoringWindow: position \(position), length \(length), width \(width)")
        count = Swift.min(length, width)
        start = length <= width ? 0 : Swift.min(Swift.max(position - width / 2, 0), length - width)
    }

    /// Token index of 0-based residue `position` inside this window (BOS is token 0).
    public func tokenIndex(ofResidue position: Int) -> Int { position - start + 1 }

    /// The 0-based positions whose centred windows contain residue `site` (a
    /// contiguous range, because window starts never decrease with the position).
    static func positions(seeing site: Int, length: Int, width: Int) -> Range<Int> {
        if length <= width { return 0..<length }
        func startOf(_ i: Int) -> Int { Swift.min(Swift.max(i - width / 2, 0), length - width) }
        // First i with start(i) + width > site, and first i with start(i) > site.
        var lo = 0, hi = length
        while lo < hi { let m = (lo + hi) / 2; if startOf(m) + width > site { hi = m } else { lo = m + 1 } }
        let first = lo
        lo = first; hi = length
        while lo < hi { let m = (lo + hi) / 2; if startOf(m) > site { hi = m } else { lo = m + 1 } }
        return first..<lo
    }
}
