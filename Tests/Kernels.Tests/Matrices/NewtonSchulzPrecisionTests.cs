using System;
using System.Linq;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Kernels.Matrices;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests.Matrices;

/// <summary>
/// <see cref="NewtonSchulzPrecision"/>: the float32 default unchanged, and the bfloat16 iteration (PyTorch's Muon)
/// against a double-precision Newton–Schulz written here.
/// </summary>
/// <remarks>
/// <para>
/// Tolerance of the bfloat16 iteration. bfloat16 keeps 8 significant bits: rounding to nearest has a relative error of
/// at most u = 2⁻⁹ ≈ 1.95e-3 per value. Each step rounds <c>A = X Xᵀ</c>, <c>B = b·A + c·A·A</c> and <c>X</c>. The
/// coefficients cancel (p(1) = a + b + c ≈ 0.70 from terms of size 3.4, 4.8 and 2.0), so a rounding of A reaches the
/// next X multiplied by up to |b| + 2|c| ≈ 8.8 and one of B by up to |b| + |c| ≈ 6.8 (relative to an output of size
/// about 1), per element in the worst case; random roundings mostly cancel in those sums (rms about u/√3 each). The
/// polynomial keeps a relative error in the weak directions (p(s) ≈ a·s) and damps it in the converged ones
/// (|p'(s)| ≤ 1.14 on [0.68, 1.2]), so the last steps' roundings dominate. Hence a relative Frobenius error of several
/// u: the test allows 16u = 3.1e-2 (measured 5.7u–7.6u on these matrices, both backends). float32 under the same
/// check is held to 1e-5 (measured 1.3e-6–1.8e-6), four orders of magnitude apart, as the two unit roundoffs are
/// (2⁻⁹ against 2⁻²⁴).
/// </para>
/// <para>
/// Singular values: those of the output against p⁵ of the bfloat16 input's (normalized by its norm, in double), within
/// 0.05 (measured 8.0e-3–1.1e-2): a singular value moves by at most the spectral norm of the error, itself at most
/// its Frobenius norm, about 7u·‖X‖_F ≈ 7u·√min(rows, cols)·0.9 in the worst case, but spread over all directions;
/// 0.05 is about 25u.
/// </para>
/// </remarks>
[Collection(GemmBackendCollection.Name)]
public sealed class NewtonSchulzPrecisionTests(ITestOutputHelper output)
{
    private const double UnitRoundoffBf16 = 1.0 / 512;

    /// <summary>Uniform values in [-1, 1) from a linear congruential generator: the same floats on every platform (no libm).</summary>
    private static float[] Uniform(int length, int seed)
    {
        var values = new float[length];
        uint s = (uint)seed;
        for (int i = 0; i < length; i++)
        {
            s = s * 1664525u + 1013904223u;
            values[i] = (int)s / 2147483648f;
        }
        return values;
    }

    private static float Bf16(float x) => (float)(Kernels.Precision.BFloat16)x;

    /// <summary>Newton–Schulz in double on the input as given: X = G / ‖G‖_F, then 5 times A = X Xᵀ, B = bA + cA², X = aX + BX (wide orientation).</summary>
    private static double[] ReferenceNewtonSchulz(float[] g, int rows, int cols, int steps = 5)
    {
        bool tall = rows > cols;
        int m = Math.Min(rows, cols), n = Math.Max(rows, cols);
        var x = new double[m * n];
        double norm = Math.Sqrt(g.Sum(v => (double)v * v));
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++)
                x[tall ? j * n + i : i * n + j] = g[i * cols + j] / norm;
        }
        var a = new double[m * m];
        var b = new double[m * m];
        var next = new double[m * n];
        for (int step = 0; step < steps; step++)
        {
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < m; j++)
                {
                    double s = 0;
                    for (int p = 0; p < n; p++)
                        s += x[i * n + p] * x[j * n + p];
                    a[i * m + j] = s;
                }
            }
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < m; j++)
                {
                    double s = 0;
                    for (int p = 0; p < m; p++)
                        s += a[i * m + p] * a[p * m + j];
                    b[i * m + j] = NewtonSchulz.DefaultB * a[i * m + j] + NewtonSchulz.DefaultC * s;
                }
            }
            for (int i = 0; i < m; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < m; p++)
                        s += b[i * m + p] * x[p * n + j];
                    next[i * n + j] = NewtonSchulz.DefaultA * x[i * n + j] + s;
                }
            }
            (x, next) = (next, x);
        }
        var result = new double[rows * cols];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++)
                result[i * cols + j] = x[tall ? j * n + i : i * n + j];
        }
        return result;
    }

    private static double RelativeFrobenius(float[] actual, double[] expected)
    {
        double diff = 0, norm = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            diff += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            norm += expected[i] * expected[i];
        }
        return Math.Sqrt(diff / norm);
    }

    private static double Polynomial(double s, int steps)
    {
        for (int i = 0; i < steps; i++)
            s = NewtonSchulz.DefaultA * s + NewtonSchulz.DefaultB * s * s * s + NewtonSchulz.DefaultC * s * s * s * s * s;
        return s;
    }

    /// <summary>
    /// float32 (the default, and asked for by name) gives the same bits as before the precision option existed: SHA-256
    /// of the managed backend's output, recorded from commit ddb48f0 (the managed kernel sums every element in one fixed
    /// order with fused multiply-adds, so its bits do not depend on the vector width or thread count).
    /// </summary>
    [Theory]
    [InlineData(64, 256, "1289FEEDDF4F264010E8BC3F2BA9A2FB8053064E63F47F583788D44F0464E222")]
    [InlineData(256, 64, "EA179F4F83549B3D49E6F06AFC90390E40B55AE92F9DB98DFDD226E0429A0D8A")]
    [InlineData(300, 300, "EF2FB5559519F74E90B7B5FBAFA671D84770F59D23FFC1859BCDC5A51763F91F")]
    public void Float32_IsUnchanged(int rows, int cols, string sha256)
    {
        bool saved = Gemm.ForceManaged;
        Gemm.ForceManaged = true;
        try
        {
            float[] g = Uniform(rows * cols, rows * 1000 + cols);
            float[] byDefault = new float[g.Length], byName = new float[g.Length];
            NewtonSchulz.Orthogonalize(g, byDefault, rows, cols);
            NewtonSchulz.Orthogonalize(g, byName, rows, cols, precision: NewtonSchulzPrecision.Float32);
            Assert.Equal(sha256, Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(byDefault.AsSpan()))));
            Assert.Equal(byDefault, byName);
        }
        finally
        {
            Gemm.ForceManaged = saved;
        }
    }

    [Theory]
    [InlineData(64, 256, false)]
    [InlineData(256, 64, false)]
    [InlineData(300, 300, false)]
    [InlineData(64, 256, true)]
    [InlineData(256, 64, true)]
    [InlineData(300, 300, true)]
    public void BFloat16_MatchesDoubleNewtonSchulz_WithinBFloat16Rounding(int rows, int cols, bool managed)
    {
        bool saved = Gemm.ForceManaged;
        Gemm.ForceManaged = managed;
        try
        {
            float[] g = Uniform(rows * cols, rows * 7 + cols);
            float[] bf16 = new float[g.Length], fp32 = new float[g.Length];
            NewtonSchulz.Orthogonalize(g, bf16, rows, cols, precision: NewtonSchulzPrecision.BFloat16);
            NewtonSchulz.Orthogonalize(g, fp32, rows, cols);

            // The bfloat16 iteration starts from G rounded to bfloat16 (G.bfloat16()); the reference does too, so the
            // difference is the iteration's own rounding. float32 is compared with the reference of G itself.
            double[] referenceBf16Input = ReferenceNewtonSchulz(g.Select(Bf16).ToArray(), rows, cols);
            double[] reference = ReferenceNewtonSchulz(g, rows, cols);
            double errorBf16 = RelativeFrobenius(bf16, referenceBf16Input);
            double errorFp32 = RelativeFrobenius(fp32, reference);
            double maxAbsBf16 = bf16.Select((v, i) => Math.Abs(v - referenceBf16Input[i])).Max();
            double maxRef = referenceBf16Input.Max(Math.Abs);
            output.WriteLine($"{rows}x{cols} ({Gemm.Backend}): relative Frobenius error vs double NS: bf16 {errorBf16:E2} ({errorBf16 / UnitRoundoffBf16:F2} u), " +
                $"fp32 {errorFp32:E2}; bf16 max |error| {maxAbsBf16:E2} (max |x| {maxRef:F3})");

            Assert.All(bf16, v => Assert.Equal(0u, BitConverter.SingleToUInt32Bits(v) & 0xFFFFu));   // every output is a bfloat16
            Assert.True(errorBf16 < 16 * UnitRoundoffBf16, $"bf16 relative error {errorBf16}");
            Assert.True(errorFp32 < 1e-5, $"fp32 relative error {errorFp32}");
            Assert.True(errorBf16 > 10 * errorFp32, "the bf16 iteration is not less precise than the float32 one: was it rounded at all?");
        }
        finally
        {
            Gemm.ForceManaged = saved;
        }
    }

    [Theory]
    [InlineData(64, 256)]
    [InlineData(256, 64)]
    [InlineData(300, 300)]
    public void BFloat16_SingularValues_FollowThePolynomial_AndLandInTheBand(int rows, int cols)
    {
        float[] g = Uniform(rows * cols, rows * 31 + cols);
        float[] o = new float[g.Length];
        NewtonSchulz.Orthogonalize(g, o, rows, cols, precision: NewtonSchulzPrecision.BFloat16);

        float[] gBf16 = g.Select(Bf16).ToArray();
        double frobenius = Math.Sqrt(gBf16.Sum(v => (double)v * v));
        double[] input = NewtonSchulzTests.SingularValues(gBf16, rows, cols).Select(s => s / frobenius).ToArray();
        double[] expected = input.Select(s => Polynomial(s, 5)).OrderByDescending(s => s).ToArray();
        double[] actual = NewtonSchulzTests.SingularValues(o, rows, cols);
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        double[] converged = input.Where(s => s >= 1.5e-3).Select(s => Polynomial(s, 5)).ToArray();
        double[] inBand = actual.Take(converged.Length).ToArray();
        output.WriteLine($"{rows}x{cols} bf16 ({Gemm.Backend}): output sigma in [{actual.Min():F4}, {actual.Max():F4}]; " +
            $"{converged.Length}/{actual.Length} inputs >= 1.5e-3, their outputs in [{inBand.Min():F4}, {inBand.Max():F4}]; max |sigma - p5(sigma_in)| {worst:E2}");

        Assert.True(worst < 0.05, $"singular values differ from p^5 of the input's by up to {worst}");
        // The float32 band [0.681, 1.2024], widened by that tolerance.
        Assert.All(inBand, s => Assert.InRange(s, 0.681 - 0.05, 1.2024 + 0.05));
    }

    [Fact]
    public void BFloat16_ZeroStaysZero_AndBadPrecisionThrows()
    {
        float[] zero = new float[12], o = new float[12];
        NewtonSchulz.Orthogonalize(zero, o, 3, 4, precision: NewtonSchulzPrecision.BFloat16);
        Assert.All(o, v => Assert.Equal(0f, v));
        Assert.Throws<ArgumentOutOfRangeException>("precision", () => NewtonSchulz.Orthogonalize(zero, o, 3, 4, precision: (NewtonSchulzPrecision)2));
    }
}
