/// JSON has no NaN or ±∞, and a string inside a number array breaks every reader. Routing
/// records therefore write a non-finite number as `null` — the schema of every number array and
/// weight in a record is "a number, or null when it was not finite" — and read `null` back as NaN.
public enum FiniteOrNull {
    public static func wrap(_ values: [Float]) -> [Float?] { values.map { $0.isFinite ? $0 : nil } }
    public static func unwrap(_ values: [Float?]) -> [Float] { values.map { $0 ?? .nan } }
}

extension ChosenExpert {
    enum CodingKeys: String, CodingKey { case index, kind, weight, dropped }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        index = try container.decode(Int.self, forKey: .index)
        kind = try container.decode(ExpertKind.self, forKey: .kind)
        weight = try container.decodeIfPresent(Float.self, forKey: .weight) ?? .nan
        dropped = try container.decode(Bool.self, forKey: .dropped)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(index, forKey: .index)
        try container.encode(kind, forKey: .kind)
        if weight.isFinite { try container.encode(weight, forKey: .weight) } else { try container.encodeNil(forKey: .weight) }
        try container.encode(dropped, forKey: .dropped)
    }
}

extension LayerRouting {
    enum CodingKeys: String, CodingKey {
        case layer, routerLogits, residualLogits, probabilities, chosen, probabilitiesWithoutResidual, chosenWithoutResidual
        case ffnExpertsComputed, predictedExperts, cache, shared, rule
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        layer = try container.decode(Int.self, forKey: .layer)
        routerLogits = FiniteOrNull.unwrap(try container.decode([Float?].self, forKey: .routerLogits))
        residualLogits = FiniteOrNull.unwrap(try container.decode([Float?].self, forKey: .residualLogits))
        probabilities = FiniteOrNull.unwrap(try container.decode([Float?].self, forKey: .probabilities))
        chosen = try container.decode([ChosenExpert].self, forKey: .chosen)
        probabilitiesWithoutResidual = FiniteOrNull.unwrap(try container.decode([Float?].self, forKey: .probabilitiesWithoutResidual))
        chosenWithoutResidual = try container.decode([Int].self, forKey: .chosenWithoutResidual)
        ffnExpertsComputed = try container.decode(Int.self, forKey: .ffnExpertsComputed)
        predictedExperts = try container.decodeIfPresent([Int].self, forKey: .predictedExperts)
        cache = try container.decodeIfPresent(LayerCacheStatistics.self, forKey: .cache)
        // Absent in exports of models without shared experts or dense layers.
        shared = try container.decodeIfPresent([ChosenExpert].self, forKey: .shared) ?? []
        rule = try container.decodeIfPresent(GatingRule.self, forKey: .rule)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(layer, forKey: .layer)
        try container.encode(FiniteOrNull.wrap(routerLogits), forKey: .routerLogits)
        try container.encode(FiniteOrNull.wrap(residualLogits), forKey: .residualLogits)
        try container.encode(FiniteOrNull.wrap(probabilities), forKey: .probabilities)
        try container.encode(chosen, forKey: .chosen)
        try container.encode(FiniteOrNull.wrap(probabilitiesWithoutResidual), forKey: .probabilitiesWithoutResidual)
        try container.encode(chosenWithoutResidual, forKey: .chosenWithoutResidual)
        try container.encode(ffnExpertsComputed, forKey: .ffnExpertsComputed)
        try container.encodeIfPresent(predictedExperts, forKey: .predictedExperts)
        try container.encodeIfPresent(cache, forKey: .cache)
        if !shared.isEmpty { try container.encode(shared, forKey: .shared) }
        try container.encodeIfPresent(rule, forKey: .rule)
    }
}
