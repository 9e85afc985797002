using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Kernels.Benchmarks.Infrastructure;
using Kernels.Matrices;
using TorchSharp;
using static TorchSharp.torch;

namespace Kernels.Benchmarks;

/// <summary>
/// Muon's matrix part alone: the quintic Newton–Schulz iteration (5 steps, a, b, c = 3.4445, −4.7750, 2.0315, eps
/// 1e-7, float32) on one matrix — <see cref="NewtonSchulz.Orthogonalize"/> with OpenBLAS's <c>cblas_sgemm</c> and with
/// the managed GEMM, against torch.optim.Muon's <c>_zeropower_via_newtonschulz</c> written with TorchSharp operations
/// (libtorch's matmul; the baseline), in its default form and in its <c>use_addmm=True</c> form.
/// </summary>
/// <remarks>
/// <para>
/// Threads, per <see cref="Cores"/>: libtorch through <c>torch.set_num_threads</c>; OpenBLAS through
/// <c>openblas_set_num_threads</c> (<see cref="OpenBlasThreads"/>: <see cref="Gemm"/> has no setting of its own); the
/// managed GEMM spreads its row blocks with <c>Parallel.For</c> over <see cref="Environment.ProcessorCount"/> threads
/// and has no setting either, so for <see cref="Cores.One"/> it runs inside a task on a scheduler of concurrency 1
/// (<c>Parallel.For</c> takes the current scheduler's concurrency as its limit). Each thread count is checked.
/// </para>
/// <para>
/// Before the first case of each shape and thread mode, every row runs once outside the timing and the outputs are
/// compared with TorchSharp's (so the rows compute the same thing), with the CPU time each took over its wall time
/// (the threads it kept busy); printed as <c>// Newton-Schulz check</c> lines in the log.
/// </para>
/// </remarks>
[Config(typeof(NewtonSchulzConfig))]
public class NewtonSchulzBenchmark
{
    /// <summary>Coefficients, steps and eps: torch.optim.Muon's defaults.</summary>
    private const double A = NewtonSchulz.DefaultA, B = NewtonSchulz.DefaultB, C = NewtonSchulz.DefaultC, Eps = NewtonSchulz.DefaultEps;

    private const int Steps = NewtonSchulz.DefaultSteps;

    /// <summary>
    /// Largest ‖row − TorchSharp‖_F / ‖TorchSharp‖_F the check accepts. The products alone differ by ~1e-6 (OpenBLAS
    /// against managed, the two torch forms against each other); the rest is libtorch's float32 Frobenius norm, which
    /// at 1024x4096 comes out 7.9e-5 below the exact one (ours is accumulated in double), and X is divided by it.
    /// </summary>
    private const double MaxNormwiseDifference = 5e-4;

    private static readonly HashSet<(string, Cores)> s_checked = [];
    private static readonly TaskScheduler s_oneThread = new ConcurrentExclusiveSchedulerPair(TaskScheduler.Default, 1).ConcurrentScheduler;

    private float[]? _input, _output;
    private Tensor? _torchInput;
    private int _rows, _cols, _openBlasThreadsBefore = -1;
    private bool _forceManagedBefore;

    /// <summary>rows x cols of the matrix: 1024x4096 (the shape; a 1024 x 4096 MLP weight) and a small one.</summary>
    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "1024x4096";

    /// <summary>The shapes.</summary>
    public static IEnumerable<string> Shapes => ["1024x4096", "256x1024"];

    /// <summary>One thread, or every core (for libtorch, OpenBLAS and the managed GEMM alike).</summary>
    [ParamsAllValues]
    public Cores Cores { get; set; }

    /// <summary>Threads every row of a case runs on.</summary>
    public static int ThreadsFor(Cores cores) => cores == Cores.All ? Environment.ProcessorCount : 1;

    /// <summary>Parses "1024x4096".</summary>
    public static (int Rows, int Cols) Parse(string shape)
    {
        string[] parts = shape.Split('x');
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Floating-point operations of the iteration, each product counted as a full GEMM (2·m·n·k): per step, with
    /// m = min(rows, cols) and n = max(rows, cols), X Xᵀ 2m²n, A·A 2m³, B·X 2m²n. The element-wise work (a few m·n
    /// per step) is left out. 1024x4096: 5 · (2 · 8.59 + 2.15) = 96.6 GFLOP.
    /// </summary>
    public static double Flops(string shape)
    {
        (int rows, int cols) = Parse(shape);
        double m = Math.Min(rows, cols), n = Math.Max(rows, cols);
        return Steps * (4 * m * m * n + 2 * m * m * m);
    }

    /// <summary>The input (N(0, 1), fixed seed), the output buffer, libtorch's copy; threads set and checked; the check once per shape and thread mode.</summary>
    [GlobalSetup]
    public void Setup()
    {
        (_rows, _cols) = Parse(Shape);
        _input = Normal(_rows * _cols, new Random(_rows * 31 + _cols));
        _output = new float[_input.Length];
        _torchInput = torch.tensor(_input).reshape(_rows, _cols);

        int threads = ThreadsFor(Cores);
        torch.set_num_threads(threads);
        if (torch.get_num_threads() != threads)
            throw new InvalidOperationException($"torch.set_num_threads({threads}) left torch.get_num_threads() = {torch.get_num_threads()}.");
        if (OpenBlasThreads.IsAvailable)
        {
            _openBlasThreadsBefore = OpenBlasThreads.Get();
            OpenBlasThreads.Set(threads);
        }
        _forceManagedBefore = Gemm.ForceManaged;

        if (s_checked.Add((Shape, Cores)))
            Check();
    }

    /// <summary>Frees the tensors; OpenBLAS's threads and <see cref="Gemm.ForceManaged"/> as they were.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _torchInput?.Dispose();
        _torchInput = null;
        _input = _output = null;
        if (_openBlasThreadsBefore > 0)
            OpenBlasThreads.Set(_openBlasThreadsBefore);
        Gemm.ForceManaged = _forceManagedBefore;
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }

    /// <summary>(a) <see cref="NewtonSchulz.Orthogonalize"/> on OpenBLAS's <c>cblas_sgemm</c>.</summary>
    [Benchmark]
    public void KernelsOpenBlas() => Orthogonalize(GemmBackend.OpenBlas);

    /// <summary>(b) <see cref="NewtonSchulz.Orthogonalize"/> on the managed GEMM.</summary>
    [Benchmark]
    public void KernelsManaged() => Orthogonalize(GemmBackend.Managed);

    /// <summary>(c) torch.optim.Muon's iteration (default form) with libtorch's matmul: the baseline.</summary>
    [Benchmark(Baseline = true)]
    public void TorchSharpNewtonSchulz()
    {
        using var scope = torch.NewDisposeScope();
        ZeropowerViaNewtonSchulz(_torchInput!, useAddmm: false);
    }

    /// <summary>(d) The same with <c>use_addmm=True</c>: the scalings fused into the products.</summary>
    [Benchmark]
    public void TorchSharpNewtonSchulzAddmm()
    {
        using var scope = torch.NewDisposeScope();
        ZeropowerViaNewtonSchulz(_torchInput!, useAddmm: true);
    }

    private void Orthogonalize(GemmBackend backend)
    {
        Gemm.ForceManaged = backend == GemmBackend.Managed;
        if (Gemm.Backend != backend)
            throw new NotSupportedException($"Gemm.Backend is {Gemm.Backend}, not {backend} (OpenBLAS loaded: {Gemm.IsOpenBlasAvailable}).");
        if (backend == GemmBackend.Managed && Cores == Cores.One)
            Task.Factory.StartNew(OrthogonalizeNow, CancellationToken.None, TaskCreationOptions.None, s_oneThread).Wait();
        else
            OrthogonalizeNow();
    }

    private void OrthogonalizeNow() => NewtonSchulz.Orthogonalize(_input, _output, _rows, _cols, Steps, A, B, C, Eps);

    /// <summary>
    /// torch.optim._muon._zeropower_via_newtonschulz in float32 (PyTorch converts to bfloat16 first: <c>grad.bfloat16()</c>,
    /// a copy, so the division is out of place here).
    /// </summary>
    /// <remarks>
    /// Tensors are freed when Python would free them: each step's temporaries at the end of the step, the previous X
    /// once the next exists. (The caller's dispose scope alone would keep all five steps' tensors alive, about 350 MB
    /// of fresh memory per call at 1024x4096, which libtorch under Python never asks for.)
    /// </remarks>
    private static Tensor ZeropowerViaNewtonSchulz(Tensor grad, bool useAddmm)
    {
        bool transposed = grad.shape[0] > grad.shape[1];
        Tensor x;
        using (var scope = torch.NewDisposeScope())
        {
            Tensor g = transposed ? grad.T : grad;
            x = scope.MoveToOuter(g.div(g.norm().clamp_min(Eps)));  // ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
        }
        for (int i = 0; i < Steps; i++)
        {
            Tensor next;
            using (var scope = torch.NewDisposeScope())
            {
                Tensor gram = x.mm(x.T);                                   // gram_matrix = ortho_grad @ ortho_grad.T
                if (useAddmm)
                {
                    Tensor update = torch.addmm(gram, gram, gram, beta: (float)B, alpha: (float)C);   // addmm(gram, gram, gram, beta=b, alpha=c)
                    next = torch.addmm(x, update, x, beta: (float)A, alpha: 1f);                      // addmm(ortho_grad, gram_update, ortho_grad, beta=a)
                }
                else
                {
                    Tensor update = gram.mul(B).add(gram.mul(C).mm(gram));   // b * gram_matrix + c * gram_matrix @ gram_matrix
                    next = x.mul(A).add(update.mm(x));                         // a * ortho_grad + gram_update @ ortho_grad
                }
                scope.MoveToOuter(next);
            }
            x.Dispose();
            x = next;
        }
        return transposed ? x.T : x;
    }

    /// <summary>Every row once, outside the timing: outputs against TorchSharp's, CPU time over wall time.</summary>
    private void Check()
    {
        string where = $"{Shape} Cores={Cores} ({ThreadsFor(Cores)} thread(s); torch.get_num_threads() {torch.get_num_threads()}, openblas_get_num_threads() {OpenBlasThreads.Get()})";
        Console.WriteLine($"// Newton-Schulz check, {where}; {OpenBlasThreads.Describe()}");
        float[] reference = Time("TorchSharp", () =>
        {
            using var scope = torch.NewDisposeScope();
            return ZeropowerViaNewtonSchulz(_torchInput!, useAddmm: false).contiguous().data<float>().ToArray();
        });
        float[] addmm = Time("TorchSharp addmm", () =>
        {
            using var scope = torch.NewDisposeScope();
            return ZeropowerViaNewtonSchulz(_torchInput!, useAddmm: true).contiguous().data<float>().ToArray();
        });
        Compare("TorchSharp addmm", addmm, "TorchSharp", reference);
        var backends = new List<GemmBackend> { GemmBackend.Managed };
        if (Gemm.IsOpenBlasAvailable)
            backends.Insert(0, GemmBackend.OpenBlas);
        var ours = new List<float[]>();
        foreach (GemmBackend backend in backends)
        {
            ours.Add(Time($"Kernels {backend}", () =>
            {
                Orthogonalize(backend);
                return _output!.ToArray();
            }));
            Compare($"Kernels {backend}", ours[^1], "TorchSharp", reference);
        }
        if (ours.Count == 2)
            Compare("Kernels OpenBlas", ours[0], "Kernels Managed", ours[1]);
        Gemm.ForceManaged = _forceManagedBefore;

        // The first thing the two sides do differently: the Frobenius norm (ours accumulated in double).
        double sum = 0;
        foreach (float v in _input!)
            sum += (double)v * v;
        float ourNorm = (float)Math.Sqrt(sum), torchNorm = _torchInput!.norm().item<float>();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"//   norm: ours {ourNorm:R}, libtorch's {torchNorm:R} (relative difference {Math.Abs((double)torchNorm - ourNorm) / ourNorm:0.00e+00})"));
    }

    private static T Time<T>(string name, Func<T> run)
    {
        using var process = Process.GetCurrentProcess();
        TimeSpan cpu = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        T result = run();
        watch.Stop();
        process.Refresh();
        double cpuSeconds = (process.TotalProcessorTime - cpu).TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"//   {name,-17} {watch.Elapsed.TotalMilliseconds,9:F1} ms wall, {cpuSeconds * 1e3,9:F1} ms CPU (process, all threads; CPU/wall {cpuSeconds / watch.Elapsed.TotalSeconds:F2})"));
        return result;
    }

    private static void Compare(string name, float[] actual, string referenceName, float[] expected)
    {
        double maxDifference = 0, maxExpected = 0, difference2 = 0, expected2 = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            maxDifference = Math.Max(maxDifference, Math.Abs(d));
            maxExpected = Math.Max(maxExpected, Math.Abs(expected[i]));
            difference2 += d * d;
            expected2 += (double)expected[i] * expected[i];
        }
        double normwise = Math.Sqrt(difference2 / expected2);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"//   {name,-17} vs {referenceName}: max |diff| / max |ref| {maxDifference / maxExpected:0.00e+00}, ||diff||_F / ||ref||_F {normwise:0.00e+00}"));
        if (!(normwise <= MaxNormwiseDifference))
            throw new InvalidOperationException($"{name} differs from {referenceName}'s Newton-Schulz by {normwise:E2} (Frobenius, relative) > {MaxNormwiseDifference:E0}: not the same computation.");
    }

    private static float[] Normal(int length, Random random)
    {
        var values = new float[length];
        for (int i = 0; i < length; i += 2)
        {
            // Box–Muller: two N(0, 1) values from two uniforms in (0, 1].
            double radius = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble()));
            double angle = 2 * Math.PI * random.NextDouble();
            values[i] = (float)(radius * Math.Cos(angle));
            if (i + 1 < length)
                values[i + 1] = (float)(radius * Math.Sin(angle));
        }
        return values;
    }
}

/// <summary>The Newton–Schulz class's additions to the suite's configuration: a GFLOP/s column; no OpenBLAS row where OpenBLAS is missing.</summary>
public sealed class NewtonSchulzConfig : ManualConfig
{
    /// <summary>Adds the column and the filter.</summary>
    public NewtonSchulzConfig()
    {
        AddColumn(new NewtonSchulzGflopsColumn());
        AddFilter(new SimpleFilter(c => c.Descriptor.WorkloadMethod.Name != nameof(NewtonSchulzBenchmark.KernelsOpenBlas) || Gemm.IsOpenBlasAvailable));
    }
}

/// <summary>Nominal GFLOP/s: <see cref="NewtonSchulzBenchmark.Flops"/> of the case's shape ÷ median time.</summary>
public sealed class NewtonSchulzGflopsColumn : IColumn
{
    /// <inheritdoc />
    public string Id => "Kernels.NewtonSchulzGflops";
    /// <inheritdoc />
    public string ColumnName => "GFLOP/s";
    /// <inheritdoc />
    public bool AlwaysShow => true;
    /// <inheritdoc />
    public ColumnCategory Category => ColumnCategory.Custom;
    /// <inheritdoc />
    public int PriorityInCategory => 2;
    /// <inheritdoc />
    public bool IsNumeric => true;
    /// <inheritdoc />
    public UnitType UnitType => UnitType.Dimensionless;
    /// <inheritdoc />
    public string Legend => "Newton-Schulz: 5 steps x (2 m^2 n for X X^T + 2 m^3 for A A + 2 m^2 n for B X) floating-point operations (m x n the wide orientation; 96.6 GFLOP for 1024x4096) / median time";
    /// <inheritdoc />
    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(c => c.Descriptor.Type == typeof(NewtonSchulzBenchmark));
    /// <inheritdoc />
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    /// <inheritdoc />
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? ns = CaseFacts.TimeNs(summary, benchmarkCase);
        return benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Shape")?.Value is not string shape || ns is null or <= 0
            ? "-"
            : (NewtonSchulzBenchmark.Flops(shape) / ns.Value).ToString("F1", CultureInfo.InvariantCulture);
    }
}
