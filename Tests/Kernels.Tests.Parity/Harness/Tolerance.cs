using System;

namespace Kernels.Tests.Parity.Harness;

/// <summary>torch.testing.assert_close's float32 tolerances: |actual - expected| &lt;= atol + rtol * |expected|.</summary>
public readonly record struct Tolerance(double Rtol, double Atol)
{
    /// <summary>torch.testing's defaults for float32.</summary>
    public static Tolerance Float32 { get; } = new(1.3e-6, 1e-5);

    /// <summary>How much of the allowance a difference uses: 0 for equal values, 1 at the limit, above 1 outside it.</summary>
    public double Usage(double actual, double expected)
    {
        if (double.IsNaN(actual) || double.IsNaN(expected))
            return double.IsNaN(actual) && double.IsNaN(expected) ? 0 : double.PositiveInfinity;
        if (actual == expected)
            return 0; // equal infinities included
        return Math.Abs(actual - expected) / (Atol + Rtol * Math.Abs(expected));
    }
}

/// <summary>The worst differences seen between one buffer of the kernel and its reference.</summary>
public sealed class ErrorStats
{
    /// <summary>
    /// Elements smaller than this are left out of <see cref="MaxRelative"/>: near zero a relative error says nothing
    /// (torch.testing's atol governs every |b| below atol / rtol, about 7.7, anyway).
    /// </summary>
    public const double RelativeFloor = 1e-3;

    /// <summary>Largest |a - b| / |b| over elements with |b| &gt;= <see cref="RelativeFloor"/> (equal elements count as 0).</summary>
    public double MaxRelative { get; private set; }

    /// <summary>Largest |a - b|.</summary>
    public double MaxAbsolute { get; private set; }

    /// <summary>Largest share of the tolerance used (1 = at the limit).</summary>
    public double MaxUsage { get; private set; }

    /// <summary>Number of elements compared that were not bit-identical.</summary>
    public long Differing { get; private set; }

    /// <summary>Number of elements compared.</summary>
    public long Compared { get; private set; }

    /// <summary>The first element (step, index, values) that fell outside the tolerance, if any.</summary>
    public string? FirstViolation { get; private set; }

    /// <summary>Compares <paramref name="actual"/> with <paramref name="expected"/> element by element.</summary>
    public void Add(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, Tolerance tolerance, int step)
    {
        if (actual.Length != expected.Length)
            throw new ArgumentException($"Length {actual.Length} != {expected.Length}.");
        for (int i = 0; i < actual.Length; i++)
        {
            double a = actual[i], b = expected[i];
            Compared++;
            if (BitConverter.DoubleToInt64Bits(a) == BitConverter.DoubleToInt64Bits(b) || (double.IsNaN(a) && double.IsNaN(b)))
                continue;
            Differing++;
            double abs = Math.Abs(a - b);
            if (double.IsNaN(abs))
                abs = double.PositiveInfinity;
            MaxAbsolute = Math.Max(MaxAbsolute, abs);
            if (Math.Abs(b) >= RelativeFloor)
                MaxRelative = Math.Max(MaxRelative, abs / Math.Abs(b));
            double usage = tolerance.Usage(a, b);
            MaxUsage = Math.Max(MaxUsage, usage);
            if (usage > 1 && FirstViolation is null)
                FirstViolation = $"step {step}, element {i}: actual {a:R}, expected {b:R}";
        }
    }

    /// <inheritdoc/>
    public override string ToString()
        => $"max rel (|b| >= {RelativeFloor:G1}) {MaxRelative:0.00e+00}, max abs {MaxAbsolute:0.00e+00}, tolerance used {MaxUsage:P1}, differing {Differing}/{Compared}";
}
