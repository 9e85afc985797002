using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Runtime.CompilerServices;
using Kernels.Training;
using TorchSharp;
using static TorchSharp.torch;
using Sequential = TorchSharp.Modules.Sequential;
using TorchOptimizer = TorchSharp.torch.optim.Optimizer;

namespace Kernels.Torch.Tests;

internal static class TorchSetup
{
    /// <summary>One libtorch thread: the results do not depend on it, and on a small shared machine it is faster.</summary>
    [ModuleInitializer]
    internal static void SingleThreaded() => torch.set_num_threads(1);
}

/// <summary>
/// The UCI handwritten digits as scikit-learn ships them (Samples/DigitsClassifier/Data/digits.csv.gz: 1,797 rows of 64
/// pixel counts 0..16 and the label), pixels scaled to [0, 1], in file order.
/// </summary>
internal static class Digits
{
    public const int Features = 64, Classes = 10, BatchSize = 64;

    private static readonly Lazy<(float[] X, long[] Y)> Data = new(Read);

    /// <summary>Batch <paramref name="index"/> of 64 consecutive rows (the 28 full batches, cycled).</summary>
    public static (Tensor X, Tensor Y) Batch(int index)
    {
        (float[] x, long[] y) = Data.Value;
        int batches = y.Length / BatchSize;
        int first = index % batches * BatchSize;
        return (tensor(x.AsSpan(first * Features, BatchSize * Features).ToArray(), new long[] { BatchSize, Features }),
                tensor(y.AsSpan(first, BatchSize).ToArray(), new long[] { BatchSize }));
    }

    private static (float[], long[]) Read()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Data", "digits.csv.gz");
        using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
        var x = new List<float>();
        var y = new List<long>();
        while (reader.ReadLine() is { } line)
        {
            string[] cells = line.Split(',');
            for (int i = 0; i < Features; i++)
                x.Add(float.Parse(cells[i], CultureInfo.InvariantCulture) / 16f);
            y.Add(long.Parse(cells[Features], CultureInfo.InvariantCulture));
        }
        return (x.ToArray(), y.ToArray());
    }
}

/// <summary>The model the tests train: a 64-32-10 MLP with ReLU, and one training step.</summary>
internal static class Mlp
{
    /// <summary>A fresh MLP; the same seed gives the same initial weights.</summary>
    public static Sequential Create(int seed = 7)
    {
        torch.manual_seed(seed);
        return nn.Sequential(("fc1", nn.Linear(Digits.Features, 32)), ("act", nn.ReLU()), ("fc2", nn.Linear(32, Digits.Classes)));
    }

    /// <summary>Forward and backward on batch <paramref name="batch"/> (gradients accumulate into <c>.grad</c>); returns the loss.</summary>
    public static float Backward(Sequential model, int batch)
    {
        using var scope = NewDisposeScope();
        (Tensor x, Tensor y) = Digits.Batch(batch);
        Tensor loss = nn.functional.cross_entropy(model.forward(x), y);
        loss.backward();
        return loss.item<float>();
    }

    /// <summary>zero_grad, forward, backward, step.</summary>
    public static float TrainStep(Sequential model, TorchOptimizer optimizer, int batch)
    {
        optimizer.zero_grad();
        float loss = Backward(model, batch);
        optimizer.step();
        return loss;
    }

    /// <summary>Every parameter's values, copied out.</summary>
    public static float[][] Values(Sequential model) => model.parameters().Select(p => p.data<float>().ToArray()).ToArray();

    /// <summary>Every parameter's gradient, copied out.</summary>
    public static float[][] Grads(Sequential model) => model.parameters().Select(p =>
    {
        using Tensor g = p.grad ?? throw new InvalidOperationException("no gradient");
        return g.data<float>().ToArray();
    }).ToArray();

    /// <summary>Kernels parameters holding copies of the model's values (names and shapes as the drop-in gives them).</summary>
    public static List<Parameter<float>> Copies(Sequential model) => model.parameters().Select((p, i) =>
    {
        var copy = new Parameter<float>(i.ToString(CultureInfo.InvariantCulture), p.shape.Select(d => (int)d).ToArray());
        p.data<float>().ToArray().CopyTo(copy.Data.Span);
        return copy;
    }).ToList();
}

/// <summary>The largest difference between two sets of tensors: absolute, and in units in the last place.</summary>
internal readonly record struct Difference(double MaxAbsolute, long MaxUlps, int Differing)
{
    public static Difference Between(float[][] a, float[][] b)
    {
        double abs = 0;
        long ulps = 0;
        int differing = 0;
        for (int k = 0; k < a.Length; k++)
        {
            for (int i = 0; i < a[k].Length; i++)
            {
                if (BitConverter.SingleToInt32Bits(a[k][i]) == BitConverter.SingleToInt32Bits(b[k][i]))
                    continue;
                differing++;
                abs = Math.Max(abs, Math.Abs((double)a[k][i] - b[k][i]));
                ulps = Math.Max(ulps, Math.Abs(Ordered(a[k][i]) - Ordered(b[k][i])));
            }
        }
        return new Difference(abs, ulps, differing);
    }

    public Difference Max(Difference other) =>
        new(Math.Max(MaxAbsolute, other.MaxAbsolute), Math.Max(MaxUlps, other.MaxUlps), Math.Max(Differing, other.Differing));

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"max |diff| {MaxAbsolute:G3}, max {MaxUlps} ulp, {Differing} elements differ");

    /// <summary>The float's position on a line where adjacent floats are 1 apart (both zeros at 0).</summary>
    private static long Ordered(float value)
    {
        int bits = BitConverter.SingleToInt32Bits(value);
        return bits < 0 ? -(long)(bits & int.MaxValue) : bits;
    }
}
