using System;
using System.Globalization;
using System.IO;
using System.IO.Compression;

namespace DigitsClassifier;

/// <summary>Images as rows of <see cref="Digits.Features"/> floats in [0, 1], and their labels 0..9.</summary>
public sealed record DigitsSet(float[] Features, int[] Labels)
{
    /// <summary>The number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Image <paramref name="index"/>'s 64 pixels.</summary>
    public ReadOnlySpan<float> Image(int index) => Features.AsSpan(index * Digits.Features, Digits.Features);
}

/// <summary>
/// The UCI "Optical Recognition of Handwritten Digits" test set (Alpaydin and Kaynak 1998, CC BY 4.0) as
/// scikit-learn ships it: 1,797 rows of 64 pixel counts 0..16 (an 8x8 image) and the digit, gzipped CSV.
/// See Data/README.md for where the file comes from.
/// </summary>
public static class Digits
{
    /// <summary>Pixels per image (8x8).</summary>
    public const int Features = 64;

    /// <summary>Digits 0..9.</summary>
    public const int Classes = 10;

    /// <summary>The number of images in the file.</summary>
    public const int Total = 1797;

    /// <summary>Images held out for testing; the other 1,437 train.</summary>
    public const int TestCount = 360;

    /// <summary>The seed of the shuffle that splits train from test: fixed, so every run sees the same split.</summary>
    public const int SplitSeed = 1998;

    /// <summary>The file beside the program (copied to the output folder at build).</summary>
    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, "Data", "digits.csv.gz");

    /// <summary>Reads the file, scales the pixels to [0, 1] and splits it with a seeded shuffle.</summary>
    public static (DigitsSet Train, DigitsSet Test) LoadSplit(string path)
    {
        (float[] features, int[] labels) = Read(path);

        // Fisher-Yates with a fixed seed: the split does not depend on the training seed.
        int[] order = new int[labels.Length];
        for (int i = 0; i < order.Length; i++)
            order[i] = i;
        var random = new Random(SplitSeed);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        int trainCount = labels.Length - TestCount;
        return (Subset(order.AsSpan(0, trainCount)), Subset(order.AsSpan(trainCount)));

        DigitsSet Subset(ReadOnlySpan<int> rows)
        {
            float[] x = new float[rows.Length * Features];
            int[] y = new int[rows.Length];
            for (int r = 0; r < rows.Length; r++)
            {
                features.AsSpan(rows[r] * Features, Features).CopyTo(x.AsSpan(r * Features));
                y[r] = labels[rows[r]];
            }
            return new DigitsSet(x, y);
        }
    }

    /// <summary>Reads every row of the gzipped CSV: 64 integer pixels 0..16 (scaled here to [0, 1]) and the label.</summary>
    /// <exception cref="InvalidDataException">A row that is not 65 integers in range, or not <see cref="Total"/> rows.</exception>
    public static (float[] Features, int[] Labels) Read(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        float[] features = new float[Total * Features];
        int[] labels = new int[Total];
        int row = 0;
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0)
                continue;
            if (row == Total)
                throw new InvalidDataException($"{path}: more than {Total} rows.");
            string[] fields = line.Split(',');
            if (fields.Length != Features + 1)
                throw new InvalidDataException($"{path}, row {row + 1}: {fields.Length} fields, expected {Features + 1}.");
            for (int k = 0; k <= Features; k++)
            {
                // Integers, written as "5" or "5.0".
                double value = double.Parse(fields[k], NumberStyles.Float, CultureInfo.InvariantCulture);
                int max = k < Features ? 16 : Classes - 1;
                if (value != Math.Floor(value) || value < 0 || value > max)
                    throw new InvalidDataException($"{path}, row {row + 1}, field {k + 1}: {fields[k]} is not an integer in 0..{max}.");
                if (k < Features)
                    features[row * Features + k] = (float)value / 16f;
                else
                    labels[row] = (int)value;
            }
            row++;
        }
        if (row != Total)
            throw new InvalidDataException($"{path}: {row} rows, expected {Total}.");
        return (features, labels);
    }
}
