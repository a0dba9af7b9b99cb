import Foundation

/// Evaluation metrics for downstream tasks, as plain functions on arrays.
///
/// Each returns `nil` where the metric is undefined (no examples, a constant
/// input for a correlation, a single class for AUROC), so callers can leave
/// the value out of a log line instead of logging a made-up number.
/// Reference values: `scripts/reference/downstream/metrics_reference.py`
/// (scikit-learn / SciPy) -> `Tests/PLMKitTests/Fixtures/downstream/metrics.json`.
public enum DownstreamMetrics {
    /// Fraction of positions where `predicted == truth`.
    public static func accuracy(predicted: [Int], truth: [Int]) -> Double? {
        precondition(predicted.count == truth.count, "accuracy: \(predicted.count) predictions vs \(truth.count) labels")
        guard !truth.isEmpty else { return nil }
        var hit = 0
        for i in truth.indices where predicted[i] == truth[i] { hit += 1 }
        return Double(hit) / Double(truth.count)
    }

    /// Unweighted mean of per-class F1 over the classes that occur in `truth`
    /// or `predicted` (scikit-learn's `f1_score(average="macro")`; a class
    /// with no true and no predicted positives does not count, a class with
    /// zero precision and recall counts as F1 = 0).
    public static func macroF1(predicted: [Int], truth: [Int]) -> Double? {
        precondition(predicted.count == truth.count, "macroF1: \(predicted.count) predictions vs \(truth.count) labels")
        guard !truth.isEmpty else { return nil }
        var tp: [Int: Int] = [:], fp: [Int: Int] = [:], fn: [Int: Int] = [:]
        for i in truth.indices {
            if predicted[i] == truth[i] { tp[truth[i], default: 0] += 1 } else {
                fp[predicted[i], default: 0] += 1
                fn[truth[i], default: 0] += 1
            }
        }
        let classes = Set(truth).union(predicted)
        var sum = 0.0
        for c in classes {
            let t = Double(tp[c] ?? 0), p = Double(fp[c] ?? 0), n = Double(fn[c] ?? 0)
            sum += (2 * t + p + n) > 0 ? 2 * t / (2 * t + p + n) : 0
        }
        return sum / Double(classes.count)
    }

    /// 1-based ranks with ties given their average rank (SciPy's `rankdata`).
    public static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let avg = Double(i + j) / 2 + 1
            for k in i...j { r[order[k]] = avg }
            i = j + 1
        }
        return r
    }

    /// Pearson correlation; nil for fewer than 2 points or a constant input.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double? {
        precondition(x.count == y.count, "pearson: \(x.count) vs \(y.count) values")
        let n = Double(x.count)
        guard x.count >= 2 else { return nil }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            let a = x[i] - mx, b = y[i] - my
            sxy += a * b; sxx += a * a; syy += b * b
        }
        guard sxx > 0 && syy > 0 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }

    /// Spearman rank correlation: Pearson on average ranks (SciPy's `spearmanr`).
    public static func spearman(_ x: [Double], _ y: [Double]) -> Double? {
        pearson(ranks(x), ranks(y))
    }

    /// Area under the ROC curve of `scores` for binary `labels`: the
    /// Mann-Whitney statistic with average ranks for ties (equals scikit-learn's
    /// `roc_auc_score`). Nil unless both classes occur.
    public static func auroc(scores: [Double], labels: [Bool]) -> Double? {
        precondition(scores.count == labels.count, "auroc: \(scores.count) scores vs \(labels.count) labels")
        let pos = labels.filter { $0 }.count, neg = labels.count - pos
        guard pos > 0 && neg > 0 else { return nil }
        let r = ranks(scores)
        var sumPos = 0.0
        for i in labels.indices where labels[i] { sumPos += r[i] }
        return (sumPos - Double(pos) * Double(pos + 1) / 2) / (Double(pos) * Double(neg))
    }

    /// Macro AUROC over label columns: `scores` and `labels` are [N][C]; the
    /// mean over the columns where both classes occur (scikit-learn raises on
    /// a single-class column; here such a column is skipped). For single-label
    /// multi-class tasks pass softmax probabilities and one-hot labels
    /// (one-vs-rest, `roc_auc_score(multi_class="ovr", average="macro")`).
    public static func macroAUROC(scores: [[Double]], labels: [[Bool]]) -> Double? {
        precondition(scores.count == labels.count, "macroAUROC: \(scores.count) rows vs \(labels.count)")
        guard let c = scores.first?.count else { return nil }
        var sum = 0.0, n = 0
        for j in 0..<c {
            if let a = auroc(scores: scores.map { $0[j] }, labels: labels.map { $0[j] }) { sum += a; n += 1 }
        }
        return n > 0 ? sum / Double(n) : nil
    }

    /// Protein-centric maximum F-measure (CAFA; GO / EC): for each threshold
    /// t in `thresholds` (default 0.01, 0.02, …, 1.00) a label is predicted when
    /// its score is >= t; precision is averaged over the proteins with at least
    /// one prediction, recall over all proteins with at least one true label;
    /// F(t) = 2pr/(p+r); Fmax = max over t. Proteins without true labels are
    /// left out. Nil when no protein has a true label.
    public static func fmax(scores: [[Double]], labels: [[Bool]],
                            thresholds: [Double] = (1...100).map { Double($0) / 100 }) -> Double? {
        precondition(scores.count == labels.count, "fmax: \(scores.count) rows vs \(labels.count)")
        let rows = labels.indices.filter { labels[$0].contains(true) }
        guard !rows.isEmpty else { return nil }
        var best = 0.0
        for t in thresholds {
            var precisionSum = 0.0, covered = 0, recallSum = 0.0
            for i in rows {
                var tp = 0, predicted = 0, truePositives = 0
                for j in scores[i].indices {
                    let p = scores[i][j] >= t, y = labels[i][j]
                    if p { predicted += 1 }
                    if y { truePositives += 1 }
                    if p && y { tp += 1 }
                }
                if predicted > 0 { precisionSum += Double(tp) / Double(predicted); covered += 1 }
                recallSum += Double(tp) / Double(truePositives)
            }
            guard covered > 0 else { continue }
            let p = precisionSum / Double(covered), r = recallSum / Double(rows.count)
            if p + r > 0 { best = Swift.max(best, 2 * p * r / (p + r)) }
        }
        return best
    }

    /// Index of the largest entry of each row of a row-major [N, C] buffer.
    public static func argmax(_ values: [Float], columns c: Int) -> [Int] {
        precondition(c > 0 && values.count % c == 0)
        return (0..<(values.count / c)).map { i in
            var best = 0
            for j in 1..<c where values[i * c + j] > values[i * c + best] { best = j }
            return best
        }
    }

    /// Row-wise softmax of a row-major [N, C] buffer, as Double rows.
    public static func softmaxRows(_ values: [Float], columns c: Int) -> [[Double]] {
        (0..<(values.count / c)).map { i in
            let row = values[(i * c)..<((i + 1) * c)].map(Double.init)
            let m = row.max() ?? 0
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
    }
}
