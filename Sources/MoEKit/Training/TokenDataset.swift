/// A corpus as token ids, split into training and held-out validation parts, from which the
/// trainer draws windows of T+1 tokens (inputs and next-token targets).
public struct TokenDataset: Sendable {
    public let train: [UInt16]
    public let validation: [UInt16]

    public init(train: [UInt16], validation: [UInt16]) {
        self.train = train
        self.validation = validation
    }

    /// B random windows from `train`, reproducible from `seed` (so a resumed run sees the same data).
    public func trainingBatch(batch: Int, length: Int, seed: UInt64) -> (tokens: [Int], targets: [Int]) {
        var random = SeededRandom(seed: seed)
        var tokens: [Int] = [], targets: [Int] = []
        tokens.reserveCapacity(batch * length)
        targets.reserveCapacity(batch * length)
        for _ in 0..<batch {
            let start = Int(random.next() % UInt64(train.count - length - 1))
            for i in 0..<length {
                tokens.append(Int(train[start + i]))
                targets.append(Int(train[start + i + 1]))
            }
        }
        return (tokens, targets)
    }

    /// The i-th fixed validation batch: consecutive, non-overlapping windows.
    public func validationBatch(_ index: Int, batch: Int, length: Int) -> (tokens: [Int], targets: [Int])? {
        let first = index * batch * length
        guard first + batch * length + 1 <= validation.count else { return nil }
        let tokens = (0..<(batch * length)).map { Int(validation[first + $0]) }
        let targets = (0..<(batch * length)).map { Int(validation[first + $0 + 1]) }
        return (tokens, targets)
    }
}
