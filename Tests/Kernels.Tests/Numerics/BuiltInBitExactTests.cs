using System;
using Kernels.Optimizers;
using Xunit;

namespace Kernels.Tests.Numerics;

/// <summary>The built-in optimizers' span overloads equal their scalar rules bit for bit, for every flag combination.</summary>
public class BuiltInBitExactTests
{
    public static TheoryData<int> Lengths() => new(BitExact.Lengths());

    private static readonly int[] s_steps = { 1, 2, 7 };

    [Theory, MemberData(nameof(Lengths))]
    public void SGD_AllFlags(int length)
    {
        foreach (int step in s_steps)
        foreach (double momentum in new[] { 0, 0.9 })
        foreach (double dampening in new[] { 0, 0.1 })
        foreach (double weightDecay in new[] { 0, 1e-2 })
        foreach (bool nesterov in new[] { false, true })
        foreach (bool maximize in new[] { false, true })
        {
            BitExact.Check(3, length, (r, n) => SpecialValues.Floats(r, n),
                (b, i) => SGD.Step(ref b[0][i], in b[1][i], ref b[2][i], 0.01, step, momentum, dampening, weightDecay, nesterov, maximize),
                (b, o, n, opt) => SGD.Step(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), 0.01, step, momentum, dampening, weightDecay, nesterov, maximize, opt));
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void Adam_AllFlags(int length)
    {
        foreach (int step in s_steps)
        foreach (double weightDecay in new[] { 0, 1e-2 })
        foreach (bool amsgrad in new[] { false, true })
        foreach (bool maximize in new[] { false, true })
        {
            BitExact.Check(5, length, (r, n) => SpecialValues.Floats(r, n),
                (b, i) => Adam.Step(ref b[0][i], in b[1][i], ref b[2][i], ref b[3][i], ref b[4][i], step, weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize),
                (b, o, n, opt) => Adam.Step(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), b[3].AsSpan(o, n), b[4].AsSpan(o, n), step, weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize, options: opt));
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void AdamW_AllFlags(int length)
    {
        foreach (int step in s_steps)
        foreach (double beta1 in new[] { 0.9, 0.3 })     // 1 - beta1 >= 0.5 takes lerp's other form
        foreach (bool amsgrad in new[] { false, true })
        foreach (bool maximize in new[] { false, true })
        {
            BitExact.Check(5, length, (r, n) => SpecialValues.Floats(r, n),
                (b, i) => AdamW.Step(ref b[0][i], in b[1][i], ref b[2][i], ref b[3][i], ref b[4][i], step, beta1: beta1, amsgrad: amsgrad, maximize: maximize),
                (b, o, n, opt) => AdamW.Step(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), b[3].AsSpan(o, n), b[4].AsSpan(o, n), step, beta1: beta1, amsgrad: amsgrad, maximize: maximize, options: opt));
        }
    }

    [Theory, MemberData(nameof(Lengths))]
    public void Lion_AllFlags(int length)
    {
        foreach (double weightDecay in new[] { 0, 0.1 })
        foreach (bool maximize in new[] { false, true })
        {
            BitExact.Check(3, length, (r, n) => SpecialValues.Floats(r, n),
                (b, i) => Lion.Step(ref b[0][i], in b[1][i], ref b[2][i], weightDecay: weightDecay, maximize: maximize),
                (b, o, n, opt) => Lion.Step(b[0].AsSpan(o, n), b[1].AsSpan(o, n), b[2].AsSpan(o, n), weightDecay: weightDecay, maximize: maximize, options: opt));
        }
    }
}
