using System.Linq;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;
using Sequential = TorchSharp.Modules.Sequential;

namespace Kernels.Torch.Tests;

/// <summary>TorchSharp's own LR schedulers drive the drop-in exactly as they drive TorchSharp's optimizers.</summary>
public sealed class SchedulerTests
{
    [Fact]
    public void StepLR_DrivesTheLearningRate_AndTrainingTracksTorchSharp()
    {
        using Sequential ours = Mlp.Create(), theirs = Mlp.Create();
        KernelsOptimizer dropIn = KernelsOptim.AdamW(ours.parameters(), lr: 1e-2, weight_decay: 0.01);
        using Optimizer reference = AdamW(theirs.parameters(), lr: 1e-2, weight_decay: 0.01);
        lr_scheduler.LRScheduler schedule = lr_scheduler.StepLR(dropIn, step_size: 4, gamma: 0.5);
        lr_scheduler.LRScheduler referenceSchedule = lr_scheduler.StepLR(reference, step_size: 4, gamma: 0.5);

        for (int step = 0; step < 20; step++)
        {
            Mlp.TrainStep(ours, dropIn, step);
            Mlp.TrainStep(theirs, reference, step);
            schedule.step();
            referenceSchedule.step();

            double lr = reference.ParamGroups.Single().LearningRate;
            Assert.Equal(1e-2 * System.Math.Pow(0.5, (step + 1) / 4), lr, 1e-15);
            Assert.Equal(lr, dropIn.ParamGroups.Single().LearningRate);
            Assert.Equal(lr, dropIn.param_groups[0]["lr"]);
            Assert.Equal(lr, dropIn.Inner.ParamGroups[0]["lr"]);
            Assert.Equal(referenceSchedule.get_last_lr(), schedule.get_last_lr());
            Difference d = Difference.Between(Mlp.Values(ours), Mlp.Values(theirs));
            Assert.True(d.MaxAbsolute <= 1e-5, $"step {step + 1}: {d}");
        }
        Assert.Equal(1e-2, dropIn.param_groups[0].InitialLearningRate);
    }

    [Fact]
    public void OneCycleLR_CyclesAdamWsBeta1_ThroughIBetas()
    {
        using Sequential ours = Mlp.Create(), theirs = Mlp.Create();
        KernelsOptimizer dropIn = KernelsOptim.AdamW(ours.parameters());
        using Optimizer reference = AdamW(theirs.parameters());
        Assert.IsAssignableFrom<IBetas>(dropIn);
        Assert.IsAssignableFrom<IBetas>(dropIn.param_groups[0]);
        Assert.False(dropIn is IMomentum);
        lr_scheduler.LRScheduler schedule = lr_scheduler.OneCycleLR(dropIn, max_lr: 1e-2, total_steps: 12);
        lr_scheduler.LRScheduler referenceSchedule = lr_scheduler.OneCycleLR(reference, max_lr: 1e-2, total_steps: 12);
        for (int step = 0; step < 11; step++)
        {
            var expected = (IBetas)reference.ParamGroups.Single();
            Assert.Equal(expected.Betas, ((IBetas)dropIn.param_groups[0]).Betas);
            Assert.Equal(expected.Betas.Item1, dropIn.param_groups[0]["beta1"]);
            Assert.Equal(reference.ParamGroups.Single().LearningRate, dropIn.param_groups[0].LearningRate);
            Mlp.TrainStep(ours, dropIn, step);
            Mlp.TrainStep(theirs, reference, step);
            schedule.step();
            referenceSchedule.step();
        }
        Assert.True(Difference.Between(Mlp.Values(ours), Mlp.Values(theirs)).MaxAbsolute <= 1e-5);
    }

    [Fact]
    public void CyclicLR_CyclesSgdsMomentum_ThroughIMomentum()
    {
        using Sequential ours = Mlp.Create(), theirs = Mlp.Create();
        KernelsOptimizer dropIn = KernelsOptim.SGD(ours.parameters(), lr: 0.01, momentum: 0.9);
        using Optimizer reference = SGD(theirs.parameters(), 0.01, momentum: 0.9);
        Assert.IsAssignableFrom<IMomentum>(dropIn);
        Assert.False(dropIn.param_groups[0] is IBetas);
        lr_scheduler.LRScheduler schedule = lr_scheduler.CyclicLR(dropIn, base_lr: 1e-3, max_lr: 5e-2, step_size_up: 3);
        lr_scheduler.LRScheduler referenceSchedule = lr_scheduler.CyclicLR(reference, base_lr: 1e-3, max_lr: 5e-2, step_size_up: 3);
        for (int step = 0; step < 12; step++)
        {
            Assert.Equal(((IMomentum)reference.ParamGroups.Single()).Momentum, dropIn.param_groups[0]["momentum"]);
            Assert.Equal(reference.ParamGroups.Single().LearningRate, dropIn.param_groups[0].LearningRate);
            Mlp.TrainStep(ours, dropIn, step);
            Mlp.TrainStep(theirs, reference, step);
            schedule.step();
            referenceSchedule.step();
        }
        Assert.True(Difference.Between(Mlp.Values(ours), Mlp.Values(theirs)).MaxAbsolute <= 1e-5);
    }
}
