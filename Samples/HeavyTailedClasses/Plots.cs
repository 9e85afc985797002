using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ScottPlot;
using ScottPlot.Plottables;

namespace HeavyTailedClasses;

/// <summary>The sample's figures, drawn with ScottPlot and saved as PNG.</summary>
public static class Plots
{
    private const int Width = 960, Height = 600, PanelsWidth = 1600, PanelsHeight = 540;

    /// <summary>
    /// Whether the text of the figures can be drawn. SkiaSharp's self-contained Linux build (the one ScottPlot brings)
    /// reads the fonts under /usr/share/fonts itself; on a machine with none, the PNGs are written without any text.
    /// </summary>
    /// <remarks>With no font, SkiaSharp still lists one family, named "" (an empty typeface).</remarks>
    public static bool HasFonts => SkiaSharp.SKFontManager.Default.FontFamilies.Any(name => name.Length > 0);

    // A sans-serif family the machine has (ScottPlot's Fonts.Sans can resolve to a serif one on Linux).
    private static readonly string FontName =
        new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" }.FirstOrDefault(SkiaSharp.SKFontManager.Default.FontFamilies.Contains) ?? Fonts.Sans;

    /// <summary>
    /// <c>{fileName}</c>: SGD's panel beside Adam's, one line per frequency bucket (most frequent dark, rarest light) and
    /// the loss every class starts at (ln C) dashed, on the same axes so that they compare at a glance.
    /// </summary>
    public static string BucketLoss(string folder, string fileName, RunResult left, RunResult right, IReadOnlyList<Bucket> buckets, int classes, double yLimit)
    {
        Plot leftPlot = BucketPanel(left, buckets, classes, yLimit), rightPlot = BucketPanel(right, buckets, classes, yLimit);
        // One legend for both (the colours mean the same buckets), outside the data so that no line hides under it.
        rightPlot.ShowLegend(Edge.Right);
        leftPlot.HideLegend();
        var figure = new Multiplot(leftPlot);
        figure.AddPlot(rightPlot);
        figure.Layout = new ScottPlot.MultiplotLayouts.Columns();
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, fileName);
        figure.SavePng(path, PanelsWidth, PanelsHeight);
        return path;
    }

    private static Plot BucketPanel(RunResult run, IReadOnlyList<Bucket> buckets, int classes, double yLimit)
    {
        var plot = NewPlot();
        double[] steps = run.Steps.Select(s => (double)s).ToArray();
        IColormap colormap = new ScottPlot.Colormaps.Viridis();
        for (int b = 0; b < buckets.Count; b++)
        {
            Scatter line = plot.Add.ScatterLine(steps, run.BucketLoss.Select(e => e[b]).ToArray());
            // Viridis from dark purple (frequent) to yellow (rare), stopping short of its palest end to stay visible on white.
            line.Color = colormap.GetColor(0.9 * b / Math.Max(1, buckets.Count - 1));
            line.LineWidth = 2;
            line.LegendText = $"classes {buckets[b].Label}";
        }
        AddInitialLoss(plot, classes);
        plot.Axes.SetLimits(0, steps[^1], 0, yLimit);
        plot.Title($"{run.Contender.Name}, lr {run.Contender.Lr.ToString("G3", CultureInfo.InvariantCulture)}: training loss per frequency bucket");
        plot.XLabel("step");
        plot.YLabel("cross-entropy");
        return plot;
    }

    /// <summary><c>{fileName}</c>: the loss over all classes, one line per run.</summary>
    public static string OverallLoss(string folder, string fileName, IReadOnlyList<RunResult> runs, int classes)
    {
        double yLimit = Math.Ceiling(Math.Max(runs.SelectMany(r => r.Loss).Where(double.IsFinite).DefaultIfEmpty(0).Max(), Math.Log(classes)) + 0.5);
        var plot = NewPlot();
        foreach (RunResult run in runs)
        {
            Scatter line = plot.Add.ScatterLine(run.Steps.Select(s => (double)s).ToArray(), run.Loss);
            line.LineWidth = 2;
            line.LegendText = $"{run.Contender.Name} (lr {run.Contender.Lr.ToString("G3", CultureInfo.InvariantCulture)})";
        }
        AddInitialLoss(plot, classes);
        plot.Axes.SetLimits(0, runs[0].Steps[^1], 0, yLimit);
        plot.Title("Training loss over all classes");
        plot.XLabel("step");
        plot.YLabel("cross-entropy");
        plot.ShowLegend(Alignment.UpperRight);
        return Save(plot, folder, fileName);
    }

    // ln C: a zero-initialized model gives every class probability 1/C.
    private static void AddInitialLoss(Plot plot, int classes)
    {
        HorizontalLine start = plot.Add.HorizontalLine(Math.Log(classes), 1.5f, Colors.Gray, LinePattern.Dashed);
        start.LegendText = $"start: ln {classes} = {Math.Log(classes).ToString("F2", CultureInfo.InvariantCulture)}";
    }

    private static Plot NewPlot()
    {
        var plot = new Plot();
        plot.Font.Set(FontName);
        return plot;
    }

    private static string Save(Plot plot, string folder, string fileName)
    {
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, fileName);
        plot.SavePng(path, Width, Height);
        return path;
    }
}
