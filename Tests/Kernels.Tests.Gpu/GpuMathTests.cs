using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using Kernels.Gpu;
using Xunit;

namespace Kernels.Tests.Gpu;

/// <summary>
/// GpuMath's device forms (what CUDA and OpenCL kernels run), called on the host: bit-identical to .NET for
/// FusedMultiplyAdd (software form), Max, Min, Abs, CopySign, Clamp and Sign (NaN aside, which the host's Sign
/// rejects; NaN payloads are not compared, only NaN-ness); Exp and Log are KernelMath's in both forms.
/// </summary>
public sealed class GpuMathTests
{
    private static readonly float[] s_special =
    {
        0f, -0f, 1f, -1f, 0.5f, -2.5f, float.Epsilon, -float.Epsilon, 1e-40f, -1e-40f, float.MinValue, float.MaxValue,
        float.PositiveInfinity, float.NegativeInfinity, float.NaN, BitConverter.Int32BitsToSingle(0x7FC00123), BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00001)),
        1.17549435e-38f, 3e38f, 1e-20f, 16777217f, 0.1f, -0.1f,
    };

    private static IEnumerable<float> Randoms(int count, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            // Random bit patterns cover every exponent; mixed with ordinary magnitudes.
            yield return i % 2 == 0
                ? BitConverter.Int32BitsToSingle(random.Next() ^ (random.Next(2) << 31))
                : (float)((random.NextDouble() * 2 - 1) * Math.Pow(10, random.Next(-8, 8)));
        }
    }

    [Fact]
    public void Software_fma_is_the_correctly_rounded_fma()
    {
        var values = s_special.Concat(Randoms(200, 1)).ToArray();
        foreach (float x in values)
            foreach (float y in values.Take(60))
                foreach (float z in values.Take(40))
                    AssertSameBits(MathF.FusedMultiplyAdd(x, y, z), GpuMath.Device.SoftFusedMultiplyAdd(x, y, z), $"fma({x:R}, {y:R}, {z:R})");

        // Near-ties: products whose low bits sit right at a float rounding boundary, and cancellation.
        var random = new Random(2);
        for (int i = 0; i < 2_000_000; i++)
        {
            float x = 1 + random.Next(1 << 23) * (1f / (1 << 23));
            float y = 1 + random.Next(1 << 23) * (1f / (1 << 23));
            float z = i % 3 == 0 ? -(x * y) : (i % 3 == 1 ? BitConverter.Int32BitsToSingle(random.Next()) * 1e-30f : (float)(random.NextDouble() - 0.5) * 1e-7f);
            if (i % 5 == 0)
                x = -x;
            AssertSameBits(MathF.FusedMultiplyAdd(x, y, z), GpuMath.Device.SoftFusedMultiplyAdd(x, y, z), $"fma({x:R}, {y:R}, {z:R})");
        }
    }

    [Fact]
    public void Device_forms_match_dotnet_bit_for_bit()
    {
        var values = s_special.Concat(Randoms(300, 3)).ToArray();
        foreach (float x in values)
        {
            AssertSameBits(MathF.Abs(x), GpuMath.Device.Abs(x), $"Abs({x:R})");
            AssertSameBits(Math.Abs((double)x), GpuMath.Device.Abs((double)x), $"Abs((double){x:R})");
            if (!float.IsNaN(x))
            {
                Assert.Equal(MathF.Sign(x), GpuMath.Device.Sign(x));
                Assert.Equal(Math.Sign((double)x), GpuMath.Device.Sign((double)x));
            }
            foreach (float y in values)
            {
                AssertSameBits(MathF.Max(x, y), GpuMath.Device.Max(x, y), $"Max({x:R}, {y:R})");
                AssertSameBits(MathF.Min(x, y), GpuMath.Device.Min(x, y), $"Min({x:R}, {y:R})");
                AssertSameBits(Math.Max((double)x, y), GpuMath.Device.Max((double)x, y), $"Max((double){x:R}, {y:R})");
                AssertSameBits(Math.Min((double)x, y), GpuMath.Device.Min((double)x, y), $"Min((double){x:R}, {y:R})");
                AssertSameBits(MathF.CopySign(x, y), GpuMath.Device.CopySign(x, y), $"CopySign({x:R}, {y:R})");
                AssertSameBits(Math.CopySign((double)x, y), GpuMath.Device.CopySign((double)x, y), $"CopySign((double){x:R}, {y:R})");
                if (!(x > y))
                {
                    AssertSameBits(Math.Clamp(0.25f, x, y), GpuMath.Device.Clamp(0.25f, x, y), $"Clamp(0.25, {x:R}, {y:R})");
                    AssertSameBits(Math.Clamp(x, -1f, 1f), GpuMath.Device.Clamp(x, -1f, 1f), $"Clamp({x:R}, -1, 1)");
                }
            }
        }
    }

    [Fact]
    public void Exp_and_log_are_KernelMath_in_both_forms()
    {
        // Host and device forms are KernelMath's, bit for bit (NaN payloads included: KernelMath returns a NaN
        // input itself); KernelMathTests in Kernels.Tests measures its accuracy. Here: it stays close to .NET's.
        var random = new Random(4);
        var floats = s_special.Concat(new[] { 88.7f, 89f, -103f, -104f, -87.3f }).Concat(Randoms(200_000, 5)).ToList();
        for (int i = 0; i < 200_000; i++)
            floats.Add(BitConverter.Int32BitsToSingle(random.Next(0x7F800000))); // every positive finite float, subnormals included
        foreach (float x in floats)
        {
            foreach ((float host, float device, float kernelMath, float dotnet, string what) in new[]
            {
                (GpuMath.Exp(x), GpuMath.Device.Exp(x), KernelMath.Exp(x), MathF.Exp(x), "Exp"),
                (GpuMath.Log(x), GpuMath.Device.Log(x), KernelMath.Log(x), MathF.Log(x), "Log"),
            })
            {
                Assert.Equal(BitConverter.SingleToInt32Bits(kernelMath), BitConverter.SingleToInt32Bits(host));
                Assert.Equal(BitConverter.SingleToInt32Bits(kernelMath), BitConverter.SingleToInt32Bits(device));
                Assert.True(UlpDistance(dotnet, device) <= 1, $"{what}({x:R}): .NET {dotnet:R}, device {device:R}");
            }
        }

        for (int i = 0; i < 200_000; i++)
        {
            double x = i % 2 == 0 ? (random.NextDouble() * 2 - 1) * 745 : BitConverter.Int64BitsToDouble(random.NextInt64());
            double positive = BitConverter.Int64BitsToDouble(random.NextInt64(0x7FF0000000000000L));
            Assert.Equal(BitConverter.DoubleToInt64Bits(KernelMath.Exp(x)), BitConverter.DoubleToInt64Bits(GpuMath.Exp(x)));
            Assert.Equal(BitConverter.DoubleToInt64Bits(KernelMath.Exp(x)), BitConverter.DoubleToInt64Bits(GpuMath.Device.Exp(x)));
            Assert.Equal(BitConverter.DoubleToInt64Bits(KernelMath.Log(positive)), BitConverter.DoubleToInt64Bits(GpuMath.Log(positive)));
            Assert.Equal(BitConverter.DoubleToInt64Bits(KernelMath.Log(positive)), BitConverter.DoubleToInt64Bits(GpuMath.Device.Log(positive)));
            // Both within 1 ulp of the correctly rounded result, so at most 2 apart.
            Assert.InRange(UlpDistance(Math.Exp(x), GpuMath.Device.Exp(x)), 0, 2);
            Assert.InRange(UlpDistance(Math.Log(positive), GpuMath.Device.Log(positive)), 0, 2);
        }
    }

    private static void ExpLogKernel(Index1D i, ArrayView<float> f, ArrayView<double> d)
    {
        f[i] = GpuMath.Exp(f[i]) + GpuMath.Log(f[i]) + KernelMath.Exp(f[i]) * KernelMath.Log(f[i]);
        d[i] = GpuMath.Exp(d[i]) + GpuMath.Log(d[i]) + KernelMath.Exp(d[i]) * KernelMath.Log(d[i]);
    }

    [Fact]
    public void KernelMath_compiles_to_self_contained_ptx_without_contraction()
    {
        // The scalar KernelMath code, float and double, called directly and through GpuMath (host and device forms).
        using Context context = Context.Create(builder => builder.CPU());
        string ptx = GpuKernels.CompileToPtx(context, typeof(GpuMathTests).GetMethod(nameof(ExpLogKernel), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!,
            CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);
        Assert.Contains(".entry", ptx);
        Assert.DoesNotContain(".extern", ptx);                                                    // nothing left for CUDA to link
        Assert.DoesNotMatch(new Regex(@"(?<![\w.])(add|sub|mul)\.f(32|64)(?![\w.])"), ptx); // every add/sub/mul rounded (.rn): no contraction
        Assert.DoesNotContain("fma.", ptx);                                                       // KernelMath uses no fused multiply-add
        Assert.Contains("div.rn.f64", ptx);
    }

    // NaN payloads are not compared: .NET's depend on the CPU's instructions, a GPU's on its own (PTX
    // arithmetic returns the canonical NaN); a NaN must stay a NaN.
    private static void AssertSameBits(float expected, float actual, string what)
    {
        if (float.IsNaN(expected) && float.IsNaN(actual))
            return;
        if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(actual))
            Assert.Fail($"{what}: expected {expected:R} (0x{BitConverter.SingleToInt32Bits(expected):X8}), got {actual:R} (0x{BitConverter.SingleToInt32Bits(actual):X8})");
    }

    private static void AssertSameBits(double expected, double actual, string what)
    {
        if (double.IsNaN(expected) && double.IsNaN(actual))
            return;
        if (BitConverter.DoubleToInt64Bits(expected) != BitConverter.DoubleToInt64Bits(actual))
            Assert.Fail($"{what}: expected {expected:R}, got {actual:R}");
    }

    private static long UlpDistance(float a, float b)
    {
        if (float.IsNaN(a) || float.IsNaN(b))
            return float.IsNaN(a) && float.IsNaN(b) ? 0 : long.MaxValue;
        long ia = Ordered(BitConverter.SingleToInt32Bits(a)), ib = Ordered(BitConverter.SingleToInt32Bits(b));
        return Math.Abs(ia - ib);
        static long Ordered(int bits) => bits < 0 ? int.MinValue - (long)bits : bits;
    }

    private static long UlpDistance(double a, double b)
    {
        if (double.IsNaN(a) || double.IsNaN(b))
            return double.IsNaN(a) && double.IsNaN(b) ? 0 : long.MaxValue;
        if (a == b)
            return 0;
        long ia = BitConverter.DoubleToInt64Bits(a), ib = BitConverter.DoubleToInt64Bits(b);
        if ((ia < 0) != (ib < 0))
            return long.MaxValue;
        return Math.Abs(ia - ib);
    }
}
