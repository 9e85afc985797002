using System;
using System.Collections.Generic;
using System.Linq;
using BenchmarkDotNet.Attributes;
using Kernels.Benchmarks.Infrastructure;
using Kernels.Optimizers;
using Kernels.Training;

namespace Kernels.Benchmarks;

/// <summary>
/// The optimizer object's <c>Step()</c> over a realistic mix of tensor sizes — a small transformer: an 8000×512
/// embedding, six layers of (512×1536 attention input, its 1536 bias, 512×512 output, 512 bias, 512×2048 and 2048×512
/// MLP weights, their biases, two 512 gains and two 512 norm biases), a final norm — 75 tensors from 512 to 4.1M
/// elements, weights decayed and the rest not (two groups, as PyTorch recipes do), against one flat tensor of the same
/// total size (the baseline). The training-runtime issue asks for the object within 10% of the flat step.
/// </summary>
[StreamedBytes(28, "read p,g,m,v; write p,m,v")]
public class ModelMixBenchmark
{
    /// <summary>The tensor shapes of the model.</summary>
    public static readonly int[][] Shapes = BuildShapes();

    /// <summary>Parameters in all.</summary>
    public static readonly int TotalElements = Shapes.Sum(s => s.Aggregate(1, (a, b) => a * b));

    private const int StepNumber = 10;
    private Parameter<float>? _flat;
    private float[]? _flatExpAvg, _flatExpAvgSq;
    private AdamW.Optimizer? _optimizer;

    /// <summary>One thread, or every core.</summary>
    [ParamsAllValues]
    public Cores Cores { get; set; }

    private static int[][] BuildShapes()
    {
        const int d = 512, vocabulary = 8000, layers = 6;
        var shapes = new List<int[]> { new[] { vocabulary, d } };
        for (int l = 0; l < layers; l++)
        {
            shapes.AddRange(new[]
            {
                new[] { d }, new[] { d },              // attention norm gain, bias
                new[] { d, 3 * d }, new[] { 3 * d },   // attention input and bias
                new[] { d, d }, new[] { d },           // attention output and bias
                new[] { d }, new[] { d },              // MLP norm gain, bias
                new[] { d, 4 * d }, new[] { 4 * d },   // MLP up and bias
                new[] { 4 * d, d }, new[] { d },       // MLP down and bias
            });
        }
        shapes.Add(new[] { d });
        shapes.Add(new[] { d });
        return shapes.ToArray();
    }

    private static void Fill(Span<float> values, float low, float high, int seed)
    {
        var random = new Random(seed);
        foreach (ref float v in values)
            v = low + (high - low) * (float)random.NextDouble();
    }

    /// <summary>The flat tensor and its state.</summary>
    [GlobalSetup(Target = nameof(FlatGenerated))]
    public void SetupFlat()
    {
        _flat = new Parameter<float>("flat", TotalElements);
        Fill(_flat.Data.Span, -1, 1, 1);
        Fill(_flat.Grad.Span, -1e-2f, 1e-2f, 2);
        _flatExpAvg = new float[TotalElements];
        _flatExpAvgSq = new float[TotalElements];
        Fill(_flatExpAvg, -1e-3f, 1e-3f, 3);
        Fill(_flatExpAvgSq, 1e-6f, 1e-4f, 4);
    }

    /// <summary>The model's tensors (each its own allocation, as a model's are), the optimizer, and a first step (state allocated).</summary>
    [GlobalSetup(Target = nameof(OptimizerObject))]
    public void SetupModel()
    {
        var parameters = Shapes.Select((shape, i) =>
        {
            var p = new Parameter<float>("t" + i, shape);
            Fill(p.Data.Span, -1, 1, 10 * i + 1);
            Fill(p.Grad.Span, -1e-2f, 1e-2f, 10 * i + 2);
            return p;
        }).ToList();
        _optimizer = new AdamW.Optimizer(parameters.Where(p => p.Shape.Count == 2), weightDecay: 0.1, stepOptions: Chunks.OptionsFor(Cores));
        _optimizer.AddParamGroup(parameters.Where(p => p.Shape.Count != 2), g => g.WeightDecay = 0);
        _optimizer.Step();
    }

    /// <summary>Frees everything.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _flat = null;
        _flatExpAvg = _flatExpAvgSq = null;
        _optimizer = null;
        GC.Collect();
    }

    /// <summary>The generated AdamW step over one flat tensor of the model's size (the baseline).</summary>
    [Benchmark(Baseline = true)]
    public void FlatGenerated() =>
        AdamW.Step(_flat!.Data.Span, _flat.Grad.Span, _flatExpAvg, _flatExpAvgSq, default, StepNumber, weightDecay: 0.1, options: Chunks.OptionsFor(Cores));

    /// <summary>The optimizer object over the model's 75 tensors in two groups.</summary>
    [Benchmark]
    public void OptimizerObject() => _optimizer!.Step();
}
