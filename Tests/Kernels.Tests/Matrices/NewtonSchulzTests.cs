using System;
using System.Linq;
using Kernels.Matrices;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests.Matrices;

/// <summary>
/// The Newton–Schulz orthogonalization, checked through singular values computed here, independently of the code under
/// test: eigenvalues of the Gram matrix in double by cyclic Jacobi rotations.
/// </summary>
/// <remarks>
/// The iteration acts on each singular value alone: <c>X = U S Vᵀ</c> gives <c>a·X + b·X Xᵀ X + c·(X Xᵀ)² X =
/// U p(S) Vᵀ</c> with <c>p(s) = a·s + b·s³ + c·s⁵</c>. So the output's singular values must be p applied five times
/// to the input's singular values divided by its Frobenius norm: checked to 2e-3 (float32 rounding, amplified by up to
/// p'(0)⁵ = a⁵ ≈ 487 along the smallest singular directions; observed below 1e-4 except there). With the default
/// coefficients, every input singular value at least 1.5e-3 of the norm ends in [0.681, 1.2024] (p⁵'s range there,
/// computed in double) — all of them for the rectangular random matrices (their normalized singular values lie in
/// [0.06, 0.19]); a square random matrix has a few singular values below that, which NS5 leaves smaller.
/// </remarks>
[Collection(GemmBackendCollection.Name)]
public sealed class NewtonSchulzTests(ITestOutputHelper output)
{
    private const double BandLow = 0.681, BandHigh = 1.2024;

    private static float[] Gaussian(int length, int seed)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            values[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }
        return values;
    }

    /// <summary>Singular values (descending) of a rows×cols row-major matrix: square roots of the eigenvalues of its smaller Gram matrix, in double.</summary>
    internal static double[] SingularValues(float[] matrix, int rows, int cols)
    {
        bool wide = rows <= cols;
        int m = Math.Min(rows, cols), n = Math.Max(rows, cols);
        double At(int i, int p) => wide ? matrix[i * cols + p] : matrix[p * cols + i];   // the wide orientation
        var wideRows = new double[m][];
        for (int i = 0; i < m; i++)
        {
            wideRows[i] = new double[n];
            for (int p = 0; p < n; p++)
                wideRows[i][p] = At(i, p);
        }
        var gram = new double[m * m];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j <= i; j++)
            {
                double s = 0;
                for (int p = 0; p < n; p++)
                    s += wideRows[i][p] * wideRows[j][p];
                gram[i * m + j] = gram[j * m + i] = s;
            }
        }
        return JacobiEigenvalues(gram, m).Select(l => Math.Sqrt(Math.Max(l, 0))).OrderByDescending(s => s).ToArray();
    }

    /// <summary>Eigenvalues of a symmetric n×n matrix (row-major) by cyclic Jacobi rotations (Numerical Recipes' form; destroys it).</summary>
    private static double[] JacobiEigenvalues(double[] a, int n)
    {
        for (int sweep = 0; sweep < 100; sweep++)
        {
            double off = 0, diagonal = 0;
            for (int i = 0; i < n; i++)
            {
                diagonal += a[i * n + i] * a[i * n + i];
                for (int j = i + 1; j < n; j++)
                    off += a[i * n + j] * a[i * n + j];
            }
            if (off <= 1e-30 * diagonal)
                break;
            for (int p = 0; p < n - 1; p++)
            {
                for (int q = p + 1; q < n; q++)
                {
                    double apq = a[p * n + q];
                    if (apq == 0)
                        continue;
                    double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                    double t = (theta >= 0 ? 1 : -1) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
                    for (int k = 0; k < n; k++)
                    {
                        if (k == p || k == q)
                            continue;
                        double akp = a[k * n + p], akq = a[k * n + q];
                        a[k * n + p] = a[p * n + k] = c * akp - s * akq;
                        a[k * n + q] = a[q * n + k] = s * akp + c * akq;
                    }
                    a[p * n + p] -= t * apq;
                    a[q * n + q] += t * apq;
                    a[p * n + q] = a[q * n + p] = 0;
                }
            }
        }
        return Enumerable.Range(0, n).Select(i => a[i * n + i]).ToArray();
    }

    /// <summary>p applied <paramref name="steps"/> times, in double.</summary>
    private static double Polynomial(double s, int steps)
    {
        for (int i = 0; i < steps; i++)
            s = NewtonSchulz.DefaultA * s + NewtonSchulz.DefaultB * s * s * s + NewtonSchulz.DefaultC * s * s * s * s * s;
        return s;
    }

    [Theory]
    [InlineData(64, 256, false)]
    [InlineData(256, 64, false)]
    [InlineData(300, 300, false)]
    [InlineData(64, 256, true)]
    [InlineData(256, 64, true)]
    [InlineData(300, 300, true)]
    public void SingularValues_FollowThePolynomial_AndLandInTheBand(int rows, int cols, bool managed)
    {
        bool saved = Gemm.ForceManaged;
        Gemm.ForceManaged = managed;
        try
        {
            float[] g = Gaussian(rows * cols, seed: rows * 1000 + cols);
            float[] o = new float[g.Length];
            NewtonSchulz.Orthogonalize(g, o, rows, cols);

            double frobenius = Math.Sqrt(g.Sum(v => (double)v * v));
            double[] input = SingularValues(g, rows, cols).Select(s => s / frobenius).ToArray();
            double[] expected = input.Select(s => Polynomial(s, 5)).OrderByDescending(s => s).ToArray();
            double[] actual = SingularValues(o, rows, cols);
            double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();

            double[] converged = input.Where(s => s >= 1.5e-3).Select(s => Polynomial(s, 5)).ToArray();
            double[] inBand = actual.Take(converged.Length).ToArray();   // descending: the largest outputs belong to them
            output.WriteLine($"{rows}x{cols} ({Gemm.Backend}): input sigma/||G||_F in [{input.Min():E2}, {input.Max():F3}]; " +
                $"output sigma in [{actual.Min():F4}, {actual.Max():F4}]; {converged.Length}/{actual.Length} inputs >= 1.5e-3, their outputs in [{inBand.Min():F4}, {inBand.Max():F4}]; " +
                $"max |sigma - p5(sigma_in)| {worst:E2}");

            Assert.True(worst < 2e-3, $"singular values differ from p^5 of the input's by up to {worst}");
            Assert.All(inBand, s => Assert.InRange(s, BandLow, BandHigh));
            if (rows != cols)
                Assert.Equal(actual.Length, converged.Length);
        }
        finally
        {
            Gemm.ForceManaged = saved;
        }
    }

    [Fact]
    public void TallIsTheTransposeOfWide_AndInPlaceMatchesOutOfPlace()
    {
        const int rows = 40, cols = 97;
        float[] g = Gaussian(rows * cols, 3);
        float[] gt = new float[g.Length];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++)
                gt[j * rows + i] = g[i * cols + j];
        }
        float[] o = new float[g.Length], ot = new float[g.Length];
        NewtonSchulz.Orthogonalize(g, o, rows, cols);
        NewtonSchulz.Orthogonalize(gt, ot, cols, rows);
        double worst = 0;
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < cols; j++)
                worst = Math.Max(worst, Math.Abs(o[i * cols + j] - ot[j * rows + i]));
        }
        Assert.True(worst < 1e-5, $"NS(Gᵀ) differs from NS(G)ᵀ by {worst}");

        float[] inPlace = (float[])g.Clone();
        NewtonSchulz.Orthogonalize(inPlace, inPlace, rows, cols);
        Assert.Equal(o, inPlace);
    }

    [Fact]
    public void ZeroMatrixStaysZero_AndZeroStepsOnlyNormalizes()
    {
        float[] zero = new float[12], o = new float[12];
        NewtonSchulz.Orthogonalize(zero, o, 3, 4);
        Assert.All(o, v => Assert.Equal(0f, v));

        float[] g = { 3, 0, 0, 4 };
        NewtonSchulz.Orthogonalize(g, o.AsSpan(0, 4), 2, 2, steps: 0);
        Assert.Equal(new[] { 0.6f, 0f, 0f, 0.8f }, o.Take(4));
    }

    [Fact]
    public void ArgumentsAreChecked()
    {
        float[] g = new float[12], o = new float[12];
        Assert.Throws<ArgumentOutOfRangeException>("steps", () => NewtonSchulz.Orthogonalize(g, o, 3, 4, steps: 100));
        Assert.Throws<ArgumentOutOfRangeException>("steps", () => NewtonSchulz.Orthogonalize(g, o, 3, 4, steps: -1));
        Assert.Throws<ArgumentException>("matrix", () => NewtonSchulz.Orthogonalize(g, o, 3, 3));
        Assert.Throws<ArgumentException>("result", () => NewtonSchulz.Orthogonalize(g, o.AsSpan(1), 3, 4 - 0));
        Assert.Throws<ArgumentException>("result", () => NewtonSchulz.Orthogonalize(g.AsSpan(0, 6), g.AsSpan(3, 6), 2, 3));
    }
}
