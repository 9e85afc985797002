using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace DigitsClassifier;

/// <summary>One line of a plot: a legend entry and its points.</summary>
public sealed record Series(string Name, double[] Xs, double[] Ys);

/// <summary>The sample's figures, drawn with ScottPlot and saved as PNG.</summary>
public static class Plots
{
    private const int Width = 960, Height = 600;

    /// <summary>
    /// Whether the text of the figures can be drawn. SkiaSharp's self-contained Linux build (the one ScottPlot brings)
    /// reads the fonts under /usr/share/fonts itself; on a machine with none, the PNGs are written without any text.
    /// </summary>
    /// <remarks>With no font, SkiaSharp still lists one family, named "" (an empty typeface).</remarks>
    public static bool HasFonts => SkiaSharp.SKFontManager.Default.FontFamilies.Any(name => name.Length > 0);

    // A sans-serif family the machine has (ScottPlot's Fonts.Sans can resolve to a serif one on Linux).
    private static readonly string FontName =
        new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" }.FirstOrDefault(SkiaSharp.SKFontManager.Default.FontFamilies.Contains) ?? Fonts.Sans;

    /// <summary>Training loss per epoch, one line per optimizer (mean over seeds), logarithmic axis.</summary>
    public static string Loss(string folder, IReadOnlyList<Series> series, string prefix = "digits") =>
        Save(folder, prefix + "-loss.png", "Training loss (mean over seeds)", "epoch", "cross-entropy", series, logY: true, Alignment.UpperRight);

    /// <summary>Test accuracy per epoch, one line per optimizer (mean over seeds), in percent.</summary>
    public static string Accuracy(string folder, IReadOnlyList<Series> series, string prefix = "digits") =>
        Save(folder, prefix + "-accuracy.png", "Test accuracy (mean over seeds)", "epoch", "accuracy (%)", series, logY: false, Alignment.LowerRight,
            // From 5 points below the lowest value of the second half of training up to 100: the first epochs' low
            // values fall off the bottom instead of squashing where the optimizers differ.
            yLimits: (Math.Max(0, 5 * Math.Floor(series.Min(s => s.Ys.Skip(s.Ys.Length / 2).Min()) / 5) - 5),
                Math.Min(100.5, Math.Ceiling(series.Max(s => s.Ys.Max()) + 0.5))));

    /// <summary>The learning rate of every step, one line per optimizer: warmup, then cosine decay to 0.</summary>
    public static string LearningRate(string folder, IReadOnlyList<Series> series, string prefix = "digits") =>
        Save(folder, prefix + "-lr.png", "Learning rate per step: linear warmup, then cosine (equal rates overlap)", "step", "learning rate", series, logY: true, Alignment.LowerLeft);

    private static string Save(string folder, string fileName, string title, string xLabel, string yLabel,
        IReadOnlyList<Series> series, bool logY, Alignment legend, (double Bottom, double Top)? yLimits = null)
    {
        var plot = new Plot();
        plot.Font.Set(FontName);
        foreach (Series s in series)
        {
            double[] ys = logY ? s.Ys.Select(Math.Log10).ToArray() : s.Ys;
            var line = plot.Add.ScatterLine(s.Xs, ys);
            line.LegendText = s.Name;
            line.LineWidth = 2;
        }
        if (logY)
        {
            // Plot log10 of the values; label the ticks with the values themselves.
            plot.Axes.Left.TickGenerator = new NumericAutomatic
            {
                MinorTickGenerator = new LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = y => y >= -3 ? Math.Pow(10, y).ToString("0.###", CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"1e{y:0}"),
            };
            // Finite values only set the range (a schedule that reaches 0 would be -infinity), and at most six
            // decades below the highest value: the cosine's last steps fall off the bottom instead of squashing the rest.
            double[] all = series.SelectMany(s => s.Ys).Where(y => y > 0 && double.IsFinite(y)).Select(Math.Log10).ToArray();
            if (all.Length > 0)
            {
                double top = Math.Ceiling(all.Max() + 0.05), bottom = Math.Max(Math.Floor(all.Min()), top - 6);
                plot.Axes.SetLimitsY(bottom, top);
            }
        }
        if (yLimits is { } limits)
            plot.Axes.SetLimitsY(limits.Bottom, limits.Top);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(legend);
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, fileName);
        plot.SavePng(path, Width, Height);
        return path;
    }
}
