using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Training;

namespace Kernels.Tests.Training;

/// <summary>
/// The tensors the reduction optimizers' tests step (LAMB, LARS): a matrix, a vector, a tall matrix and one tensor of
/// several reduction blocks' worth of elements, with reproducible values and per-step gradients of growing scale.
/// </summary>
internal static class ReductionTestModel
{
    private static readonly int[][] Shapes = { new[] { 64, 256 }, new[] { 300 }, new[] { 1000, 3 }, new[] { 40_000 } };

    /// <summary>Fresh parameters with values in ±0.1 drawn from <paramref name="seed"/>.</summary>
    public static List<Parameter<float>> Create(int seed)
    {
        var random = new Random(seed);
        return Shapes.Select((s, k) =>
        {
            var p = new Parameter<float>("t" + k, s);
            foreach (ref float x in p.Data.Span)
                x = (float)((random.NextDouble() - 0.5) * 0.2);
            return p;
        }).ToList();
    }

    /// <summary>Step <paramref name="step"/>'s gradients: tensor k's in ±0.05 (1 + k), the same for every model of that shape.</summary>
    public static void Gradients(IReadOnlyList<Parameter<float>> model, int step)
    {
        for (int k = 0; k < model.Count; k++)
        {
            var random = new Random(1000 * step + k);
            Span<float> g = model[k].Grad.Span;
            for (int i = 0; i < g.Length; i++)
                g[i] = (float)((random.NextDouble() - 0.5) * (1 + k) * 0.1);
        }
    }
}
