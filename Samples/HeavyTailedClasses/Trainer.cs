using System;
using System.Collections.Generic;
using Kernels.Training;

namespace HeavyTailedClasses;

/// <summary>An optimizer at one learning rate: a name and how to build it over the model's parameters.</summary>
/// <param name="Name">The optimizer, as the tables and the figures print it.</param>
/// <param name="Lr">The learning rate.</param>
/// <param name="Create">Builds the optimizer over the weights and biases with learning rate <paramref name="Lr"/>.</param>
public sealed record Contender(string Name, double Lr, Func<IReadOnlyList<Parameter<float>>, double, Optimizer> Create);

/// <summary>The settings every run trains with.</summary>
/// <param name="Steps">Optimizer steps.</param>
/// <param name="BatchSize">Samples per step, taken in turn from a shuffled order, reshuffled once used up (an epoch's last partial batch is skipped).</param>
/// <param name="Evaluations">How many times, evenly spaced, the loss of the whole training set is measured (besides before the first step).</param>
/// <param name="Seed">The seed of the shuffles: every run sees the same batches.</param>
public sealed record TrainingSettings(int Steps, int BatchSize, int Evaluations, int Seed);

/// <summary>What one run recorded.</summary>
/// <param name="Steps">The steps after which the training set was evaluated (0: before the first).</param>
/// <param name="BucketLoss">Per evaluation, per bucket: the mean cross-entropy of the bucket's training samples.</param>
/// <param name="Loss">Per evaluation: the mean cross-entropy of all training samples.</param>
/// <param name="Diverged">Whether a batch's loss was not finite (the run stopped there; later evaluations are NaN).</param>
public sealed record RunResult(Contender Contender, int[] Steps, double[][] BucketLoss, double[] Loss, bool Diverged)
{
    /// <summary>The last evaluation's mean loss over all samples (NaN after a divergence).</summary>
    public double FinalLoss => Loss[^1];

    /// <summary>
    /// The mean of the evaluations in the last fifth of the run: what the sweep ranks by, since at an unstable learning
    /// rate the last evaluation alone can land in a trough or on a spike (NaN after a divergence).
    /// </summary>
    public double LateLoss
    {
        get
        {
            int last = Steps[^1], count = 0;
            double sum = 0;
            for (int e = 0; e < Steps.Length; e++)
            {
                if (5 * Steps[e] >= 4 * last)
                {
                    sum += Loss[e];
                    count++;
                }
            }
            return sum / count;
        }
    }
}

/// <summary>The training loop, the same for every optimizer: a fresh zero-initialized model, the same batches.</summary>
public static class Trainer
{
    /// <summary>Trains <paramref name="contender"/> on <paramref name="data"/>.</summary>
    /// <param name="onStep">Called after each step (progress).</param>
    public static RunResult Run(Contender contender, ZipfData data, TrainingSettings settings, Action? onStep = null)
    {
        var model = new SoftmaxRegression(data.Features, data.Classes);
        Optimizer optimizer = contender.Create([model.Weight, model.Bias], contender.Lr);

        int evaluations = settings.Evaluations + 1;
        var steps = new int[evaluations];
        for (int e = 0; e < evaluations; e++)
            steps[e] = (int)Math.Round((double)settings.Steps * e / settings.Evaluations);
        var bucketLoss = new double[evaluations][];
        var loss = new double[evaluations];

        var shuffle = new Random(settings.Seed);
        int[] order = new int[data.Count];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        shuffle.Shuffle(order);
        int next = 0;
        int batchSize = Math.Min(settings.BatchSize, data.Count);
        float[] inputs = new float[batchSize * data.Features];
        int[] labels = new int[batchSize];

        bool diverged = false;
        int done = 0;
        for (int step = 0; ; step++)
        {
            while (done < evaluations && steps[done] == step)
            {
                (bucketLoss[done], loss[done]) = diverged ? (NaNs(data.Buckets.Length), double.NaN) : Evaluate(model, data);
                done++;
            }
            if (step == settings.Steps)
                break;
            if (diverged)
            {
                onStep?.Invoke();
                continue;
            }

            if (next + batchSize > order.Length)
            {
                shuffle.Shuffle(order);
                next = 0;
            }
            for (int i = 0; i < batchSize; i++)
            {
                int row = order[next++];
                data.Input(row).CopyTo(inputs.AsSpan(i * data.Features));
                labels[i] = data.Labels[row];
            }
            optimizer.ZeroGrad();
            float batchLoss = model.ForwardBackward(inputs, labels);
            diverged = !float.IsFinite(batchLoss);
            if (!diverged)
                optimizer.Step();
            onStep?.Invoke();
        }
        return new RunResult(contender, steps, bucketLoss, loss, diverged);
    }

    /// <summary>The mean cross-entropy of the training samples, per bucket and over all.</summary>
    public static (double[] PerBucket, double All) Evaluate(SoftmaxRegression model, ZipfData data)
    {
        const int Chunk = 1024;
        var sums = new double[data.Buckets.Length];
        var losses = new double[Chunk];
        double total = 0;
        for (int start = 0; start < data.Count; start += Chunk)
        {
            int count = Math.Min(Chunk, data.Count - start);
            ReadOnlySpan<int> labels = data.Labels.AsSpan(start, count);
            model.Losses(data.Inputs.AsSpan(start * data.Features, count * data.Features), labels, losses);
            for (int i = 0; i < count; i++)
            {
                sums[data.BucketOf[labels[i]]] += losses[i];
                total += losses[i];
            }
        }
        for (int b = 0; b < sums.Length; b++)
            sums[b] /= data.Buckets[b].Samples;
        return (sums, total / data.Count);
    }

    private static double[] NaNs(int length)
    {
        var values = new double[length];
        Array.Fill(values, double.NaN);
        return values;
    }
}
