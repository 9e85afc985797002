using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests.Parity.Harness;

/// <summary>One optimizer configuration: the kernel, its reference and what to compare.</summary>
public sealed class ParityCase
{
    /// <summary>Elements per tensor: not a multiple of any vector width, so every kernel runs its tail.</summary>
    public const int DefaultLength = 4099;

    /// <summary>Steps per run.</summary>
    public const int DefaultSteps = 100;

    /// <summary>Optimizer name (the summary groups by it).</summary>
    public required string Optimizer { get; init; }

    /// <summary>The flag combination, for messages.</summary>
    public required string Config { get; init; }

    /// <summary>Buffers to compare: <c>"param"</c> and the state buffers.</summary>
    public required string[] Buffers { get; init; }

    /// <summary>
    /// Creates the kernel under test from the initial parameter: with <c>true</c>, the generated span overload; with
    /// <c>false</c>, the scalar rule called element by element. The runner checks that both give the same bits and
    /// compares the span overload with the references.
    /// </summary>
    public required Func<float[], bool, IStepper> Kernel { get; init; }

    /// <summary>Creates the reference from the initial parameter.</summary>
    public required Func<float[], IStepper> Reference { get; init; }

    /// <summary>Names the reference in messages.</summary>
    public string ReferenceName { get; init; } = "torch.optim (libtorch kernels)";

    /// <summary>Tolerance against <see cref="Reference"/>.</summary>
    public Tolerance Tolerance { get; init; } = Tolerance.Float32;

    /// <summary>Optionally, TorchSharp's own optimizer class as a second reference.</summary>
    public Func<float[], IStepper>? TorchSharpClass { get; init; }

    /// <summary>Buffers to compare against <see cref="TorchSharpClass"/> (default: <see cref="Buffers"/>).</summary>
    public string[]? TorchSharpBuffers { get; init; }

    /// <summary>Tolerance against <see cref="TorchSharpClass"/>.</summary>
    public Tolerance TorchSharpTolerance { get; init; } = Tolerance.Float32;

    /// <summary>Elements per tensor.</summary>
    public int Length { get; init; } = DefaultLength;

    /// <summary>Steps to run.</summary>
    public int Steps { get; init; } = DefaultSteps;

    /// <summary>Standard deviation of the random gradients.</summary>
    public double GradientScale { get; init; } = 1.0;

    /// <summary>
    /// Whether the reference is written with libtorch operations (<see cref="TorchStepper"/>): then, wherever it
    /// differs from the kernel at all, the run is repeated with <see cref="TorchOps.CorrectlyRoundedSqrt"/> and
    /// must agree bit for bit: the operation order is PyTorch's and libtorch's sqrt rounding is the only difference.
    /// </summary>
    public bool ExactUpToSqrtRounding { get; init; } = true;

    /// <summary>Seed of the parameters and gradients.</summary>
    public int Seed { get; init; } = 1234;
}

/// <summary>Runs a <see cref="ParityCase"/> and checks every buffer after every step.</summary>
public static class ParityRunner
{
    private static readonly ConcurrentDictionary<string, double> s_maxRelative = new();

    /// <summary>Largest relative error seen so far per optimizer (against its primary reference), in this test run.</summary>
    public static IReadOnlyDictionary<string, double> MaxRelativeByOptimizer => s_maxRelative;

    /// <summary>Normally distributed floats (Box-Muller), about 1% of them exactly 0 when <paramref name="zeros"/> is set.</summary>
    public static float[] Normal(Random random, int length, double scale, bool zeros)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            double z = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            values[i] = zeros && random.NextDouble() < 0.01 ? 0f : (float)(z * scale);
        }
        return values;
    }

    /// <summary>Runs the case and asserts that every buffer stayed within tolerance at every step.</summary>
    public static void Run(ParityCase c, ITestOutputHelper output)
    {
        var random = new Random(c.Seed);
        float[] param = Normal(random, c.Length, 1.0, zeros: false);

        using IStepper kernel = c.Kernel(param, true);
        using IStepper scalarKernel = c.Kernel(param, false);
        using IStepper reference = c.Reference(param);
        using IStepper? torchSharp = c.TorchSharpClass?.Invoke(param);
        string[] torchSharpBuffers = c.TorchSharpBuffers ?? c.Buffers;

        var stats = c.Buffers.ToDictionary(b => b, _ => new ErrorStats());
        var torchSharpStats = torchSharpBuffers.ToDictionary(b => b, _ => new ErrorStats());
        var actualWide = new double[c.Length];
        var actual = new float[c.Length];
        var expected = new double[c.Length];
        var scalarWide = new double[c.Length];
        string? scalarMismatch = null;

        NoGc.Run(() =>
        {
            for (int step = 1; step <= c.Steps; step++)
            {
                float[] grad = Normal(random, c.Length, c.GradientScale, zeros: true);
                kernel.Step(step, grad);
                scalarKernel.Step(step, grad);
                reference.Step(step, grad);
                torchSharp?.Step(step, grad);

                foreach (string buffer in c.Buffers)
                {
                    kernel.Read(buffer, actualWide);
                    scalarKernel.Read(buffer, scalarWide);
                    for (int i = 0; i < actual.Length && scalarMismatch is null; i++)
                    {
                        if (BitConverter.DoubleToInt64Bits(actualWide[i]) != BitConverter.DoubleToInt64Bits(scalarWide[i]))
                            scalarMismatch = $"{buffer} at step {step}, element {i}: span overload {actualWide[i]:R}, scalar rule {scalarWide[i]:R}";
                    }
                    for (int i = 0; i < actual.Length; i++)
                        actual[i] = (float)actualWide[i];
                    reference.Read(buffer, expected);
                    stats[buffer].Add(actual, expected, c.Tolerance, step);
                }
                if (torchSharp is not null)
                {
                    foreach (string buffer in torchSharpBuffers)
                    {
                        kernel.Read(buffer, actualWide);
                        for (int i = 0; i < actual.Length; i++)
                            actual[i] = (float)actualWide[i];
                        torchSharp.Read(buffer, expected);
                        torchSharpStats[buffer].Add(actual, expected, c.TorchSharpTolerance, step);
                    }
                }
            }
        });

        var report = new StringBuilder();
        report.AppendLine($"{c.Optimizer} [{c.Config}], {c.Steps} steps x {c.Length} elements; span overload {(scalarMismatch is null ? "bit-identical to" : "DIFFERS from")} the scalar rule");
        report.AppendLine($"  vs {c.ReferenceName} (rtol {c.Tolerance.Rtol:G3}, atol {c.Tolerance.Atol:G3}):");
        foreach (var (buffer, s) in stats)
            report.AppendLine($"    {buffer,-16} {s}");
        if (torchSharp is not null)
        {
            report.AppendLine($"  vs TorchSharp's optimizer class (rtol {c.TorchSharpTolerance.Rtol:G3}, atol {c.TorchSharpTolerance.Atol:G3}):");
            foreach (var (buffer, s) in torchSharpStats)
                report.AppendLine($"    {buffer,-16} {s}");
        }
        bool exactFirstPass = stats.Values.All(s => s.Differing == 0);
        string? sqrtOnly = null;
        if (c.ExactUpToSqrtRounding && !exactFirstPass)
        {
            sqrtOnly = FirstDifferenceWithCorrectlyRoundedSqrt(c);
            report.AppendLine(sqrtOnly is null
                ? "  with a correctly rounded sqrt in the reference: bit-identical (every buffer, every step)"
                : $"  with a correctly rounded sqrt in the reference: STILL DIFFERS: {sqrtOnly}");
        }
        double worst = stats.Values.Max(s => s.MaxRelative);
        s_maxRelative.AddOrUpdate(c.Optimizer, worst, (_, old) => Math.Max(old, worst));
        report.AppendLine($"  largest relative error vs the reference: {worst:0.00e+00}");
        output.WriteLine(report.ToString());

        Assert.True(scalarMismatch is null, $"{c.Optimizer} [{c.Config}]: the span overload and the scalar rule differ: {scalarMismatch}");
        var failures = stats.Where(kv => kv.Value.MaxUsage > 1).Select(kv => $"{kv.Key} vs {c.ReferenceName}: {kv.Value.FirstViolation} ({kv.Value})")
            .Concat(torchSharpStats.Where(kv => torchSharp is not null && kv.Value.MaxUsage > 1).Select(kv => $"{kv.Key} vs TorchSharp's class: {kv.Value.FirstViolation} ({kv.Value})"))
            .ToList();
        Assert.True(failures.Count == 0, $"{c.Optimizer} [{c.Config}] outside tolerance:\n" + string.Join("\n", failures));
        Assert.True(sqrtOnly is null, $"{c.Optimizer} [{c.Config}]: with a correctly rounded sqrt the reference should match bit for bit, but {sqrtOnly}");
    }

    /// <summary>Reruns the case against the reference with a correctly rounded sqrt; returns the first differing value, or null.</summary>
    private static string? FirstDifferenceWithCorrectlyRoundedSqrt(ParityCase c)
    {
        var random = new Random(c.Seed);
        float[] param = Normal(random, c.Length, 1.0, zeros: false);
        using IStepper kernel = c.Kernel(param, true);
        using IStepper reference = c.Reference(param);
        var actual = new double[c.Length];
        var expected = new double[c.Length];
        string? difference = null;
        bool saved = TorchOps.CorrectlyRoundedSqrt;
        TorchOps.CorrectlyRoundedSqrt = true;
        try
        {
            NoGc.Run(() =>
            {
                for (int step = 1; step <= c.Steps && difference is null; step++)
                {
                    float[] grad = Normal(random, c.Length, c.GradientScale, zeros: true);
                    kernel.Step(step, grad);
                    reference.Step(step, grad);
                    foreach (string buffer in c.Buffers)
                    {
                        kernel.Read(buffer, actual);
                        reference.Read(buffer, expected);
                        for (int i = 0; i < actual.Length && difference is null; i++)
                        {
                            if (BitConverter.DoubleToInt64Bits(actual[i]) != BitConverter.DoubleToInt64Bits(expected[i]))
                                difference = $"{buffer} at step {step}, element {i}: kernel {actual[i]:R}, reference {expected[i]:R}";
                        }
                    }
                }
            });
        }
        finally
        {
            TorchOps.CorrectlyRoundedSqrt = saved;
        }
        return difference;
    }
}
