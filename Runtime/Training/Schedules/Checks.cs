using System;
using System.Collections.Generic;
using System.Globalization;

namespace Kernels.Training.Schedules;

/// <summary>
/// The argument checks the schedules share. Each one serves a constructor (the exception names the argument) and
/// <see cref="LRScheduler.LoadStateDict"/> (it names the <c>state</c> argument and the key): pass the key to check a value
/// read from a state dict.
/// </summary>
internal static class Checks
{
    /// <summary>The exception for a value that breaks <paramref name="rule"/> (a sentence without its full stop).</summary>
    public static ArgumentException Bad(string param, string? stateKey, object? value, string rule) =>
        stateKey is null
            ? new ArgumentOutOfRangeException(param, value, rule + ".")
            : new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"The state's '{stateKey}' is {value}: {rule}."), "state");

    public static void AtLeast(int value, int min, string param, string? stateKey = null, string? label = null)
    {
        if (value < min)
            throw Bad(param, stateKey, value, $"{label ?? param} must be at least {min}");
    }

    public static void AtLeast(long value, long min, string param, string? stateKey = null, string? label = null)
    {
        if (value < min)
            throw Bad(param, stateKey, value, $"{label ?? param} must be at least {min}");
    }

    public static void Finite(double value, string param, string? stateKey = null, string? label = null)
    {
        if (!double.IsFinite(value))
            throw Bad(param, stateKey, value, $"{label ?? param} must be finite");
    }

    public static void NonNegative(double value, string param, string? stateKey = null, string? label = null)
    {
        if (!(value >= 0) || double.IsPositiveInfinity(value))
            throw Bad(param, stateKey, value, $"{label ?? param} must be finite and at least 0");
    }

    public static void Positive(double value, string param, string? stateKey = null, string? label = null)
    {
        if (!(value > 0) || double.IsPositiveInfinity(value))
            throw Bad(param, stateKey, value, $"{label ?? param} must be finite and greater than 0");
    }

    /// <summary><paramref name="value"/> in [<paramref name="min"/>, <paramref name="max"/>], or (min, max] if <paramref name="minExclusive"/>.</summary>
    public static void InRange(double value, double min, double max, string param, string? stateKey = null, bool minExclusive = false, string? label = null)
    {
        bool ok = (minExclusive ? value > min : value >= min) && value <= max;
        if (!ok)
            throw Bad(param, stateKey, value, string.Create(CultureInfo.InvariantCulture,
                $"{label ?? param} must be {(minExclusive ? "greater than" : "at least")} {min} and at most {max}"));
    }

    public static void Defined<TEnum>(TEnum value, string param, string? stateKey = null, string? label = null) where TEnum : struct, Enum
    {
        if (!Enum.IsDefined(value))
            throw Bad(param, stateKey, value, $"{label ?? param} must be one of {string.Join(", ", Enum.GetNames<TEnum>())}");
    }

    /// <summary>Checks each of a list of per-group values with <paramref name="check"/> (value, param, state key, label).</summary>
    public static void Each(IReadOnlyList<double> values, Action<double, string, string?, string> check, string param, string? stateKey = null)
    {
        for (int i = 0; i < values.Count; i++)
            check(values[i], param, stateKey is null ? null : $"{stateKey}[{i}]", $"{param}[{i}]");
    }
}
