using System;
using System.Collections.Generic;
using Kernels.Matrices;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests.Matrices;

/// <summary>
/// The tests that read or set <see cref="Gemm.ForceManaged"/> (a process-wide switch) run in this collection, one at a
/// time and never beside another test of it.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GemmBackendCollection
{
    public const string Name = "Gemm backend switch";
}

/// <summary>
/// Both GEMM backends against a naive double-precision reference, over odd sizes (every micro-kernel edge), the four
/// transpose combinations, row strides wider than the matrix, and alpha/beta.
/// </summary>
/// <remarks>
/// Tolerance: per element, |C − C_ref| ≤ 2·k·u·(|alpha|·Σ_p |op(A)_ip|·|op(B)_pj| + |beta|·|C0_ij|) + 1e-30, with
/// u = 2⁻²⁴ (float32's unit roundoff): the classical worst-case bound for a length-k float32 dot product, doubled.
/// The test reports how much of it was used (typically a few percent: rounding errors cancel).
/// When OpenBLAS is absent the OpenBLAS cases pass without running unless KERNELS_REQUIRE_OPENBLAS=1 (CI sets it).
/// </remarks>
[Collection(GemmBackendCollection.Name)]
public sealed class GemmTests(ITestOutputHelper output)
{
    private const double U = 1.0 / (1 << 24);

    public static IEnumerable<object[]> Cases()
    {
        // m, n, k: 1s, primes, around the micro-tile (6 x 16/32), row blocks (120) and the inner block (256).
        int[][] sizes =
        {
            new[] { 1, 1, 1 }, new[] { 1, 33, 7 }, new[] { 5, 1, 300 }, new[] { 7, 17, 3 }, new[] { 13, 31, 257 },
            new[] { 37, 65, 100 }, new[] { 121, 33, 513 }, new[] { 64, 256, 64 }, new[] { 127, 129, 131 }, new[] { 250, 70, 600 },
        };
        foreach (GemmBackend backend in new[] { GemmBackend.Managed, GemmBackend.OpenBlas })
        {
            foreach (int[] s in sizes)
            {
                foreach (bool ta in new[] { false, true })
                {
                    foreach (bool tb in new[] { false, true })
                        yield return new object[] { backend, s[0], s[1], s[2], ta, tb };
                }
            }
        }
    }

    private static bool Skip(GemmBackend backend, ITestOutputHelper output)
    {
        if (backend != GemmBackend.OpenBlas || Gemm.IsOpenBlasAvailable)
            return false;
        Assert.False(Environment.GetEnvironmentVariable("KERNELS_REQUIRE_OPENBLAS") == "1",
            "KERNELS_REQUIRE_OPENBLAS=1 but OpenBLAS could not be loaded (Debian/Ubuntu: apt-get install libopenblas0-pthread).");
        output.WriteLine("OpenBLAS is not installed: not run.");
        return true;
    }

    private static float[] Random(Random random, int length)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
            values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }

    /// <summary>Runs one product with padded strides and checks it against the reference; returns the share of the tolerance used.</summary>
    private static double Check(GemmBackend backend, int m, int n, int k, bool ta, bool tb, float alpha, float beta, int pad, int seed)
    {
        var random = new Random(seed);
        int aRows = ta ? k : m, aCols = ta ? m : k, bRows = tb ? n : k, bCols = tb ? k : n;
        int lda = aCols + pad, ldb = bCols + pad, ldc = n + pad;
        float[] a = Random(random, aRows * lda), b = Random(random, bRows * ldb), c0 = Random(random, m * ldc);
        float[] c = (float[])c0.Clone();
        Gemm.Multiply(backend, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

        double worst = 0;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = 0, magnitude = 0;
                for (int p = 0; p < k; p++)
                {
                    double x = ta ? a[p * lda + i] : a[i * lda + p];
                    double y = tb ? b[j * ldb + p] : b[p * ldb + j];
                    sum += x * y;
                    magnitude += Math.Abs(x * y);
                }
                double expected = alpha * sum + (beta == 0 ? 0 : beta * (double)c0[i * ldc + j]);
                double bound = 2 * Math.Max(k, 1) * U * (Math.Abs(alpha) * magnitude + Math.Abs(beta) * Math.Abs(c0[i * ldc + j])) + 1e-30;
                double usage = Math.Abs(c[i * ldc + j] - expected) / bound;
                Assert.True(usage <= 1, $"{backend} {m}x{n}x{k} ta={ta} tb={tb}: C[{i},{j}] = {c[i * ldc + j]:R}, expected {expected:R} (bound {bound:E2})");
                worst = Math.Max(worst, usage);
            }
            // The padding between rows is never written.
            for (int j = n; j < ldc && i < m - 1; j++)
                Assert.Equal(c0[i * ldc + j], c[i * ldc + j]);
        }
        return worst;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Multiply_MatchesDoubleReference(GemmBackend backend, int m, int n, int k, bool transposeA, bool transposeB)
    {
        if (Skip(backend, output))
            return;
        double used = Check(backend, m, n, k, transposeA, transposeB, 0.75f, 0f, 0, seed: m * 31 + n * 7 + k);
        used = Math.Max(used, Check(backend, m, n, k, transposeA, transposeB, -1.25f, 0.5f, 3, seed: m + n + k));
        output.WriteLine($"{backend} {m}x{n}x{k} ta={transposeA} tb={transposeB}: {used:P1} of the error bound used");
    }

    [Theory]
    [InlineData(GemmBackend.Managed)]
    [InlineData(GemmBackend.OpenBlas)]
    public void BetaZero_DoesNotReadC_AndAlphaZeroOnlyScales(GemmBackend backend)
    {
        if (Skip(backend, output))
            return;
        float[] a = { 1, 2, 3, 4 }, b = { 5, 6, 7, 8 };
        float[] c = { float.NaN, float.NaN, float.NaN, float.NaN };
        Gemm.Multiply(backend, false, false, 2, 2, 2, 1f, a, 2, b, 2, 0f, c, 2);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c);

        Gemm.Multiply(backend, false, false, 2, 2, 2, 0f, a, 2, b, 2, 2f, c, 2);
        Assert.Equal(new float[] { 38, 44, 86, 100 }, c);

        // k = 0: C = beta * C.
        Gemm.Multiply(backend, false, false, 2, 2, 0, 1f, default, 1, default, 2, 0.5f, c, 2);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c);
    }

    [Fact]
    public void Managed_IsDeterministic_AndMatchesOpenBlasClosely()
    {
        const int m = 300, n = 257, k = 700;
        var random = new Random(5);
        float[] a = Random(random, m * k), b = Random(random, k * n);
        float[] c1 = new float[m * n], c2 = new float[m * n];
        Gemm.Multiply(GemmBackend.Managed, false, false, m, n, k, 1f, a, k, b, n, 0f, c1, n);
        Gemm.Multiply(GemmBackend.Managed, false, false, m, n, k, 1f, a, k, b, n, 0f, c2, n);
        Assert.Equal(c1, c2);
        if (!Gemm.IsOpenBlasAvailable)
            return;
        float[] c3 = new float[m * n];
        Gemm.Multiply(GemmBackend.OpenBlas, false, false, m, n, k, 1f, a, k, b, n, 0f, c3, n);
        double worst = 0;
        for (int i = 0; i < c1.Length; i++)
            worst = Math.Max(worst, Math.Abs(c1[i] - c3[i]));
        output.WriteLine($"managed vs OpenBLAS, {m}x{n}x{k}: max |difference| {worst:E2} (entries ~ {Math.Sqrt(k / 9.0):F1})");
        Assert.True(worst < 1e-4, $"managed and OpenBLAS differ by {worst}");
    }

    [Fact]
    public void ForceManaged_SwitchesTheBackend()
    {
        bool saved = Gemm.ForceManaged;
        try
        {
            Gemm.ForceManaged = true;
            Assert.Equal(GemmBackend.Managed, Gemm.Backend);
            Gemm.ForceManaged = false;
            Assert.Equal(Gemm.IsOpenBlasAvailable ? GemmBackend.OpenBlas : GemmBackend.Managed, Gemm.Backend);
            output.WriteLine($"OpenBLAS: {(Gemm.IsOpenBlasAvailable ? Gemm.OpenBlasLibrary : "not available")}; {Gemm.EnvironmentVariable}={Environment.GetEnvironmentVariable(Gemm.EnvironmentVariable)}");
        }
        finally
        {
            Gemm.ForceManaged = saved;
        }
    }

    [Fact]
    public void ArgumentsAreChecked()
    {
        float[] a = new float[6], b = new float[6], c = new float[4];
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(false, false, -1, 2, 3, 1f, a, 3, b, 2, 0f, c, 2));
        Assert.Throws<ArgumentOutOfRangeException>("lda", () => Gemm.Multiply(false, false, 2, 2, 3, 1f, a, 2, b, 2, 0f, c, 2));
        Assert.Throws<ArgumentOutOfRangeException>("ldc", () => Gemm.Multiply(false, false, 2, 2, 3, 1f, a, 3, b, 2, 0f, c, 1));
        Assert.Throws<ArgumentException>("b", () => Gemm.Multiply(false, false, 2, 2, 3, 1f, a, 3, b.AsSpan(0, 5), 2, 0f, c, 2));
        Assert.Throws<ArgumentException>("c", () => Gemm.Multiply(false, false, 2, 2, 3, 1f, a, 3, b, 2, 0f, c.AsSpan(0, 3), 2));
        // C written over an input.
        float[] shared = new float[16];
        Assert.Throws<ArgumentException>("c", () => Gemm.Multiply(false, false, 2, 2, 2, 1f, shared.AsSpan(0, 4), 2, shared.AsSpan(4, 4), 2, 0f, shared.AsSpan(2, 4), 2));
        Assert.Throws<ArgumentOutOfRangeException>("backend", () => Gemm.Multiply((GemmBackend)7, false, false, 2, 2, 3, 1f, a, 3, b, 2, 0f, c, 2));
    }
}
