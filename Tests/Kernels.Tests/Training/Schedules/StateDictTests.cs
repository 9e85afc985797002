using System;
using System.Linq;
using System.Text.Json.Nodes;
using Kernels.Training.Schedules;
using Xunit;

namespace Kernels.Tests.Training.Schedules;

/// <summary>A state saved mid-run and loaded into a freshly built schedule continues the run bit for bit.</summary>
public class StateDictTests
{
    private const int Before = 37, After = 60;

    [Theory]
    [MemberData(nameof(ScheduleCatalog.Names), MemberType = typeof(ScheduleCatalog))]
    public void RoundTripMidRun_ThroughJsonText_ContinuesBitIdentically(string name)
    {
        var factory = ScheduleCatalog.Factories[name];
        var original = FakeOptimizer.Sgd(0.1, 0.03);
        LRScheduler running = factory(original);
        for (int t = 0; t < Before; t++)
        {
            original.Step();
            running.Step();
        }
        string saved = running.StateDict().ToJsonString();
        double[][] optimizerCheckpoint = original.Snapshot();

        // Resume as in PyTorch: build optimizer and schedule as at the start, then load both states.
        var resumedOptimizer = FakeOptimizer.Sgd(0.1, 0.03);
        LRScheduler resumed = factory(resumedOptimizer);
        resumedOptimizer.Restore(optimizerCheckpoint);
        resumed.LoadStateDict(JsonNode.Parse(saved)!.AsObject());

        Assert.Equal(saved, resumed.StateDict().ToJsonString());
        for (int t = 0; t < After; t++)
        {
            running.Step();
            resumed.Step();
            AssertBitIdentical(original.Snapshot(), resumedOptimizer.Snapshot(), t);
            Assert.Equal(running.LastEpoch, resumed.LastEpoch);
            AssertBitIdentical([running.LastValues.ToArray()], [resumed.LastValues.ToArray()], t);
        }
    }

    [Fact]
    public void ReduceLROnPlateau_RoundTripMidRun_ThroughJsonText_ContinuesBitIdentically()
    {
        double[] metrics = Enumerable.Range(0, 200).Select(i => 1.0 / (1 + i / 10) + 0.01 * Math.Sin(i)).ToArray();
        static ReduceLROnPlateau Build(FakeOptimizer o) => new(o, [1e-4, 1e-5], PlateauMode.Min, 0.5, patience: 3, cooldown: 2);
        var original = FakeOptimizer.Sgd(0.1, 0.03);
        var running = Build(original);
        for (int t = 0; t < 80; t++)
            running.Step(metrics[t]);
        string saved = running.StateDict().ToJsonString();
        double[][] optimizerCheckpoint = original.Snapshot();

        var resumedOptimizer = FakeOptimizer.Sgd(0.1, 0.03);
        var resumed = Build(resumedOptimizer);
        resumedOptimizer.Restore(optimizerCheckpoint);
        resumed.LoadStateDict(JsonNode.Parse(saved)!.AsObject());

        Assert.Equal(saved, resumed.StateDict().ToJsonString());
        for (int t = 80; t < metrics.Length; t++)
        {
            running.Step(metrics[t]);
            resumed.Step(metrics[t]);
            AssertBitIdentical(original.Snapshot(), resumedOptimizer.Snapshot(), t);
        }
        Assert.True(original[0]["lr"] < 0.1, "the metric plateaus, so the run reduces the value");
    }

    [Fact]
    public void Infinity_IsWrittenAsAString_AndReadBack()
    {
        var plateau = new ReduceLROnPlateau(FakeOptimizer.Sgd(0.1), PlateauMode.Max);
        JsonObject state = JsonNode.Parse(plateau.StateDict().ToJsonString())!.AsObject();
        Assert.Equal("-Infinity", (string?)state["best"]);

        var other = new ReduceLROnPlateau(FakeOptimizer.Sgd(0.1), PlateauMode.Max);
        other.Step(0.5);
        other.LoadStateDict(state);
        Assert.Equal(double.NegativeInfinity, other.Best);
        Assert.Equal(0, other.LastEpoch);
    }

    [Fact]
    public void StateOfAnotherType_Throws_AndChangesNothing()
    {
        var optimizer = FakeOptimizer.Sgd(0.1, 0.03);
        var schedule = new StepLR(optimizer, 3);
        JsonObject other = new ExponentialLR(FakeOptimizer.Sgd(0.1, 0.03), 0.9).StateDict();
        string before = schedule.StateDict().ToJsonString();

        var e = Assert.Throws<ArgumentException>(() => schedule.LoadStateDict(other));

        Assert.Equal("state", e.ParamName);
        Assert.Contains("ExponentialLR", e.Message);
        Assert.Equal(before, schedule.StateDict().ToJsonString());
    }

    [Fact]
    public void StateOfAnotherHyperparameter_Throws()
    {
        JsonObject state = new StepLR(FakeOptimizer.Sgd(0.1), 3, hyperparameter: "momentum").StateDict();
        var e = Assert.Throws<ArgumentException>(() => new StepLR(FakeOptimizer.Sgd(0.1), 3).LoadStateDict(state));
        Assert.Equal("state", e.ParamName);
        Assert.Contains("momentum", e.Message);
    }

    [Theory]
    [InlineData("last_epoch")]
    [InlineData("base_lrs")]
    [InlineData("gamma")]
    [InlineData("step_size")]
    public void MissingKey_NamesIt_AndChangesNothing(string key)
    {
        var schedule = new StepLR(FakeOptimizer.Sgd(0.1, 0.03), 3);
        JsonObject state = new StepLR(FakeOptimizer.Sgd(0.2, 0.05), 5).StateDict();
        state.Remove(key);
        string before = schedule.StateDict().ToJsonString();

        var e = Assert.Throws<ArgumentException>(() => schedule.LoadStateDict(state));

        Assert.Equal("state", e.ParamName);
        Assert.Contains($"'{key}'", e.Message);
        Assert.Equal(before, schedule.StateDict().ToJsonString());
    }

    [Fact]
    public void InvalidSetting_Throws_AndChangesNothing()
    {
        var schedule = new CosineAnnealingLR(FakeOptimizer.Sgd(0.1, 0.03), 10);
        JsonObject state = schedule.StateDict();
        state["T_max"] = -4;
        state["last_epoch"] = 7;
        string before = schedule.StateDict().ToJsonString();

        var e = Assert.Throws<ArgumentException>(() => schedule.LoadStateDict(state));

        Assert.Equal("state", e.ParamName);
        Assert.Contains("'T_max'", e.Message);
        Assert.Equal(before, schedule.StateDict().ToJsonString());
    }

    [Fact]
    public void StateOfAnotherGroupCount_Throws()
    {
        JsonObject state = new StepLR(FakeOptimizer.Sgd(0.1, 0.03, 0.01), 3).StateDict();
        var e = Assert.Throws<ArgumentException>(() => new StepLR(FakeOptimizer.Sgd(0.1, 0.03), 3).LoadStateDict(state));
        Assert.Equal("state", e.ParamName);
        Assert.Contains("3 values", e.Message);
    }

    [Fact]
    public void CompositeWithOneBadPart_Throws_AndChangesNoPart()
    {
        var o = FakeOptimizer.Sgd(0.1, 0.03);
        var first = new LinearLR(o, 0.5, 1, 4);
        var second = new StepLR(o, 3);
        var sequential = new SequentialLR(o, [first, second], [4]);
        for (int t = 0; t < 6; t++)
            sequential.Step();
        JsonObject state = sequential.StateDict();
        state["_schedulers"]![1]!["step_size"] = 0;
        state["last_epoch"] = 2;
        state["_schedulers"]![0]!["last_epoch"] = 1;
        string before = sequential.StateDict().ToJsonString();

        var e = Assert.Throws<ArgumentException>(() => sequential.LoadStateDict(state));

        Assert.Contains("'step_size'", e.Message);
        Assert.Equal(before, sequential.StateDict().ToJsonString());
        Assert.Equal(3, first.LastEpoch);
    }

    [Fact]
    public void StateDict_HoldsPyTorchsKeys()
    {
        var o = FakeOptimizer.Sgd(0.1, 0.03);
        JsonObject state = new CosineAnnealingWarmRestarts(o, 10, 2, 1e-4).StateDict();
        foreach (string key in new[] { "last_epoch", "_step_count", "base_lrs", "_last_lr", "T_0", "T_i", "T_mult", "eta_min", "T_cur" })
            Assert.True(state.ContainsKey(key), key);
        Assert.Equal(new[] { 0.1, 0.03 }, state["base_lrs"]!.AsArray().Select(n => (double)n!));
    }

    private static void AssertBitIdentical(double[][] expected, double[][] actual, int step)
    {
        for (int g = 0; g < expected.Length; g++)
            for (int k = 0; k < expected[g].Length; k++)
                Assert.True(BitConverter.DoubleToInt64Bits(expected[g][k]) == BitConverter.DoubleToInt64Bits(actual[g][k]),
                    $"step {step}, group {g}, value {k}: {expected[g][k]:R} != {actual[g][k]:R}");
    }
}
