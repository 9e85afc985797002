using System;
using System.IO;
using System.Linq;
using Kernels.Optimizers;
using Kernels.Training;
using Kernels.Training.Schedules;

// Usage: CheckpointResume <first-step> <last-step> <checkpoint> <values-out>
// Builds the same model, optimizer and schedule every time; resumes from <checkpoint> if it exists, runs steps
// first..last, saves <checkpoint>, and writes every parameter's bits to <values-out>.
if (args.Length != 4)
{
    Console.Error.WriteLine("usage: CheckpointResume <first-step> <last-step> <checkpoint> <values-out>");
    return 2;
}
int first = int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture);
int last = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
(Parameter<float>[] model, AdamW.Optimizer optimizer, LRScheduler schedule) = ResumeModel.Create();
if (File.Exists(args[2]))
    Checkpoint.Load(args[2], optimizer, schedule);
for (int step = first; step <= last; step++)
    ResumeModel.TrainStep(model, optimizer, schedule, step);
Checkpoint.Save(args[2], optimizer, schedule);
File.WriteAllBytes(args[3], model.SelectMany(p => p.Data.ToArray().SelectMany(BitConverter.GetBytes)).ToArray());
return 0;

/// <summary>The run both processes (and the uninterrupted reference in the test) perform.</summary>
public static class ResumeModel
{
    /// <summary>Two groups, three tensors, AMSGrad on one group, a warmup + cosine schedule.</summary>
    public static (Parameter<float>[], AdamW.Optimizer, LRScheduler) Create()
    {
        Parameter<float>[] model = { new("w1", 16, 8), new("b1", 8), new("w2", 4, 3, 2) };
        for (int k = 0; k < model.Length; k++)
        {
            Span<float> data = model[k].Data.Span;
            for (int i = 0; i < data.Length; i++)
                data[i] = (float)Math.Sin(k * 31 + i * 0.37);
        }
        var optimizer = new AdamW.Optimizer(model.Where(p => p.Name != "b1"), lr: 1e-2, weightDecay: 0.05);
        optimizer.AddParamGroup(model.Where(p => p.Name == "b1"), g => { g.WeightDecay = 0; g.Amsgrad = true; });
        var schedule = new SequentialLR(optimizer,
            new LRScheduler[] { new LinearLR(optimizer, startFactor: 0.1, totalIters: 5), new CosineAnnealingLR(optimizer, tMax: 30) },
            new[] { 5 });
        return (model, optimizer, schedule);
    }

    /// <summary>Gradients for <paramref name="step"/>, clip, step, schedule.</summary>
    public static void TrainStep(Parameter<float>[] model, AdamW.Optimizer optimizer, LRScheduler schedule, int step)
    {
        optimizer.ZeroGrad();
        for (int k = 0; k < model.Length; k++)
        {
            Span<float> grad = model[k].Grad.Span, data = model[k].Data.Span;
            for (int i = 0; i < grad.Length; i++)
                grad[i] = data[i] * 0.5f + (float)Math.Cos(step * 0.9 + k + i * 0.11);
        }
        optimizer.ClipGradNorm(2.0);
        optimizer.Step();
        schedule.Step();
    }
}
