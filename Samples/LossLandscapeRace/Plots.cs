using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using ScottPlot;
using ScottPlot.Plottables;
using ScottPlot.TickGenerators;

namespace LossLandscapeRace;

/// <summary>The race's figures, drawn with ScottPlot and saved as PNG: per landscape, the paths over its contours and the loss per step.</summary>
public static class Plots
{
    private const int Width = 960, Height = 640;

    // Losses below this are drawn at it: the ravine's reach exactly 0 (float underflow), and nothing below is worth a decade of the axis.
    private const double LossFloor = 1e-12;

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
    /// <c>{stem}-paths.png</c>: log₁₀ of the loss as a shaded map with contour lines every half decade, and every
    /// optimizer's path over it (the start, each path's end, the minimum marked).
    /// </summary>
    public static string Paths(string folder, Landscape landscape, IReadOnlyList<RacePath> paths)
    {
        var plot = NewPlot();
        (double left, double right, double bottom, double top) = landscape.View;

        // The loss on a grid over the view, in decades: on a linear scale Rosenbrock's walls (up to ~10³) would leave
        // one colour for the whole valley, where the paths are. Row 0 is the top, as the heatmap draws it.
        const int Columns = 321, Rows = 241;
        var logLoss = new double[Rows, Columns];
        var grid = new Coordinates3d[Rows, Columns];
        for (int r = 0; r < Rows; r++)
        {
            double y = top - r * (top - bottom) / (Rows - 1);
            for (int c = 0; c < Columns; c++)
            {
                double x = left + c * (right - left) / (Columns - 1);
                double z = Math.Log10(Math.Max(landscape.Loss((float)x, (float)y), LossFloor));
                logLoss[r, c] = z;
                grid[r, c] = new Coordinates3d(x, y, z);
            }
        }
        Heatmap heatmap = plot.Add.Heatmap(logLoss);
        heatmap.Rectangle = new CoordinateRect(left, right, bottom, top);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        heatmap.Opacity = 0.45;
        ScottPlot.Panels.ColorBar colorBar = plot.Add.ColorBar(heatmap);
        colorBar.Label = "log₁₀ loss";

        // Contours every half decade between the grid's lowest and highest loss.
        double low = Math.Ceiling(2 * logLoss.Cast<double>().Min()) / 2, high = Math.Floor(2 * logLoss.Cast<double>().Max()) / 2;
        var contours = new ContourLines
        {
            ContourLineLevels = Enumerable.Range(0, (int)Math.Round(2 * (high - low)) + 1).Select(i => low + i / 2.0).ToArray(),
            LineColor = Colors.Black.WithAlpha(0.35),
        };
        // The colour bar reads the levels; labels on every line would pile up where the contours crowd at the minimum.
        contours.LabelStyle.IsVisible = false;
        contours.Update(grid);
        plot.Add.Plottable(contours);

        for (int i = 0; i < paths.Count; i++)
        {
            RacePath path = paths[i];
            Scatter line = plot.Add.ScatterLine(path.Xs, path.Ys);
            // Set, not taken from the palette's turn: each marker added would take the next colour too.
            line.Color = plot.Add.Palette.GetColor(i);
            line.LegendText = path.Name;
            line.LineWidth = 1.5f;
            Marker end = plot.Add.Marker(path.Xs[^1], path.Ys[^1], MarkerShape.FilledSquare, 9);
            end.Color = line.Color;
        }
        Marker start = plot.Add.Marker(landscape.StartX, landscape.StartY, MarkerShape.OpenCircle, 14);
        start.Color = Colors.Black;
        start.LegendText = "start";
        Marker minimum = plot.Add.Marker(landscape.MinimumX, landscape.MinimumY, MarkerShape.Cross, 14);
        minimum.Color = Colors.Black;
        minimum.LegendText = "minimum (■: each path's end)";

        plot.Axes.SetLimits(left, right, bottom, top);
        plot.Title($"{landscape.Name}: {paths.Count} optimizers, {paths[0].Xs.Length - 1} steps from ({landscape.StartX}, {landscape.StartY})");
        plot.XLabel("x");
        plot.YLabel("y");
        // Top middle: above the ravine's floor and between the arms of Rosenbrock's valley, where no path goes.
        plot.ShowLegend(Alignment.UpperCenter);
        return Save(plot, folder, $"{landscape.FileStem}-paths.png");
    }

    /// <summary><c>{stem}-loss.png</c>: the loss after every step, one line per optimizer, logarithmic axis, the threshold dashed.</summary>
    public static string Loss(string folder, Landscape landscape, IReadOnlyList<RacePath> paths)
    {
        var plot = NewPlot();
        foreach (RacePath path in paths)
        {
            double[] steps = Enumerable.Range(0, path.Loss.Length).Select(s => (double)s).ToArray();
            // A diverged run's non-finite losses are left out (ScottPlot skips NaN points).
            double[] log = path.Loss.Select(l => double.IsFinite(l) ? Math.Log10(Math.Max(l, LossFloor)) : double.NaN).ToArray();
            Scatter line = plot.Add.ScatterLine(steps, log);
            line.LegendText = path.Name;
            line.LineWidth = 2;
        }
        HorizontalLine threshold = plot.Add.HorizontalLine(Math.Log10(landscape.Threshold), 1.5f, Colors.Gray, LinePattern.Dashed);
        threshold.LegendText = $"threshold {landscape.Threshold:G2}";

        // Plot log10 of the losses; label the ticks with the losses themselves.
        plot.Axes.Left.TickGenerator = new NumericAutomatic
        {
            MinorTickGenerator = new LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => y is >= -2 and <= 3 ? Math.Pow(10, y).ToString("0.##", CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"1e{y:0}"),
        };
        double highest = paths.SelectMany(p => p.Loss).Where(double.IsFinite).Max();
        plot.Axes.SetLimitsY(Math.Log10(LossFloor), Math.Ceiling(Math.Log10(highest) + 0.05));
        plot.Axes.SetLimitsX(0, paths[0].Loss.Length - 1);
        plot.Title($"{landscape.Name}: loss per step (below {LossFloor:0e0} drawn at {LossFloor:0e0})");
        plot.XLabel("step");
        plot.YLabel("loss");
        plot.ShowLegend(Alignment.UpperRight);
        return Save(plot, folder, $"{landscape.FileStem}-loss.png");
    }

    private static Plot NewPlot()
    {
        var plot = new Plot();
        plot.Font.Set(FontName);
        // Ten distinct colours, so the seven optimizers never share one.
        plot.Add.Palette = new ScottPlot.Palettes.Category10();
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
