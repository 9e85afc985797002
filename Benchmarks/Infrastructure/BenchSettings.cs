using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary>Run-wide choices made on the command line (the suite runs in-process, so a static is enough).</summary>
public static class BenchSettings
{
    /// <summary>The sizes of issue 5: 64K (in cache), 1M, 16M and 64M fp32 parameters.</summary>
    public static readonly int[] DefaultSizes = [1 << 16, 1 << 20, 1 << 24, 1 << 26];

    /// <summary>The sizes of this run.</summary>
    public static IReadOnlyList<int> Sizes { get; set; } = DefaultSizes;

    /// <summary>
    /// <c>--order</c> of <c>--probe</c>: null (the default) shuffles the columns afresh each round; "fixed" keeps their
    /// declared order (the probe's behaviour before 2026-11-29); a comma-separated list of column names fixes that order.
    /// </summary>
    public static string? ProbeOrder { get; set; }

    /// <summary>Parses "64K,1M,16M" (K = 1024, M = 1024 * 1024).</summary>
    public static int[] ParseSizes(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseSize).ToArray();

    /// <summary>Parses one size such as 64K, 16M or 1000.</summary>
    public static int ParseSize(string text)
    {
        int multiplier = 1;
        if (text.EndsWith('K') || text.EndsWith('k'))
            multiplier = 1 << 10;
        else if (text.EndsWith('M') || text.EndsWith('m'))
            multiplier = 1 << 20;
        string digits = multiplier == 1 ? text : text[..^1];
        return checked(int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture) * multiplier);
    }

    /// <summary>64K, 16M, 1000: how the reports write a size.</summary>
    public static string FormatSize(int size) =>
        size % (1 << 20) == 0 ? $"{size >> 20}M" : size % (1 << 10) == 0 ? $"{size >> 10}K" : size.ToString(CultureInfo.InvariantCulture);
}
