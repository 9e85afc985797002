using System;
using System.Linq;
using DigitsClassifier;
using Kernels.Optimizers;
using Kernels.Training;
using Xunit;

namespace Kernels.Tests.Samples;

/// <summary>
/// The digits sample's data loading and hand-written MLP (Samples/DigitsClassifier; its Digits.cs, Mlp.cs and
/// GradientCheck.cs are compiled into this project). The sample runs the gradient check at start too.
/// </summary>
public sealed class DigitsClassifierTests
{
    private static readonly (DigitsSet Train, DigitsSet Test) Split = Digits.LoadSplit(Digits.DefaultPath);

    [Fact]
    public void Read_ShippedFile_Gives1797ImagesInRangeWithEveryDigit()
    {
        (float[] features, int[] labels) = Digits.Read(Digits.DefaultPath);

        Assert.Equal(Digits.Total, labels.Length);
        Assert.Equal(Digits.Total * Digits.Features, features.Length);
        Assert.All(features, x => Assert.InRange(x, 0f, 1f));
        Assert.Equal(1f, features.Max());
        // Every digit appears about 180 times.
        Assert.All(Enumerable.Range(0, 10), d => Assert.InRange(labels.Count(l => l == d), 170, 190));
    }

    [Fact]
    public void LoadSplit_Is1437TrainAnd360Test_SameEveryTime()
    {
        (DigitsSet train, DigitsSet test) = Split;
        (DigitsSet train2, DigitsSet test2) = Digits.LoadSplit(Digits.DefaultPath);

        Assert.Equal(1437, train.Count);
        Assert.Equal(360, test.Count);
        Assert.Equal(train.Features, train2.Features);
        Assert.Equal(test.Labels, test2.Labels);
    }

    [Fact]
    public void ForwardBackward_MatchesFiniteDifferences()
    {
        double error = GradientCheck.WorstRelativeError(new Mlp(seed: 3), Split.Train, [10, 20, 30, 40, 50]);

        Assert.True(error < 1e-2, $"worst relative error {error:E2}");
    }

    [Fact]
    public void TwoEpochsOfAdamW_LearnAndRepeatBitForBit()
    {
        (float[] Weights, double Accuracy) Train()
        {
            var model = new Mlp(seed: 1);
            var optimizer = new AdamW.Optimizer(model.Weights, lr: 3e-3, weightDecay: 0.05);
            optimizer.AddParamGroup(model.Biases, g => g.WeightDecay = 0);
            int[] order = Enumerable.Range(0, Split.Train.Count).ToArray();
            new Random(5).Shuffle(order);
            for (int epoch = 0; epoch < 2; epoch++)
            {
                for (int start = 0; start < order.Length; start += 32)
                {
                    optimizer.ZeroGrad();
                    model.ForwardBackward(Split.Train, order.AsSpan(start, Math.Min(32, order.Length - start)));
                    optimizer.ClipGradNorm(1.0);
                    optimizer.Step();
                }
            }
            return ([.. model.W1.Data.ToArray(), .. model.W2.Data.ToArray()], model.Accuracy(Split.Test));
        }

        var first = Train();
        var second = Train();

        Assert.True(first.Accuracy > 0.8, $"test accuracy {first.Accuracy:P1} after two epochs");
        Assert.Equal(first.Weights, second.Weights);
    }
}
