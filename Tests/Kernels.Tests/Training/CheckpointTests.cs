using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using Kernels.Optimizers;
using Kernels.Training;
using Kernels.Training.Schedules;
using Xunit;

namespace Kernels.Tests.Training;

/// <summary>Checkpoints of a whole run (values, optimizer state, schedules): resume bit-identically, reject damage and mismatches without changing anything.</summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kernels-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private static byte[] Bits(Parameter<float>[] model) => model.SelectMany(p => p.Data.ToArray().SelectMany(BitConverter.GetBytes)).ToArray();

    private static (Parameter<float>[] Model, AdamW.Optimizer Optimizer, LRScheduler Schedule) Run(int steps)
    {
        var run = ResumeModel.Create();
        for (int step = 1; step <= steps; step++)
            ResumeModel.TrainStep(run.Item1, run.Item2, run.Item3, step);
        return run;
    }

    [Fact]
    public void SaveThenLoad_InAFreshRun_ContinuesBitIdentically()
    {
        var uninterrupted = Run(20);
        var first = Run(10);
        Checkpoint.Save(PathOf("run.safetensors"), first.Optimizer, first.Schedule);

        var (model, optimizer, schedule) = ResumeModel.Create();
        Checkpoint.Load(PathOf("run.safetensors"), optimizer, schedule);
        for (int step = 11; step <= 20; step++)
            ResumeModel.TrainStep(model, optimizer, schedule, step);

        Assert.Equal(Bits(uninterrupted.Model), Bits(model));
        Assert.Equal(uninterrupted.Optimizer.Groups[0].Options.Lr, optimizer.Groups[0].Options.Lr);
    }

    [Fact]
    public void ResumeInAnotherProcess_IsBitIdenticalToAnUninterruptedRun()
    {
        string app = Path.Combine(AppContext.BaseDirectory, "CheckpointResume.dll");
        Assert.True(File.Exists(app), $"{app} is built with the tests (project reference)");
        string checkpoint = PathOf("resume.safetensors"), values = PathOf("values.bin");
        RunProcess(app, "1", "10", checkpoint, values);
        RunProcess(app, "11", "20", checkpoint, values);
        Assert.Equal(Bits(Run(20).Model), File.ReadAllBytes(values));
    }

    private static void RunProcess(string app, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(app);
        foreach (string a in args)
            start.ArgumentList.Add(a);
        using Process process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {error}");
    }

    [Fact]
    public void DamagedFile_Throws_AndChangesNothing()
    {
        var saved = Run(6);
        string path = PathOf("damaged.safetensors");
        Checkpoint.Save(path, saved.Optimizer, saved.Schedule);
        byte[] good = File.ReadAllBytes(path);

        var (model, optimizer, schedule) = Run(3);
        byte[] before = Bits(model);
        OptimizerStateDict state = optimizer.StateDict();
        double lr = optimizer.Groups[0].Options.Lr;
        foreach (int position in new[] { 3, 20, good.Length / 2, good.Length - 1 })
        {
            byte[] bad = (byte[])good.Clone();
            bad[position] ^= 0x10;
            File.WriteAllBytes(path, bad);
            Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, optimizer, schedule));
        }
        File.WriteAllBytes(path, good.AsSpan(0, good.Length - 7).ToArray());
        Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, optimizer, schedule));

        Assert.Equal(before, Bits(model));
        Assert.Equal(lr, optimizer.Groups[0].Options.Lr);
        Assert.Equal(state.State[0]!.Step, optimizer.StateDict().State[0]!.Step);
    }

    [Fact]
    public void MismatchedRun_Throws_AndChangesNothing()
    {
        var saved = Run(4);
        string path = PathOf("other.safetensors");
        Checkpoint.Save(path, saved.Optimizer, saved.Schedule);

        // Another optimizer.
        var adam = new Adam.Optimizer(new[] { new Parameter<float>("w1", 16, 8), new Parameter<float>("w2", 4, 3, 2) });
        Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, adam));

        // Other shapes.
        var reshaped = new AdamW.Optimizer(new[] { new Parameter<float>("w1", 8, 16), new Parameter<float>("w2", 4, 3, 2) });
        reshaped.AddParamGroup(new[] { new Parameter<float>("b1", 8) });
        Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, reshaped));

        // Fewer parameters, and a missing schedule.
        var fewer = new AdamW.Optimizer(new[] { new Parameter<float>("w1", 16, 8) });
        Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, fewer));
        var (model, optimizer, schedule) = Run(2);
        byte[] before = Bits(model);
        double lr = optimizer.Groups[0].Options.Lr;
        Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, optimizer));

        // A schedule of another kind rejects its state after the optimizer accepted its own: everything is put back.
        var wrongKind = new StepLR(optimizer, stepSize: 3);
        Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path, optimizer, wrongKind));
        Assert.Equal(before, Bits(model));
        Assert.Equal(2, optimizer.StateDict().State[0]!.Step);
        _ = schedule;
        _ = lr;
    }
}
