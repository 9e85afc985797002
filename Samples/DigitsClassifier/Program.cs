using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using DigitsClassifier;
using Spectre.Console;

// Handwritten digits (8x8, UCI) with a 64-32-10 MLP, trained by each optimizer in Racer.All: the same model, data,
// seeds, warmup + cosine schedule and gradient clipping; only the optimizer line changes. Prints test accuracy over
// seeds and writes three figures.
//
//   dotnet run --project Samples/DigitsClassifier [-- --quick] [--out DIR] [--epochs N] [--seeds N]
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
const string Usage = """
    Usage: DigitsClassifier [--quick] [--out DIR] [--epochs N] [--seeds N]
      --quick       CI mode: 3 epochs, 1 seed, no progress bar (still writes the figures)
      --out DIR     where the PNGs go (default: artifacts/DigitsClassifier under the current directory)
      --epochs N    epochs per run (default 30; 3 with --quick)
      --seeds N     runs per optimizer, seeds 0..N-1 (default 3; 1 with --quick)
      --memory      the memory race instead: AdamW with float32 vs 8-bit state (figures digits-memory-*.png)
    """;
var total = Stopwatch.StartNew();

bool quick = false, memory = false;
string outFolder = Path.Combine("artifacts", "DigitsClassifier");
int? epochsArg = null, seedsArg = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--quick":
            quick = true;
            break;
        case "--memory":
            memory = true;
            break;
        case "--out" when i + 1 < args.Length:
            outFolder = args[++i];
            break;
        case "--epochs" when i + 1 < args.Length && int.TryParse(args[i + 1], out int e) && e > 0:
            epochsArg = e;
            i++;
            break;
        case "--seeds" when i + 1 < args.Length && int.TryParse(args[i + 1], out int s) && s > 0:
            seedsArg = s;
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
var settings = new TrainingSettings(Epochs: epochsArg ?? (quick ? 3 : 30), WarmupEpochs: quick ? 1 : 2);
int seeds = seedsArg ?? (quick ? 1 : 3);

(DigitsSet train, DigitsSet test) = Digits.LoadSplit(Digits.DefaultPath);
AnsiConsole.MarkupLine($"[bold]UCI handwritten digits[/] (8x8, CC BY 4.0): {train.Count} train / {test.Count} test images, pixels scaled to [[0, 1]].");
AnsiConsole.MarkupLine($"MLP 64-{Mlp.Hidden}-10 (ReLU, softmax cross-entropy), batch {settings.BatchSize}, {settings.Epochs} epochs, "
    + $"warmup {Plural(settings.WarmupEpochs, "epoch")} then cosine, gradient norm clipped to {settings.MaxGradNorm}, {Plural(seeds, "seed")}.");

// Self-check: the hand-written backward pass against finite differences, on four images.
double gradientError = GradientCheck.WorstRelativeError(new Mlp(seed: 7), train, [0, 1, 2, 3]);
bool gradientOk = gradientError < 1e-2;
AnsiConsole.MarkupLine($"Gradient check (central differences, every weight and bias): worst relative error {gradientError:E2} "
    + (gradientOk ? "[green]ok[/]" : "[red]FAILED[/]"));
if (!gradientOk)
    return 1;

// The race.
IReadOnlyList<Racer> racers = memory ? Racer.Memory : Racer.All;
string prefix = memory ? "digits-memory" : "digits";
var results = new Dictionary<Racer, List<RunResult>>();
void RunAll(Action<Racer>? onEpoch)
{
    foreach (Racer racer in racers)
    {
        var runs = new List<RunResult>();
        for (int seed = 0; seed < seeds; seed++)
            runs.Add(Trainer.Run(racer, seed, settings, train, test, onEpoch is null ? null : () => onEpoch(racer)));
        results[racer] = runs;
    }
}
if (quick)
{
    RunAll(null);
}
else
{
    AnsiConsole.Progress()
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
        .Start(context =>
        {
            Dictionary<Racer, ProgressTask> tasks = racers.ToDictionary(r => r, r => context.AddTask(Markup.Escape(r.Name), maxValue: seeds * settings.Epochs));
            RunAll(racer => tasks[racer].Increment(1));
        });
}

// The table: test accuracy after the last epoch, mean ± sample standard deviation over the seeds.
var table = new Table()
    .Title($"Test accuracy after {Plural(settings.Epochs, "epoch")} ({test.Count} images), {Plural(seeds, "seed")}")
    .AddColumn(new TableColumn("Optimizer").NoWrap())
    .AddColumn(new TableColumn("lr").RightAligned())
    .AddColumn(new TableColumn("weight decay").RightAligned())
    .AddColumn(new TableColumn("test acc. (%)").RightAligned())
    .AddColumn(new TableColumn("train loss").RightAligned())
    .AddColumn(new TableColumn("state B/param").RightAligned())
    .AddColumn(new TableColumn("time").RightAligned());
bool diverged = false;
foreach (Racer racer in racers)
{
    List<RunResult> runs = results[racer];
    double[] accuracy = runs.Select(r => 100 * r.TestAccuracy[^1]).ToArray();
    double[] loss = runs.Select(r => r.TrainLoss[^1]).ToArray();
    diverged |= loss.Any(l => !double.IsFinite(l));
    double seconds = runs.Sum(r => r.Elapsed.TotalSeconds);
    table.AddRow(
        Markup.Escape(racer.Name),
        runs[0].BaseLr.ToString("G3"),
        runs[0].WeightDecay is { } wd ? wd.ToString("G3") : "—",
        MeanSpread(accuracy, "F1"),
        loss.Average().ToString("F3"),
        ((double)runs[0].StateBytes / runs[0].Elements).ToString("F2"),
        $"{seconds:F1} s");
}
table.Caption("mean ± standard deviation over seeds; weight decay on the weights only (biases: a second group without it); "
    + "train loss: mean over seeds of the cross-entropy of the last epoch's mini-batches; state B/param: optimizer state bytes "
    + "per parameter element (Optimizer.MemoryReport); time: all seeds, wall clock");
AnsiConsole.Write(table);

// The figures.
List<Series> lossSeries = [], accuracySeries = [], lrSeries = [];
double[] epochs = Enumerable.Range(1, settings.Epochs).Select(e => (double)e).ToArray();
foreach (Racer racer in racers)
{
    List<RunResult> runs = results[racer];
    lossSeries.Add(new Series(racer.Name, epochs, MeanOverSeeds(runs.Select(r => r.TrainLoss))));
    accuracySeries.Add(new Series(racer.Name, epochs, MeanOverSeeds(runs.Select(r => r.TestAccuracy)).Select(a => 100 * a).ToArray()));
    double[] lr = runs[0].LearningRate;
    lrSeries.Add(new Series(racer.Name, Enumerable.Range(1, lr.Length).Select(s => (double)s).ToArray(), lr));
}
if (!Plots.HasFonts)
    AnsiConsole.MarkupLine("[yellow]No fonts found: the figures will have no text. On Debian/Ubuntu: apt-get install fonts-dejavu-core.[/]");
string[] written = [Plots.Loss(outFolder, lossSeries, prefix), Plots.Accuracy(outFolder, accuracySeries, prefix), Plots.LearningRate(outFolder, lrSeries, prefix)];
foreach (string path in written)
    AnsiConsole.MarkupLine($"Wrote [blue]{Markup.Escape(Path.GetFullPath(path))}[/]");
AnsiConsole.MarkupLine($"Total time {total.Elapsed.TotalSeconds:F1} s.");
if (diverged)
{
    AnsiConsole.MarkupLine("[red]A run diverged (non-finite loss).[/]");
    return 1;
}
return 0;

static string Plural(int count, string noun) => $"{count} {noun}{(count == 1 ? "" : "s")}";

static string MeanSpread(double[] values, string format)
{
    double mean = values.Average();
    if (values.Length < 2)
        return mean.ToString(format);
    double sd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1));
    return $"{mean.ToString(format)} ± {sd.ToString(format)}";
}

static double[] MeanOverSeeds(IEnumerable<double[]> runs)
{
    double[][] all = runs.ToArray();
    return Enumerable.Range(0, all[0].Length).Select(i => all.Average(r => r[i])).ToArray();
}
