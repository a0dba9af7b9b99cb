import Foundation
import Testing
import PLMKit

/// The HuggingFace reference (scripts/reference/esm/make_cli_fixtures.py) and the model it ran.
enum ScoringFixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let modelDirectory = root.appendingPathComponent("Tests/PLMNNTests/Fixtures/esm/tiny_rotary")

    struct Case: Decodable {
        let mutation: String
        let masked_marginal: Double
        let wt_marginal: Double
        let pll: Double
        let pll_delta: Double
    }
    struct File: Decodable {
        let wild_type: String
        let pll_wild_type: Double
        let cases: [Case]
    }

    static func load() throws -> File {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/score_cases", withExtension: "json"))
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
    }

    static func scorer(maxTokens: Int = VariantScorer.defaultMaxTokens, window: Int = VariantScorer.defaultWindowResidues) throws -> VariantScorer {
        try VariantScorer(modelPath: modelDirectory.path, maxTokens: maxTokens, windowResidues: window)
    }
}

@Suite("Variant scoring vs HuggingFace")
struct ScoringParityTests {
    /// Largest |ours - reference| over the cases; prints it and the first bad case.
    func compare(_ method: String, _ ours: [Double], _ ref: [Double], _ names: [String], tolerance: (Double) -> Double) -> Double {
        var worst = 0.0
        for i in ours.indices {
            let d = abs(ours[i] - ref[i])
            worst = max(worst, d)
            #expect(d <= tolerance(ref[i]), "\(method) \(names[i]): ours \(ours[i]) vs HF \(ref[i]) (diff \(d))")
        }
        print("score parity \(method): max abs deviation \(worst) over \(ours.count) mutations")
        return worst
    }

    @Test("masked marginal matches HF for every mutation")
    func maskedMarginal() throws {
        let fx = try ScoringFixture.load()
        let variants = try fx.cases.map { try MutationParser(wildType: fx.wild_type).parseVariant($0.mutation) }
        let scores = try ScoringFixture.scorer().score(variants, wildType: fx.wild_type, method: .maskedMarginal)
        #expect(scores.map(\.variant.description) == fx.cases.map(\.mutation))
        #expect(scores.allSatisfy { $0.pllDelta == nil })
        _ = compare("masked-marginal", scores.map(\.score), fx.cases.map(\.masked_marginal), fx.cases.map(\.mutation)) { _ in 1e-4 }
    }

    @Test("wild-type marginal matches HF for every mutation")
    func wildTypeMarginal() throws {
        let fx = try ScoringFixture.load()
        let variants = try fx.cases.map { try MutationParser(wildType: fx.wild_type).parseVariant($0.mutation) }
        let scores = try ScoringFixture.scorer().score(variants, wildType: fx.wild_type, method: .wildTypeMarginal)
        _ = compare("wt-marginal", scores.map(\.score), fx.cases.map(\.wt_marginal), fx.cases.map(\.mutation)) { _ in 1e-4 }
    }

    @Test("pseudo-log-likelihood and its delta match HF for every mutation")
    func pseudoLogLikelihood() throws {
        let fx = try ScoringFixture.load()
        let variants = try fx.cases.map { try MutationParser(wildType: fx.wild_type).parseVariant($0.mutation) }
        let scorer = try ScoringFixture.scorer()
        var progressCalls = 0, lastDone = -1, lastTotal = 0
        let scores = try scorer.score(variants, wildType: fx.wild_type, method: .pseudoLogLikelihood) { done, total, _ in
            progressCalls += 1
            #expect(done >= lastDone)
            lastDone = done; lastTotal = total
        }
        // 80 wild-type passes + 80 per mutant (L <= window: every position sees the substitution).
        #expect(lastTotal == 80 * (1 + 25) && lastDone == lastTotal && progressCalls > 2)
        _ = compare("pll", scores.map(\.score), fx.cases.map(\.pll), fx.cases.map(\.mutation)) { max(1e-4, 1e-5 * abs($0)) }
        _ = compare("pll_delta", scores.map { $0.pllDelta ?? .nan }, fx.cases.map(\.pll_delta), fx.cases.map(\.mutation)) { _ in 1e-4 }
        let wt = try scorer.pseudoLogLikelihood(of: fx.wild_type)
        #expect(abs(wt - fx.pll_wild_type) <= 1e-5 * abs(fx.pll_wild_type), "PLL(wt) \(wt) vs HF \(fx.pll_wild_type)")
    }

    @Test("the token budget changes batching, not the scores")
    func batching() throws {
        let fx = try ScoringFixture.load()
        let variants = try MutationParser(wildType: fx.wild_type).parseList(fx.cases.prefix(8).map(\.mutation).joined(separator: ","))
        let one = try ScoringFixture.scorer(maxTokens: 1)        // one pass per batch
        let many = try ScoringFixture.scorer(maxTokens: 100_000)
        for method in ScoringMethod.allCases {
            let a = try one.score(variants, wildType: fx.wild_type, method: method)
            let b = try many.score(variants, wildType: fx.wild_type, method: method)
            for (x, y) in zip(a, b) { #expect(abs(x.score - y.score) <= 1e-4, "\(method) \(x.variant)") }
        }
    }

    @Test("repeated and synonymous variants")
    func repeatsAndSynonymous() throws {
        let fx = try ScoringFixture.load()
        let wt = fx.wild_type
        let parser = MutationParser(wildType: wt)
        let c0 = fx.cases[0]
        let variants = try parser.parseList("\(c0.mutation),M1M,\(c0.mutation.lowercased())")
        let scorer = try ScoringFixture.scorer()
        for method in ScoringMethod.allCases {
            let s = try scorer.score(variants, wildType: wt, method: method)
            #expect(s[0].score == s[2].score)
            switch method {
            case .maskedMarginal: #expect(s[1].score == 0); #expect(abs(s[0].score - c0.masked_marginal) <= 1e-4)
            case .wildTypeMarginal: #expect(s[1].score == 0); #expect(abs(s[0].score - c0.wt_marginal) <= 1e-4)
            case .pseudoLogLikelihood:
                #expect(s[1].pllDelta == 0)
                #expect(abs(s[1].score - fx.pll_wild_type) <= 1e-5 * abs(fx.pll_wild_type))
            }
        }
    }
}

@Suite("Scoring windows for long sequences")
struct ScoringWindowTests {
    @Test("window starts near the ends and in the middle of a 3000-residue sequence")
    func starts() {
        let L = 3000, W = 1022
        let expected: [(Int, Int)] = [
            (0, 0), (1, 0), (510, 0), (511, 0), (512, 1), (1000, 489), (1500, 989),
            (2488, 1977), (2489, 1978), (2490, 1978), (2999, 1978),
        ]
        for (p, s) in expected {
            let w = ScoringWindow(centeredOn: p, length: L, width: W)
            #expect(w.start == s, "position \(p)")
            #expect(w.count == W && w.tokenCount == 1024)
            #expect(w.residues.contains(p))
            #expect(w.tokenIndex(ofResidue: p) == p - s + 1)
        }
        // Short sequences are scored whole.
        let short = ScoringWindow(centeredOn: 70, length: 80, width: W)
        #expect(short.start == 0 && short.count == 80 && short.tokenIndex(ofResidue: 70) == 71)
        // Exactly the window size: whole.
        #expect(ScoringWindow(centeredOn: 1021, length: 1022, width: W).start == 0)
        // One residue more: the last position's window starts at 1.
        #expect(ScoringWindow(centeredOn: 1022, length: 1023, width: W).start == 1)
    }

    @Test("a site in the middle is centred; every window lies inside the sequence")
    func invariants() {
        for (L, W) in [(3000, 1022), (1023, 1022), (50, 7), (51, 8), (9, 9)] {
            for p in 0..<L {
                let w = ScoringWindow(centeredOn: p, length: L, width: W)
                #expect(w.start >= 0 && w.start + w.count <= L && w.residues.contains(p))
                if p >= W / 2 && p + (W - W / 2) <= L { #expect(w.start == p - W / 2, "L \(L) W \(W) p \(p)") }
            }
        }
    }

    @Test("windowed scores equal the plain scores of the window's subsequence")
    func windowedScoring() throws {
        let fx = try ScoringFixture.load()
        let wt = fx.wild_type, L = wt.count, W = 30
        let windowed = try ScoringFixture.scorer(window: W)
        let plain = try ScoringFixture.scorer()
        let parser = MutationParser(wildType: wt)
        let mutations = ["M1A", fx.cases[1].mutation, fx.cases[2].mutation, "N80A", fx.cases[22].mutation]
        let variants = try mutations.map { try parser.parseVariant($0) }
        for method in [ScoringMethod.maskedMarginal, .wildTypeMarginal] {
            let got = try windowed.score(variants, wildType: wt, method: method)
            for (v, s) in zip(variants, got) {
                // The same sum, site by site, on the explicit window subsequence.
                var want = 0.0
                for m in v.mutations {
                    let w = ScoringWindow(centeredOn: m.position - 1, length: L, width: W)
                    let sub = String(Array(wt)[w.residues])
                    let local = Mutation(wildType: m.wildType, position: m.position - w.start, mutant: m.mutant)
                    want += try plain.score([Variant(mutations: [local])], wildType: sub, method: method)[0].score
                }
                #expect(abs(s.score - want) <= 1e-5, "\(method) \(v): \(s.score) vs \(want)")
            }
        }
        // PLL: the scorer reuses wild-type terms outside a substitution's reach;
        // the brute force (every position's centred window) must agree.
        let got = try windowed.score(variants, wildType: wt, method: .pseudoLogLikelihood)
        let wtPLL = try windowed.pseudoLogLikelihood(of: wt)
        for (v, s) in zip(variants, got) {
            let brute = try windowed.pseudoLogLikelihood(of: v.applied(to: wt))
            #expect(abs(s.score - brute) <= 1e-4, "pll \(v): \(s.score) vs \(brute)")
            #expect(abs((s.pllDelta ?? .nan) - (brute - wtPLL)) <= 1e-4)
        }
    }

    @Test("an absolute-position model caps the window at its position table")
    func absoluteCap() throws {
        let dir = ScoringFixture.root.appendingPathComponent("Tests/PLMNNTests/Fixtures/esm/tiny_absolute")
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as? [String: Any]
        let maxPos = try #require(cfg?["max_position_embeddings"] as? Int)
        let s = try VariantScorer(modelPath: dir.path)
        #expect(s.windowResidues == min(1022, maxPos - 4))
    }
}
