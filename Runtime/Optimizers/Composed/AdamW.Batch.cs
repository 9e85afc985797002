using System;
using Kernels.CompilerServices;

namespace Kernels.Optimizers;

public static partial class AdamW
{
    /// <summary>
    /// The generated optimizer's step over one batch, for an optimizer of this assembly that runs AdamW on some of its
    /// groups (<see cref="Muon.HybridOptimizer"/>) and keeps the three state buffers at its own indices. The kernel is
    /// private to this type, so the call lives here.
    /// </summary>
    internal static void StepBatch(
        OptimizerBatch<float> batch, int expAvgBuffer, int expAvgSqBuffer, int maxExpAvgSqBuffer,
        double lr, double beta1, double beta2, double eps, double weightDecay, bool amsgrad, bool maximize)
    {
        StepKernel kernel = StepKernel.Prepare(checked((int)batch.Step), lr, beta1, beta2, eps, weightDecay, amsgrad, maximize)
            .WithGradScale(batch.GradScale);
        ReadOnlySpan<Memory<float>> expAvg = batch.State(expAvgBuffer, true);
        ReadOnlySpan<Memory<float>> expAvgSq = batch.State(expAvgSqBuffer, true);
        ReadOnlySpan<Memory<float>> maxExpAvgSq = batch.State(maxExpAvgSqBuffer, amsgrad);
        if (batch.Threads <= 1)
        {
            for (int k = 0; k < batch.Count; k++)
                kernel.Run(batch.Params[k].Span, batch.Grads[k].Span, expAvg[k].Span, expAvgSq[k].Span, maxExpAvgSq.IsEmpty ? default : maxExpAvgSq[k].Span);
        }
        else
        {
            MultiTensorStep.Run<float, StepKernel>(kernel, batch.Threads, ParallelStep.ChunkAlignment,
                MultiTensorStep.AsReadOnly(batch.Params), batch.Grads, MultiTensorStep.AsReadOnly(expAvg),
                MultiTensorStep.AsReadOnly(expAvgSq), MultiTensorStep.AsReadOnly(maxExpAvgSq));
        }
    }
}
