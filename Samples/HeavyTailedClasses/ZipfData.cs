using System;
using Kernels;

namespace HeavyTailedClasses;

/// <summary>Classes <see cref="First"/>..<see cref="Last"/> (0-based frequency ranks) and how many training samples they hold.</summary>
public sealed record Bucket(int First, int Last, int Samples)
{
    /// <summary>The classes as 1-based ranks, as the table and the legends print them: "1", "2-3", "512-1000".</summary>
    public string Label => First == Last ? $"{First + 1}" : $"{First + 1}-{Last + 1}";

    /// <summary>The number of classes.</summary>
    public int Classes => Last - First + 1;
}

/// <summary>
/// Kunstner et al.'s linear-model data, "whose only property is a heavy-tailed class distribution": class k (1-based
/// rank) has a share of the samples proportional to 1/k (Zipf's law, as words in text), and the inputs are Gaussian
/// vectors drawn independently of the labels. Fitting the training set means memorizing it, so every class's loss
/// can only fall as fast as the optimizer moves that class's weights.
/// </summary>
/// <remarks>
/// <para>
/// Why not inputs that carry the class (a mean per class plus noise)? Tried first: the classes then become nearly
/// separable, the loss's curvature collapses as the model grows confident, and SGD at a tuned (large) learning rate
/// catches up with Adam; the imbalance effect nearly vanished. With inputs that say nothing about the class, the most
/// frequent classes' curvature stays and bounds SGD's learning rate, which is the paper's mechanism.
/// </para>
/// <para>
/// Classes are grouped in buckets of ranks 1, 2-3, 4-7, 8-15, …: log-spaced in frequency, and under 1/k each bucket
/// holds about the same share of the samples (ln 2 / H(C), ~9% for 1,000 classes), as in the paper's figures. The
/// Gaussians come from Marsaglia's polar method with <see cref="KernelMath.Log(double)"/>, so a seed gives the same
/// data on every machine (the C runtime's log may differ in the last bit).
/// </para>
/// </remarks>
public sealed class ZipfData
{
    private ZipfData(int classes, int features, int[] counts, float[] inputs, int[] labels, Bucket[] buckets)
    {
        Classes = classes;
        Features = features;
        Counts = counts;
        Inputs = inputs;
        Labels = labels;
        Buckets = buckets;
        BucketOf = new int[classes];
        for (int b = 0; b < buckets.Length; b++)
            BucketOf.AsSpan(buckets[b].First, buckets[b].Classes).Fill(b);
    }

    /// <summary>The number of classes.</summary>
    public int Classes { get; }

    /// <summary>The length of an input vector.</summary>
    public int Features { get; }

    /// <summary>Training samples per class, by rank.</summary>
    public int[] Counts { get; }

    /// <summary>The inputs, one row of <see cref="Features"/> floats per sample (grouped by class, in rank order).</summary>
    public float[] Inputs { get; }

    /// <summary>Each sample's class.</summary>
    public int[] Labels { get; }

    /// <summary>The frequency buckets, most frequent first.</summary>
    public Bucket[] Buckets { get; }

    /// <summary>The bucket of each class.</summary>
    public int[] BucketOf { get; }

    /// <summary>The number of samples.</summary>
    public int Count => Labels.Length;

    /// <summary>Sample <paramref name="index"/>'s input.</summary>
    public ReadOnlySpan<float> Input(int index) => Inputs.AsSpan(index * Features, Features);

    /// <summary>Draws the data set.</summary>
    /// <param name="classes">The number of classes.</param>
    /// <param name="features">The input length.</param>
    /// <param name="samples">About how many samples: class k gets max(1, round(samples · π_k)).</param>
    /// <param name="balanced">Every class equally frequent (the control) instead of π_k ∝ 1/k.</param>
    /// <param name="seed">The seed of the inputs.</param>
    public static ZipfData Create(int classes, int features, int samples, bool balanced, int seed)
    {
        double Weight(int rank) => balanced ? 1.0 : 1.0 / rank;
        double normalizer = 0;
        for (int k = 1; k <= classes; k++)
            normalizer += Weight(k);
        var counts = new int[classes];
        int total = 0;
        for (int k = 0; k < classes; k++)
        {
            counts[k] = Math.Max(1, (int)Math.Round(samples * Weight(k + 1) / normalizer));
            total += counts[k];
        }

        var labels = new int[total];
        for (int k = 0, row = 0; k < classes; row += counts[k], k++)
            labels.AsSpan(row, counts[k]).Fill(k);

        // Entries of variance 1/features: an input's length is about 1 whatever the dimension.
        var gaussian = new Gaussian(seed);
        float scale = 1f / MathF.Sqrt(features);
        var inputs = new float[total * features];
        for (int i = 0; i < inputs.Length; i++)
            inputs[i] = scale * gaussian.Next();

        // Ranks 2^j .. 2^(j+1) - 1 (1-based), the last bucket cut at the number of classes.
        int bucketCount = 0;
        while ((1 << bucketCount) <= classes)
            bucketCount++;
        var buckets = new Bucket[bucketCount];
        for (int b = 0; b < bucketCount; b++)
        {
            int first = (1 << b) - 1, last = Math.Min((1 << (b + 1)) - 2, classes - 1);
            int inBucket = 0;
            for (int k = first; k <= last; k++)
                inBucket += counts[k];
            buckets[b] = new Bucket(first, last, inBucket);
        }
        return new ZipfData(classes, features, counts, inputs, labels, buckets);
    }

    // Standard normal floats: Marsaglia's polar method, both values of each accepted pair used.
    private sealed class Gaussian(int seed)
    {
        private readonly Random _random = new(seed);
        private float? _spare;

        public float Next()
        {
            if (_spare is { } spare)
            {
                _spare = null;
                return spare;
            }
            double u, v, s;
            do
            {
                u = 2 * _random.NextDouble() - 1;
                v = 2 * _random.NextDouble() - 1;
                s = u * u + v * v;
            }
            while (s >= 1 || s == 0);
            double factor = Math.Sqrt(-2 * KernelMath.Log(s) / s);
            _spare = (float)(v * factor);
            return (float)(u * factor);
        }
    }
}
