using System.Linq;
using DigitsClassifier;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests.Samples;

/// <summary>
/// Convergence on real data with 8-bit optimizer state: the digits sample's MLP trained by its memory race (AdamW with
/// float32 state vs the same AdamW with 8-bit blockwise state, every tensor quantized), 30 epochs, seeds 0–2. The
/// precision issue's bar: the 8-bit run's mean test accuracy within 0.5 points of the float run's. One test image is
/// 0.28 points, so the bar allows one image of difference on average, and a seed's accuracy varies by ~0.3.
/// </summary>
public sealed class DigitsConvergenceTests(ITestOutputHelper output)
{
    [Fact]
    public void AdamW_8BitState_ReachesFloat32Accuracy_WithinHalfAPoint_MeanOf3Seeds()
    {
        (DigitsSet train, DigitsSet test) = Digits.LoadSplit(Digits.DefaultPath);
        var settings = new TrainingSettings(Epochs: 30);
        double[] Accuracies(Racer racer) => Enumerable.Range(0, 3).Select(seed => 100 * Trainer.Run(racer, seed, settings, train, test).TestAccuracy[^1]).ToArray();

        Racer full = Racer.Memory.Single(r => r.Name.Contains("float32"));
        Racer eightBit = Racer.Memory.Single(r => r.Name.Contains("8-bit"));
        double[] fullAccuracy = Accuracies(full), eightBitAccuracy = Accuracies(eightBit);
        output.WriteLine($"float32 state: {string.Join(", ", fullAccuracy.Select(a => a.ToString("F2")))} (mean {fullAccuracy.Average():F2})");
        output.WriteLine($"8-bit state:   {string.Join(", ", eightBitAccuracy.Select(a => a.ToString("F2")))} (mean {eightBitAccuracy.Average():F2})");

        Assert.True(fullAccuracy.Average() > 95, $"the float32 baseline itself must train (mean {fullAccuracy.Average():F2}%)");
        Assert.True(eightBitAccuracy.Average() >= fullAccuracy.Average() - 0.5,
            $"8-bit state: mean {eightBitAccuracy.Average():F2}% vs float32 state {fullAccuracy.Average():F2}% (bar: within 0.5 points)");
    }

    [Fact]
    public void MemoryRace_8BitState_UsesAQuarterOfTheBytes()
    {
        (DigitsSet train, DigitsSet test) = Digits.LoadSplit(Digits.DefaultPath);
        var settings = new TrainingSettings(Epochs: 2, WarmupEpochs: 1);
        RunResult full = Trainer.Run(Racer.Memory[0], 0, settings, train, test);
        RunResult eightBit = Trainer.Run(Racer.Memory[1], 0, settings, train, test);
        // 2,410 elements in 4 tensors: float state 2 × 4 B each; 8-bit state 2 × (1 B each + 4 B per started block of 256).
        Assert.Equal(2 * 4 * 2410L, full.StateBytes);
        long blocks = new[] { 64 * 32, 32, 32 * 10, 10 }.Sum(n => (n + 255) / 256);
        Assert.Equal(2 * (2410 + 4 * blocks), eightBit.StateBytes);
    }
}
