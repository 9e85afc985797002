using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using HeavyTailedClasses;
using Kernels.Optimizers;
using Spectre.Console;

// Heavy-tailed class imbalance, after Kunstner et al. 2024, "Heavy-Tailed Class Imbalance and Why Adam Outperforms
// Gradient Descent on Language Models" (NeurIPS 2024, arXiv:2402.19449): softmax regression on 1,000 classes whose
// frequencies follow Zipf's law, trained by SGD and by Adam (the library's optimizer objects) at their best learning
// rates from a small sweep. The training loss of each frequency bucket shows SGD leaving the rare classes behind;
// --balanced runs the control, where every class is equally frequent.
//
//   dotnet run -c Release --project Samples/HeavyTailedClasses [-- --quick] [--out DIR] [--steps N] [--balanced]
//
// (Release: a Debug build of the library runs its kernels, KernelMath and the GEMM unoptimized, several times slower.)
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
const string Usage = """
    Usage: HeavyTailedClasses [--quick] [--out DIR] [--steps N] [--balanced]
      --quick       CI mode: 100 steps, no sweep (the full run's learning rates), no progress bar (still writes the figures)
      --out DIR     where the PNGs go (default: artifacts/HeavyTailedClasses under the current directory)
      --steps N     steps per run (default 1500; 100 with --quick)
      --balanced    the control: every class equally frequent, the same number of samples
    """;
var total = Stopwatch.StartNew();

bool quick = false, balanced = false;
string outFolder = Path.Combine("artifacts", "HeavyTailedClasses");
int? stepsArg = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--quick":
            quick = true;
            break;
        case "--balanced":
            balanced = true;
            break;
        case "--out" when i + 1 < args.Length:
            outFolder = args[++i];
            break;
        case "--steps" when i + 1 < args.Length && int.TryParse(args[i + 1], out int s) && s > 0:
            stepsArg = s;
            i++;
            break;
        case "--help" or "-h":
            Console.WriteLine(Usage);
            return 0;
        default:
            Console.Error.WriteLine($"Unknown or incomplete argument '{args[i]}'.");
            Console.Error.WriteLine(Usage);
            return 2;
    }
}

const int Classes = 1000, Features = 32, Samples = 7500, BatchSize = 256, DataSeed = 2024, ShuffleSeed = 1;
// The learning rates the full run picks from the sweeps below (heavy-tailed classes, 1,500 steps); --quick runs these two only.
const double SgdLr = 20, AdamLr = 0.1;
var settings = new TrainingSettings(Steps: stepsArg ?? (quick ? 100 : 1500), BatchSize, Evaluations: quick ? 5 : 30, ShuffleSeed);
double[] sgdLrs = quick ? [SgdLr] : [10, 20, 40, 80, 160], adamLrs = quick ? [AdamLr] : [0.01, 0.03, 0.1, 0.3];

ZipfData data = ZipfData.Create(Classes, Features, Samples, balanced, DataSeed);
AnsiConsole.MarkupLine($"[bold]{(balanced ? "Balanced classes (control)" : "Heavy-tailed classes")}[/]: {data.Count:N0} training samples of {Classes:N0} classes, "
    + (balanced ? $"{data.Counts[0]} each" : $"class k has ~1/k of them (Zipf: {data.Counts[0]} samples of the first, {data.Counts[^1]} of the last)")
    + $"; inputs N(0, I/{Features}), drawn independently of the labels.");
AnsiConsole.MarkupLine($"Softmax regression ({Features}x{Classes} weights + {Classes} biases, from zero: every class starts at loss ln {Classes} = {Math.Log(Classes):F2}), "
    + $"batch {BatchSize}, {settings.Steps:N0} steps ({(double)settings.Steps * BatchSize / data.Count:F0} epochs), the same batches for every run.");

// Self-check: the hand-written backward pass against finite differences.
double gradientError = GradientCheck.WorstRelativeError();
bool gradientOk = gradientError < 1e-2;
AnsiConsole.MarkupLine($"Gradient check (central differences, every weight and bias of a 6x9 model): worst relative error {gradientError:E2} "
    + (gradientOk ? "[green]ok[/]" : "[red]FAILED[/]"));
if (!gradientOk)
    return 1;

// The runs: each learning rate of each optimizer, from the same zero start, over the same batches.
Contender[] contenders =
[
    .. sgdLrs.Select(lr => new Contender("SGD", lr, (p, l) => new SGD.Optimizer(p, lr: l))),
    .. adamLrs.Select(lr => new Contender("Adam", lr, (p, l) => new Adam.Optimizer(p, lr: l))),
];
var runs = new RunResult[contenders.Length];
if (quick)
{
    for (int c = 0; c < contenders.Length; c++)
        runs[c] = Trainer.Run(contenders[c], data, settings);
}
else
{
    AnsiConsole.Progress()
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
        .Start(context =>
        {
            ProgressTask[] tasks = contenders.Select(c => context.AddTask($"{c.Name}, lr {c.Lr:G3}", maxValue: settings.Steps)).ToArray();
            for (int c = 0; c < contenders.Length; c++)
                runs[c] = Trainer.Run(contenders[c], data, settings, () => tasks[c].Increment(1));
        });
}

// Each optimizer at its best learning rate: the lowest loss over all training samples in the last fifth of the run
// (a diverged run never wins).
RunResult sgd = Best("SGD"), adam = Best("Adam");
RunResult Best(string name) => runs.Where(r => r.Contender.Name == name).MinBy(r => double.IsFinite(r.LateLoss) ? r.LateLoss : double.PositiveInfinity)!;

if (!quick)
{
    var sweep = new Table()
        .Title($"Learning-rate sweep: training loss over {settings.Steps:N0} steps")
        .AddColumn("Optimizer")
        .AddColumn(new TableColumn("lr").RightAligned())
        .AddColumn(new TableColumn("last fifth").RightAligned())
        .AddColumn(new TableColumn("all classes").RightAligned())
        .AddColumn(new TableColumn("class 1").RightAligned())
        .AddColumn(new TableColumn($"classes {data.Buckets[^1].Label}").RightAligned())
        .AddColumn("");
    foreach (RunResult run in runs)
    {
        sweep.AddRow(run.Contender.Name, run.Contender.Lr.ToString("G3"), Loss(run.LateLoss), Loss(run.FinalLoss), Loss(run.BucketLoss[^1][0]), Loss(run.BucketLoss[^1][^1]),
            run == sgd || run == adam ? "[green]best[/]" : run.Diverged ? "[red]diverged[/]" : "");
    }
    sweep.Caption("last fifth: mean loss over all classes in the last fifth of the run (what ranks the runs); "
        + "the next three: at the end; best: in the figures and the table below");
    AnsiConsole.Write(sweep);
}

var table = new Table()
    .Title($"Training loss per frequency bucket after {settings.Steps:N0} steps (every bucket starts at {Math.Log(Classes):F2})")
    .AddColumn("classes (by frequency)")
    .AddColumn(new TableColumn("share of samples").RightAligned())
    .AddColumn(new TableColumn($"SGD, lr {sgd.Contender.Lr:G3}").RightAligned())
    .AddColumn(new TableColumn($"Adam, lr {adam.Contender.Lr:G3}").RightAligned());
for (int b = 0; b < data.Buckets.Length; b++)
{
    Bucket bucket = data.Buckets[b];
    table.AddRow(bucket.Label, $"{100.0 * bucket.Samples / data.Count:F1} %", Loss(sgd.BucketLoss[^1][b]), Loss(adam.BucketLoss[^1][b]));
}
table.AddRow("[bold]all[/]", "100 %", $"[bold]{Loss(sgd.FinalLoss)}[/]", $"[bold]{Loss(adam.FinalLoss)}[/]");
AnsiConsole.Write(table);

// The figures: the two per-bucket panels share their axes, so they compare at a glance.
double highest = new[] { sgd, adam }.SelectMany(r => r.BucketLoss.SelectMany(e => e)).Where(double.IsFinite).DefaultIfEmpty(0).Max();
double yLimit = Math.Ceiling(Math.Max(highest, Math.Log(Classes)) + 0.5);
string prefix = balanced ? "balanced" : "heavy-tailed";
if (!Plots.HasFonts)
    AnsiConsole.MarkupLine("[yellow]No fonts found: the figures will have no text. On Debian/Ubuntu: apt-get install fonts-dejavu-core.[/]");
string[] written =
[
    Plots.BucketLoss(outFolder, $"{prefix}-buckets.png", sgd, adam, data.Buckets, Classes, yLimit),
    Plots.OverallLoss(outFolder, $"{prefix}-loss.png", [sgd, adam], Classes),
];
foreach (string path in written)
    AnsiConsole.MarkupLine($"Wrote [blue]{Markup.Escape(Path.GetFullPath(path))}[/]");
AnsiConsole.MarkupLine($"Total time {total.Elapsed.TotalSeconds:F1} s.");
if (sgd.Diverged || adam.Diverged)
{
    AnsiConsole.MarkupLine("[red]Every learning rate of an optimizer diverged (non-finite loss).[/]");
    return 1;
}
return 0;

static string Loss(double value) => double.IsFinite(value) ? value.ToString("F2") : "—";
