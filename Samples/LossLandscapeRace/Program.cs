using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using LossLandscapeRace;

// A race on two loss landscapes: every optimizer starts from the same point with the same step
// budget. The table shows how many steps each needs to bring the loss under the threshold, the final
// loss, and (on the ravine) how often the steep coordinate y changes sign — the bouncing between the
// ravine's walls that momentum damps. Each landscape also gets two figures: the paths over its
// contours, and the loss per step.
//
//   dotnet run --project Samples/LossLandscapeRace [-- --out DIR]
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
const int Budget = 3000;
const string Usage = """
    Usage: LossLandscapeRace [--out DIR]
      --out DIR     where the PNGs go (default: artifacts/LossLandscapeRace under the current directory)
    """;

string outFolder = Path.Combine("artifacts", "LossLandscapeRace");
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--out" when i + 1 < args.Length:
            outFolder = args[++i];
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

if (!VerifyUserRule())
    return 1;
var written = new List<string>();

// Rosenbrock's valley is ~10x sharper than the ravine's walls near its minimum, so the SGD family's lr
// is scaled down there; the adaptive methods are not bounded by curvature in the same way.
foreach ((Landscape landscape, double sgdScale, double adaptiveScale) in new[] { (Landscape.Ravine, 1.0, 1.0), (Landscape.Rosenbrock, 0.1, 1.0) })
{
    Console.WriteLine();
    Console.WriteLine($"{landscape.Name}: start ({landscape.StartX}, {landscape.StartY}), loss {landscape.Loss(landscape.StartX, landscape.StartY):G4}, threshold {landscape.Threshold:G2}, budget {Budget} steps");
    Console.WriteLine($"{"optimizer",-24} {"lr",8} {"steps to threshold",19} {"final loss",12} {"y sign flips",13}   final (x, y)");
    var paths = new List<RacePath>();
    foreach (Racer racer in Racer.All(sgdScale, adaptiveScale))
    {
        Span<float> param = racer.Position.Data.Span, grad = racer.Position.Grad.Span;
        (param[0], param[1]) = (landscape.StartX, landscape.StartY);
        // The point and its loss before the first step and after every step, for the figures.
        var path = new RacePath(racer.Name, new double[Budget + 1], new double[Budget + 1], new double[Budget + 1]);
        Record(0);
        int? reached = null;
        int flips = 0;
        for (int step = 1; step <= Budget; step++)
        {
            (grad[0], grad[1]) = landscape.Gradient(param[0], param[1]);
            float previousY = param[1];
            racer.Optimizer.Step();
            if (param[1] < 0 && previousY > 0 || param[1] > 0 && previousY < 0)
                flips++;
            if (reached is null && landscape.Loss(param[0], param[1]) < landscape.Threshold)
                reached = step;
            Record(step);
        }
        paths.Add(path);
        float loss = landscape.Loss(param[0], param[1]);
        string steps = reached?.ToString(CultureInfo.InvariantCulture) ?? (float.IsFinite(loss) ? "not reached" : "diverged");
        Console.WriteLine($"{racer.Name,-24} {racer.Lr,8:G3} {steps,19} {loss,12:G3} {flips,13}   ({param[0]:G4}, {param[1]:G4})");

        void Record(int step)
        {
            ReadOnlySpan<float> xy = racer.Position.Data.Span;
            (path.Xs[step], path.Ys[step], path.Loss[step]) = (xy[0], xy[1], landscape.Loss(xy[0], xy[1]));
        }
    }
    written.Add(Plots.Paths(outFolder, landscape, paths));
    written.Add(Plots.Loss(outFolder, landscape, paths));
}

Console.WriteLine();
Console.WriteLine("""
    Reading the tables:
    - Ravine: plain SGD's lr is capped by the steep walls (lr < 2/100), so at the edge of stability it
      bounces from wall to wall every step (y changes sign each step) while crawling along the floor.
      Momentum and Nesterov take the same effective step along the floor (lr / (1 - momentum)), but
      the wall gradients alternate in sign and cancel in the momentum buffer: far fewer bounces.
    - Adam, AdamW and AdaBelief divide each coordinate by its own gradient scale, so the 100x steeper
      wall no longer sets the pace along x; on Rosenbrock's curved valley they reach the minimum while
      the SGD family, limited by the valley's sharpest curvature, is still on its way.
    - AdamW's decoupled weight decay pulls parameters toward 0, so it settles slightly off (1, 1).
    - Lion moves every coordinate by exactly lr per step (a sign update): fast, then an oscillation of
      size ~lr around the minimum unless lr decays.
    """);

if (!Plots.HasFonts)
    Console.WriteLine("No fonts found: the figures have no text. On Debian/Ubuntu: apt-get install fonts-dejavu-core.");
foreach (string path in written)
    Console.WriteLine($"Wrote {Path.GetFullPath(path)}");
return 0;

// The user rule's span overload must be bit-identical to calling the scalar rule element by element.
static bool VerifyUserRule()
{
    var random = new Random(42);
    int n = 1003;
    float[] Fill() => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    float[] p = Fill(), g = Fill(), m = Fill(), s = Fill().Select(Math.Abs).ToArray();
    float[] p2 = (float[])p.Clone(), m2 = (float[])m.Clone(), s2 = (float[])s.Clone();
    AdaBelief.Update(p, g, m, s, step: 5);
    for (int i = 0; i < n; i++)
        AdaBelief.Update(ref p2[i], in g[i], ref m2[i], ref s2[i], step: 5);
    bool same = p.AsSpan().SequenceEqual(p2) && m.AsSpan().SequenceEqual(m2) && s.AsSpan().SequenceEqual(s2);
    Console.WriteLine($"User rule AdaBelief: span overload {(same ? "is bit-identical to" : "DIFFERS from")} the scalar rule over {n} elements.");
    return same;
}
