using System;
using System.Diagnostics;
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
        Optimizer optimizer = racer.Create(model.Weights, model.Biases);
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
                float loss = model.ForwardBackward(train, batch);
                optimizer.ClipGradNorm(settings.MaxGradNorm);   // applied inside the fused step below
                learningRate[step++] = optimizer.ParamGroups[0]["lr"];
                optimizer.Step();
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
