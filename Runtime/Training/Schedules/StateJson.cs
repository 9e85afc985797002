using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>
/// Reading and writing the values of a schedule's state dict. Doubles are written as JSON numbers (System.Text.Json
/// writes the shortest text that reads back to the same bits); the non-finite ones, which JSON has no number for, as
/// the strings <c>"Infinity"</c>, <c>"-Infinity"</c> and <c>"NaN"</c>. Every read names the key and throws an
/// <see cref="ArgumentException"/> for the <c>state</c> argument when the value is missing or of the wrong kind.
/// </summary>
internal static class StateJson
{
    private const string StateParam = "state";

    public static JsonNode Number(double value) =>
        double.IsFinite(value) ? JsonValue.Create(value)
        : JsonValue.Create(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");

    public static JsonArray Numbers(IEnumerable<double> values) => new(values.Select(Number).ToArray());

    public static JsonArray Integers(IEnumerable<int> values) => new(values.Select(v => (JsonNode)JsonValue.Create(v)).ToArray());

    public static JsonNode? Node(JsonObject state, string key)
    {
        if (!state.TryGetPropertyValue(key, out JsonNode? node))
            throw new ArgumentException($"The state has no '{key}'.", StateParam);
        return node;
    }

    public static double GetDouble(JsonObject state, string key) => AsDouble(Node(state, key), key);

    public static double? GetNullableDouble(JsonObject state, string key)
    {
        JsonNode? node = Node(state, key);
        return node is null ? null : AsDouble(node, key);
    }

    public static int GetInt(JsonObject state, string key) => AsInt(Node(state, key), key);

    public static long GetLong(JsonObject state, string key)
    {
        JsonNode? node = Node(state, key);
        if (node is JsonValue v && (v.TryGetValue(out long l) || TryInt(v, out l)))
            return l;
        throw new ArgumentException($"The state's '{key}' is not an integer.", StateParam);
    }

    public static bool GetBool(JsonObject state, string key)
    {
        if (Node(state, key) is JsonValue v && v.TryGetValue(out bool b))
            return b;
        throw new ArgumentException($"The state's '{key}' is not true or false.", StateParam);
    }

    public static string GetString(JsonObject state, string key)
    {
        if (Node(state, key) is JsonValue v && v.TryGetValue(out string? s))
            return s;
        throw new ArgumentException($"The state's '{key}' is not a string.", StateParam);
    }

    /// <summary>A string that must be one of <paramref name="allowed"/>.</summary>
    public static string GetChoice(JsonObject state, string key, params string[] allowed)
    {
        string s = GetString(state, key);
        if (Array.IndexOf(allowed, s) < 0)
            throw new ArgumentException($"The state's '{key}' is '{s}'; expected {string.Join(" or ", allowed.Select(a => $"'{a}'"))}.", StateParam);
        return s;
    }

    public static JsonArray GetArray(JsonObject state, string key, int expectedCount = -1)
    {
        if (Node(state, key) is not JsonArray a)
            throw new ArgumentException($"The state's '{key}' is not an array.", StateParam);
        if (expectedCount >= 0 && a.Count != expectedCount)
            throw new ArgumentException($"The state's '{key}' holds {a.Count} values; the optimizer has {expectedCount} parameter groups.", StateParam);
        return a;
    }

    public static double[] GetDoubles(JsonObject state, string key, int expectedCount = -1) =>
        GetArray(state, key, expectedCount).Select((n, i) => AsDouble(n, $"{key}[{i}]")).ToArray();

    public static int[] GetInts(JsonObject state, string key) =>
        GetArray(state, key).Select((n, i) => AsInt(n, $"{key}[{i}]")).ToArray();

    public static JsonObject GetObject(JsonNode? node, string key) =>
        node as JsonObject ?? throw new ArgumentException($"The state's '{key}' is not an object.", StateParam);

    /// <summary>Throws unless the state was written by a schedule of type <paramref name="type"/>.</summary>
    public static void CheckType(JsonObject state, string type)
    {
        ArgumentNullException.ThrowIfNull(state);
        string written = GetString(state, "type");
        if (written != type)
            throw new ArgumentException($"The state is a {written}'s; this schedule is a {type}.", StateParam);
    }

    /// <summary>Throws unless the state drives the same hyperparameter (in either spelling).</summary>
    public static void CheckHyperparameter(JsonObject state, string hyperparameter)
    {
        string written = GetString(state, "hyperparameter");
        if (InitialValues.Canonical(written) != InitialValues.Canonical(hyperparameter))
            throw new ArgumentException($"The state drives '{written}'; this schedule drives '{hyperparameter}'.", StateParam);
    }

    public static ArgumentException Invalid(string key, string why) => new($"The state's '{key}' {why}", StateParam);

    private static double AsDouble(JsonNode? node, string key)
    {
        if (node is JsonValue v)
        {
            if (v.TryGetValue(out double d))
                return d;
            if (v.TryGetValue(out long l)) // an integer put into the object in memory
                return l;
            if (v.TryGetValue(out int n))
                return n;
            if (v.TryGetValue(out string? s))
            {
                switch (s)
                {
                    case "Infinity": return double.PositiveInfinity;
                    case "-Infinity": return double.NegativeInfinity;
                    case "NaN": return double.NaN;
                }
            }
        }
        throw new ArgumentException($"The state's '{key}' is not a number.", StateParam);
    }

    private static bool TryInt(JsonValue v, out long value)
    {
        bool ok = v.TryGetValue(out int i);
        value = i;
        return ok;
    }

    private static int AsInt(JsonNode? node, string key)
    {
        if (node is JsonValue v && v.TryGetValue(out int i))
            return i;
        throw new ArgumentException($"The state's '{key}' is not an integer.", StateParam);
    }
}
