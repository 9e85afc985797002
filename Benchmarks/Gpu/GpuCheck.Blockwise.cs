using System;
using System.Diagnostics;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Kernels.Gpu;
using Kernels.Optimizers;
using Kernels.Precision;

namespace Kernels.Benchmarks.Gpu;

/// <summary>
/// The 8-bit row of <c>--gpu-check</c>: AdamW with both moments 8-bit through <see cref="GpuBlockwise.Step"/> (in chunks of
/// 1,024, so the chunking runs too) against the CPU's dequantize → span overload → quantize (what the optimizer objects'
/// 8-bit step equals, tested in Kernels.Tests), comparing parameters, codes and absmax after every step. Codes are
/// compared as their values (0…255) in the float comparison; a NaN parameter or absmax where the CPU has a NaN passes.
/// </summary>
public static partial class GpuCheck
{
    private static StorageOutcome BlockwiseRow(Accelerator accelerator, int[] lengths, int steps, int seed)
    {
        var outcome = new StorageOutcome("GpuBlockwise.Step + AdamW.Step", "fp32 / fp32 / 8-bit (signed m, unsigned v)", "nearest");
        var watch = Stopwatch.StartNew();
        int launches = 0;
        try
        {
            AcceleratorStream stream = accelerator.DefaultStream;
            foreach (int length in lengths)
            {
                var random = new Random(seed + length);
                float[] param = StorageValues<float>(random, length, nonNegative: false);
                int blocks = BlockwiseQuantizer.BlockCount(length);
                byte[] mCodes = Enumerable.Repeat(BlockwiseQuantizer.Signed.ZeroCode, length).ToArray();
                byte[] vCodes = Enumerable.Repeat(BlockwiseQuantizer.Unsigned.ZeroCode, length).ToArray();
                float[] mAbsMax = new float[blocks], vAbsMax = new float[blocks];
                using var p = accelerator.Allocate1D(param);
                using var g = accelerator.Allocate1D<float>(length);
                using var mC = accelerator.Allocate1D(mCodes);
                using var vC = accelerator.Allocate1D(vCodes);
                using var mA = accelerator.Allocate1D(mAbsMax);
                using var vA = accelerator.Allocate1D(vAbsMax);
                using var scratch = accelerator.Allocate1D<float>(2 * 1024);
                GpuQuantizedState[] states =
                {
                    new(mC.View, mA.View, BlockwiseQuantizer.Signed),
                    new(vC.View, vA.View, BlockwiseQuantizer.Unsigned),
                };
                for (int t = 1; t <= steps; t++)
                {
                    // Gradients in [-1, 1] with about one value in 32 special (NaN, ±∞, subnormals, large), fresh per step.
                    float[] grad = StorageValues<float>(random, length, nonNegative: false);
                    g.CopyFromCPU(grad);

                    float[] m = new float[length], v = new float[length];
                    BlockwiseQuantizer.Signed.Dequantize(mCodes, mAbsMax, m);
                    BlockwiseQuantizer.Unsigned.Dequantize(vCodes, vAbsMax, v);
                    AdamW.Step(param, grad, m, v, default, t, lr: 1e-2, weightDecay: 0.05);
                    BlockwiseQuantizer.Signed.Quantize(m, mCodes, mAbsMax);
                    BlockwiseQuantizer.Unsigned.Quantize(v, vCodes, vAbsMax);

                    int step = t;
                    GpuBlockwise.Step(stream, length, states, scratch.View, (offset, n, s) =>
                        AdamW.Step(stream, p.View.SubView(offset, n), g.View.SubView(offset, n), s[0], s[1], default, step, lr: 1e-2, weightDecay: 0.05));
                    accelerator.Synchronize();
                    launches++;
                    string where = $"length {length}, step {t}";
                    CompareStorage(param, p.GetAsArray1D(), "param", where, outcome);
                    CompareStorage(AsFloats(mCodes), AsFloats(mC.GetAsArray1D()), "expAvg codes", where, outcome);
                    CompareStorage(mAbsMax, mA.GetAsArray1D(), "expAvg absmax", where, outcome);
                    CompareStorage(AsFloats(vCodes), AsFloats(vC.GetAsArray1D()), "expAvgSq codes", where, outcome);
                    CompareStorage(vAbsMax, vA.GetAsArray1D(), "expAvgSq absmax", where, outcome);
                }
            }
        }
        catch (Exception e)
        {
            outcome.Error = $"{e.GetType().Name}: {e.Message}";
        }
        outcome.Launches = launches;
        outcome.Seconds = watch.Elapsed.TotalSeconds;
        return outcome;
    }

    private static float[] AsFloats(byte[] codes) => Array.ConvertAll(codes, c => (float)c);
}
