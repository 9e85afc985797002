using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.Intrinsics;
using Xunit;

namespace Kernels.Tests.Numerics;

/// <summary>
/// Runs a rule's span overload and its scalar rule (called element by element) on identical copies of
/// random buffers and requires every bit of every buffer to match, including elements outside the
/// slice (which neither may touch).
/// </summary>
/// <remarks>
/// One allowance: where the scalar result is NaN, the vector result must be NaN, but its sign and
/// payload may differ. When both operands of a commutative operation are NaN, x86 returns the first
/// source operand's NaN, and the JIT is free to commute <c>a + b</c> differently in scalar and vector
/// code; IEEE 754 (§6.2.3) leaves the choice among input NaNs unspecified. Every non-NaN result,
/// including the sign of zero, must match exactly.
/// </remarks>
internal static class BitExact
{
    /// <summary>Lengths that hit every path: empty, one element, each vector width ± 1, several unrolled blocks plus remainders.</summary>
    public static IEnumerable<int> Lengths()
    {
        var lengths = new SortedSet<int> { 0, 1, 2, 3 };
        foreach (int width in new[] { 2, 4, 8, 16 })   // double/float lanes of Vector128/256/512
        {
            foreach (int k in new[] { 1, 4, 5 })         // one vector, one unrolled block, block + one
            {
                lengths.Add(width * k - 1);
                lengths.Add(width * k);
                lengths.Add(width * k + 1);
            }
        }
        lengths.Add(4 * 16 * 3 + 16 * 2 + 13);            // three unrolled blocks, two single vectors, a tail
        lengths.Add(1000);
        lengths.Add(3 * 2048 + 77);                        // split into several 1024-aligned chunks when threaded
        return lengths;
    }

    public static IEnumerable<object[]> LengthData() => Lengths().Select(n => new object[] { n });

    /// <summary>Option sets: single thread; and forced splits across several threads at a low threshold.</summary>
    public static readonly StepOptions[] ThreadOptions =
    {
        StepOptions.SingleThreaded,
        new(maxDegreeOfParallelism: 2, parallelThreshold: 1),
        new(maxDegreeOfParallelism: 3, parallelThreshold: 1),
        new(maxDegreeOfParallelism: 7, parallelThreshold: 1),
    };

    public delegate void SpanStep<T>(T[][] buffers, int offset, int length, StepOptions options);

    public delegate void ScalarStep<T>(T[][] buffers, int index);

    private const long AnyNaN = long.MinValue;

    public static void Check(int buffers, int length, Func<Random, int, float[]> fill, ScalarStep<float> scalar, SpanStep<float> spans, int seed = 1234)
        => Check<float>(buffers, length, fill, scalar, spans, seed, f => float.IsNaN(f) ? AnyNaN : BitConverter.SingleToInt32Bits(f));

    public static void Check(int buffers, int length, Func<Random, int, double[]> fill, ScalarStep<double> scalar, SpanStep<double> spans, int seed = 1234)
        => Check<double>(buffers, length, fill, scalar, spans, seed, d => double.IsNaN(d) ? AnyNaN : BitConverter.DoubleToInt64Bits(d));

    private static void Check<T>(int bufferCount, int length, Func<Random, int, T[]> fill, ScalarStep<T> scalar, SpanStep<T> spans, int seed, Func<T, long> bits)
    {
        foreach (int offset in new[] { 0, 1, 3 })   // misaligned starts
        {
            foreach (StepOptions options in ThreadOptions)
            {
                var random = new Random(seed + length * 31 + offset);
                int total = length + offset + 5;
                T[][] expected = Enumerable.Range(0, bufferCount).Select(_ => fill(random, total)).ToArray();
                T[][] actual = expected.Select(b => (T[])b.Clone()).ToArray();

                for (int i = offset; i < offset + length; i++)
                    scalar(expected, i);
                spans(actual, offset, length, options);

                for (int b = 0; b < bufferCount; b++)
                {
                    for (int i = 0; i < total; i++)
                    {
                        if (bits(expected[b][i]) != bits(actual[b][i]))
                        {
                            Assert.Fail($"buffer {b}, element {i} (slice offset {offset}, length {length}, threads {options.MaxDegreeOfParallelism}): " +
                                $"scalar rule gave {expected[b][i]} (0x{bits(expected[b][i]):X}), span overload gave {actual[b][i]} (0x{bits(actual[b][i]):X}); " +
                                $"Vector512 accelerated: {Vector512.IsHardwareAccelerated}, Vector256: {Vector256.IsHardwareAccelerated}");
                        }
                    }
                }
            }
        }
    }
}
