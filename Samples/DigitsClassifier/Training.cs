using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using Kernels.Precision;
using Kernels.Training;
using Kernels.Training.Schedules;

namespace DigitsClassifier;

/// <summary>The settings every entrant trains with.</summary>
/// <param name="Epochs">Passes over the training set.</param>
/// <param name="BatchSize">Images per step (the last batch of an epoch holds the rest).</param>
/// <param name="WarmupEpochs">Epochs of linear warmup, from <see cref="WarmupStartFactor"/> of the learning rate to all of it.</param>
/// <param name="MaxGradNorm">The global gradient norm is clipped to this before every step.</param>
public sealed record TrainingSettings(int Epochs, int BatchSize = 32, int WarmupEpochs = 2, double MaxGradNorm = 1.0)
{
    /// <summary>The warmup's first factor.</summary>
    public const double WarmupStartFactor = 0.1;
}

/// <summary>What one run recorded.</summary>
/// <param name="TrainLoss">Per epoch, the mean cross-entropy of the epoch's mini-batches (as they were trained on).</param>
/// <param name="TestAccuracy">Per epoch, the test accuracy after the epoch.</param>
/// <param name="LearningRate">Per step, the first group's learning rate that step used.</param>
/// <param name="Elapsed">Wall time of the run (training and evaluation).</param>
/// <param name="BaseLr">The first group's learning rate as the optimizer was built (the schedule's peak).</param>
/// <param name="WeightDecay">The first group's weight decay, or null for an optimizer without one.</param>
/// <param name="StateBytes">Bytes of optimizer state at the end (<see cref="Optimizer.MemoryReport"/>).</param>
/// <param name="Elements">Parameter elements of the model.</param>
public sealed record RunResult(double[] TrainLoss, double[] TestAccuracy, double[] LearningRate, TimeSpan Elapsed, double BaseLr, double? WeightDecay,
    long StateBytes, long Elements);

/// <summary>The training loop, the same for every optimizer.</summary>
public static class Trainer
{
    /// <summary>Trains a fresh model with seed <paramref name="seed"/> and <paramref name="racer"/>'s optimizer.</summary>
    /// <param name="onEpoch">Called after each epoch (progress).</param>
    public static RunResult Run(Racer racer, int seed, TrainingSettings settings, DigitsSet train, DigitsSet test, Action? onEpoch = null)
    {
        var stopwatch = Stopwatch.StartNew();
        var model = new Mlp(seed);
        // A 16-bit racer: the optimizer updates 16-bit copies (the model's initial values rounded to nearest), and the
        // model computes in float on their widened values.
        LowPrecisionCopy? low = racer.Storage is { } storage && storage != typeof(float) ? new LowPrecisionCopy(model, storage) : null;
        Optimizer optimizer = low is null ? racer.Create(model.Weights, model.Biases) : racer.Create(low.Weights, low.Biases);
        GradScaler? scaler = racer.LossScaling ? new GradScaler() : null;
        low?.ToModel();
        IParamGroup first = optimizer.ParamGroups[0];
        double baseLr = first["lr"];
        double? weightDecay = first.Contains("weightDecay") ? first["weightDecay"] : null;

        int stepsPerEpoch = (train.Count + settings.BatchSize - 1) / settings.BatchSize;
        int totalSteps = settings.Epochs * stepsPerEpoch;
        int warmupSteps = Math.Min(settings.WarmupEpochs * stepsPerEpoch, totalSteps - 1);
        // Warmup then cosine decay to 0, stepped once per optimizer step (PyTorch: SequentialLR([LinearLR, CosineAnnealingLR])).
        var schedule = new SequentialLR(optimizer,
            [
                new LinearLR(optimizer, startFactor: TrainingSettings.WarmupStartFactor, endFactor: 1.0, totalIters: warmupSteps),
                new CosineAnnealingLR(optimizer, tMax: totalSteps - warmupSteps),
            ],
            milestones: [warmupSteps]);

        var trainLoss = new double[settings.Epochs];
        var testAccuracy = new double[settings.Epochs];
        var learningRate = new double[totalSteps];
        // The shuffle of each epoch comes from the seed too (the initialization has its own generator in Mlp).
        var shuffle = new Random(seed + 1_000_003);
        int[] order = new int[train.Count];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;

        int step = 0;
        for (int epoch = 0; epoch < settings.Epochs; epoch++)
        {
            shuffle.Shuffle(order);
            double lossSum = 0;
            for (int start = 0; start < order.Length; start += settings.BatchSize)
            {
                ReadOnlySpan<int> batch = order.AsSpan(start, Math.Min(settings.BatchSize, order.Length - start));
                optimizer.ZeroGrad();
                low?.ZeroModelGradients();
                float loss = model.ForwardBackward(train, batch, scaler?.CurrentScale ?? 1f);
                low?.GradientsFromModel();
                learningRate[step++] = optimizer.ParamGroups[0]["lr"];
                if (scaler is null)
                {
                    optimizer.ClipGradNorm(settings.MaxGradNorm);   // applied inside the fused step below
                    optimizer.Step();
                }
                else
                {
                    // PyTorch's AMP loop: unscale (fused into the step), clip the unscaled gradients, step unless they overflowed, update the scale.
                    scaler.Unscale(optimizer);
                    optimizer.ClipGradNorm(settings.MaxGradNorm);
                    scaler.Step(optimizer);
                    scaler.Update();
                }
                low?.ToModel();
                schedule.Step();
                lossSum += (double)loss * batch.Length;
            }
            trainLoss[epoch] = lossSum / order.Length;
            testAccuracy[epoch] = model.Accuracy(test);
            onEpoch?.Invoke();
        }
        OptimizerMemoryReport memory = optimizer.MemoryReport();
        return new RunResult(trainLoss, testAccuracy, learningRate, stopwatch.Elapsed, baseLr, weightDecay, memory.StateBytes, memory.Elements);
    }
}

/// <summary>
/// 16-bit copies of the model's parameters (values and gradients as <see cref="BFloat16"/> or <see cref="Half"/>): what
/// the optimizer stores and updates. The model's forward and backward pass stays in float: it reads the copies' values
/// widened (exactly), and its float gradients are rounded to nearest into the copies' gradients.
/// </summary>
internal sealed class LowPrecisionCopy
{
    private readonly Parameter<float>[] _model;
    private readonly Parameter[] _copies;

    public LowPrecisionCopy(Mlp model, Type storage)
    {
        _model = model.All.ToArray();
        _copies = _model.Select(p => storage == typeof(BFloat16) ? (Parameter)Copy<BFloat16>(p) : storage == typeof(Half) ? Copy<Half>(p)
            : throw new NotSupportedException($"{storage.Name} parameters.")).ToArray();
    }

    /// <summary>The copies of the weight matrices.</summary>
    public IReadOnlyList<Parameter> Weights => _copies[..2];

    /// <summary>The copies of the biases.</summary>
    public IReadOnlyList<Parameter> Biases => _copies[2..];

    private static Parameter<T> Copy<T>(Parameter<float> p) where T : unmanaged
    {
        var copy = new Parameter<T>(p.Name, p.Shape.ToArray());
        Narrow(p.Data.Span, copy.Data.Span);
        return copy;
    }

    /// <summary>The copies' values, widened into the model's parameters.</summary>
    public void ToModel()
    {
        for (int k = 0; k < _model.Length; k++)
        {
            Span<float> into = _model[k].Data.Span;
            if (_copies[k] is Parameter<BFloat16> b)
                BFloat16Conversions.ToSingle(b.Data.Span, into);
            else
                HalfConversions.ToSingle(((Parameter<Half>)_copies[k]).Data.Span, into);
        }
    }

    /// <summary>Zeroes the model's float gradients (the optimizer zeroes the copies').</summary>
    public void ZeroModelGradients()
    {
        foreach (Parameter<float> p in _model)
            p.ZeroGrad();
    }

    /// <summary>The model's float gradients, rounded to nearest into the copies' gradients (fp16 overflows to ±inf beyond 65504).</summary>
    public void GradientsFromModel()
    {
        for (int k = 0; k < _model.Length; k++)
        {
            if (_copies[k] is Parameter<BFloat16> b)
                Narrow(_model[k].Grad.Span, b.Grad.Span);
            else
                Narrow(_model[k].Grad.Span, ((Parameter<Half>)_copies[k]).Grad.Span);
        }
    }

    private static void Narrow<T>(ReadOnlySpan<float> from, Span<T> to) where T : unmanaged
    {
        if (typeof(T) == typeof(BFloat16))
            BFloat16Conversions.FromSingle(from, System.Runtime.InteropServices.MemoryMarshal.Cast<T, BFloat16>(to));
        else
            HalfConversions.FromSingle(from, System.Runtime.InteropServices.MemoryMarshal.Cast<T, Half>(to));
    }
}
