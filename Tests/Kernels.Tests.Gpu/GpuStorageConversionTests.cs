using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Kernels.Gpu;
using Kernels.Precision;
using Kernels.Tests.Gpu.Harness;
using Xunit;
using Half = System.Half;

namespace Kernels.Tests.Gpu;

/// <summary>
/// <see cref="GpuStorage"/>'s conversions against the CPU's: <c>(float)h</c> and <c>(float)b</c> on all 65,536 patterns,
/// <c>(Half)f</c> and <c>(BFloat16)f</c> on a sweep of float patterns (every 509th, every low half under the boundary high
/// halves: zeros, subnormals, the fp16 subnormal and overflow thresholds, ∞ and NaN) — on the host and in a kernel on the
/// CPU accelerator; <see cref="BFloat16.RoundStochastic"/> and <see cref="RandomStream.Bits16"/> likewise (the device calls
/// the stream itself); and those kernels compiled to strict PTX with nothing external. <c>KERNELS_PRECISION_EXHAUSTIVE=1</c> sweeps
/// all 2^32 float patterns on the host.
/// </summary>
public sealed class GpuStorageConversionTests : IClassFixture<CpuAcceleratorFixture>
{
    private readonly CpuAcceleratorFixture _fixture;

    public GpuStorageConversionTests(CpuAcceleratorFixture fixture) => _fixture = fixture;

    [Fact]
    public void Every_half_widens_as_dotnet_does()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
            Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(GpuStorage.HalfToSingle((ushort)bits)));
        }
    }

    [Fact]
    public void Every_bfloat16_widens_as_the_cpu_does()
    {
        for (int bits = 0; bits <= ushort.MaxValue; bits++)
        {
            float expected = (float)BFloat16.FromBits((ushort)bits);
            Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(GpuStorage.BFloat16ToSingle((ushort)bits)));
        }
    }

    [Fact]
    public void Floats_narrow_as_the_cpu_does()
    {
        foreach (uint bits in Patterns())
            CheckNarrowing(bits);
    }

    [Fact]
    public void Floats_narrow_as_the_cpu_does_exhaustively_when_asked()
    {
        if (Environment.GetEnvironmentVariable("KERNELS_PRECISION_EXHAUSTIVE") != "1")
            return;
        uint bits = 0;
        do
        {
            CheckNarrowing(bits);
        }
        while (++bits != 0);
    }

    private static void CheckNarrowing(uint bits)
    {
        float f = BitConverter.UInt32BitsToSingle(bits);
        ushort half = BitConverter.HalfToUInt16Bits((Half)f), bf16 = ((BFloat16)f).Bits;
        if (GpuStorage.SingleToHalf(f) != half)
            Assert.Fail($"(Half)0x{bits:X8}: expected 0x{half:X4}, got 0x{GpuStorage.SingleToHalf(f):X4}.");
        if (GpuStorage.SingleToBFloat16(f) != bf16)
            Assert.Fail($"(BFloat16)0x{bits:X8}: expected 0x{bf16:X4}, got 0x{GpuStorage.SingleToBFloat16(f):X4}.");
    }

    /// <summary>Every 509th pattern, and all 65,536 low halves under the high halves where fp16 and bfloat16 change behaviour.</summary>
    internal static IEnumerable<uint> Patterns()
    {
        for (ulong bits = 0; bits <= uint.MaxValue; bits += 509)
            yield return (uint)bits;
        ushort[] highs =
        {
            0x0000, 0x0001, 0x0080, 0x0100,         // zero and float subnormals, the smallest normals
            0x3300, 0x3330, 0x337F, 0x3380,         // fp16: half the smallest subnormal (2^-25) and the smallest subnormal (2^-24)
            0x3870, 0x387F, 0x3880, 0x3881,         // fp16: the largest subnormals and the smallest normal (2^-14)
            0x3F80, 0x477F, 0x4780,                 // 1, fp16's overflow threshold (65520) and 65536
            0x7F7F, 0x7F80, 0x7F81, 0x7FC0, 0x7FFF, // bfloat16's largest finite, ∞, signalling and quiet NaNs
        };
        foreach (ushort high in highs)
        {
            for (uint low = 0; low <= ushort.MaxValue; low++)
            {
                yield return ((uint)high << 16) | low;
                yield return 0x8000_0000u | ((uint)high << 16) | low;
            }
        }
    }

    [Fact]
    public void Stochastic_rounding_is_bfloat16s()
    {
        uint[] randoms = { 0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x1_0000, 0xFFFF_FFFF, 0x1234_5678, 0xABCD_0042 };
        foreach (uint bits in Patterns().Where((_, i) => i % 3 == 0))
        {
            float f = BitConverter.UInt32BitsToSingle(bits);
            foreach (uint random in randoms)
            {
                ushort expected = BFloat16.RoundStochastic(f, random).Bits;
                if (GpuStorage.SingleToBFloat16Stochastic(f, random) != expected)
                    Assert.Fail($"RoundStochastic(0x{bits:X8}, 0x{random:X8}): expected 0x{expected:X4}, got 0x{GpuStorage.SingleToBFloat16Stochastic(f, random):X4}.");
            }
        }
    }

    // ---- On the CPU accelerator, and as PTX ------------------------------------------------------

    /// <summary>The random stream and the stochastic rounding on the device: RandomStream.Bits16 itself, as the storage kernels call it.</summary>
    internal static void StochasticKernel(Index1D index, ArrayView<float> values, ArrayView<uint> random, ArrayView<ushort> rounded, ulong seed, ulong step, ulong firstIndex)
    {
        uint bits = RandomStream.Bits16(seed, step, unchecked(firstIndex + (ulong)(int)index));
        random[index] = bits;
        rounded[index] = GpuStorage.SingleToBFloat16Stochastic(values[index], bits);
    }

    [Fact]
    public void Random_stream_and_stochastic_rounding_on_the_cpu_accelerator_are_the_cpus()
    {
        Accelerator accelerator = _fixture.Accelerator;
        float[] floats = Patterns().Where((_, i) => i % 97 == 0).Select(BitConverter.UInt32BitsToSingle).ToArray();
        using var values = accelerator.Allocate1D(floats);
        using var random = accelerator.Allocate1D<uint>(floats.Length);
        using var rounded = accelerator.Allocate1D<ushort>(floats.Length);
        var kernel = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<uint>, ArrayView<ushort>, ulong, ulong, ulong>(StochasticKernel);
        foreach (var (seed, step, first) in new[] { (42UL, 3UL, 0UL), (0xDEAD_BEEF_CAFEUL, 1UL << 40, ulong.MaxValue - 5), (7UL, ulong.MaxValue, 1UL << 33) })
        {
            kernel(floats.Length, values.View, random.View, rounded.View, seed, step, first);
            uint[] bits = random.GetAsArray1D();
            ushort[] results = rounded.GetAsArray1D();
            for (int i = 0; i < floats.Length; i++)
            {
                uint expected = RandomStream.Bits16(seed, step, unchecked(first + (ulong)i));
                Assert.Equal(expected, bits[i]);
                Assert.Equal(BFloat16.RoundStochastic(floats[i], expected).Bits, results[i]);
            }
        }
    }

    internal static void WidenKernel(Index1D index, ArrayView<ushort> bits, ArrayView<float> half, ArrayView<float> bf16)
    {
        half[index] = GpuStorage.HalfToSingle(bits[index]);
        bf16[index] = GpuStorage.BFloat16ToSingle(bits[index]);
    }

    internal static void NarrowKernel(Index1D index, ArrayView<float> values, ArrayView<ushort> half, ArrayView<ushort> bf16)
    {
        half[index] = GpuStorage.SingleToHalf(values[index]);
        bf16[index] = GpuStorage.SingleToBFloat16(values[index]);
    }

    [Fact]
    public void Kernels_on_the_cpu_accelerator_convert_as_the_cpu_does()
    {
        Accelerator accelerator = _fixture.Accelerator;
        ushort[] all = Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();
        using var bits = accelerator.Allocate1D(all);
        using var half = accelerator.Allocate1D<float>(all.Length);
        using var bf16 = accelerator.Allocate1D<float>(all.Length);
        accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<float>, ArrayView<float>>(WidenKernel)(all.Length, bits.View, half.View, bf16.View);
        float[] halves = half.GetAsArray1D(), bf16s = bf16.GetAsArray1D();
        for (int i = 0; i < all.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf(all[i])), BitConverter.SingleToUInt32Bits(halves[i]));
            Assert.Equal(BitConverter.SingleToUInt32Bits((float)BFloat16.FromBits(all[i])), BitConverter.SingleToUInt32Bits(bf16s[i]));
        }

        float[] floats = Patterns().Where((_, i) => i % 5 == 0).Select(BitConverter.UInt32BitsToSingle).ToArray();
        using var values = accelerator.Allocate1D(floats);
        using var toHalf = accelerator.Allocate1D<ushort>(floats.Length);
        using var toBf16 = accelerator.Allocate1D<ushort>(floats.Length);
        accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<ushort>, ArrayView<ushort>>(NarrowKernel)(floats.Length, values.View, toHalf.View, toBf16.View);
        ushort[] halfBits = toHalf.GetAsArray1D(), bf16Bits = toBf16.GetAsArray1D();
        for (int i = 0; i < floats.Length; i++)
        {
            if (halfBits[i] != BitConverter.HalfToUInt16Bits((Half)floats[i]) || bf16Bits[i] != ((BFloat16)floats[i]).Bits)
                Assert.Fail($"0x{BitConverter.SingleToUInt32Bits(floats[i]):X8}: fp16 0x{halfBits[i]:X4}, bf16 0x{bf16Bits[i]:X4}.");
        }
    }

    [Fact]
    public void Conversion_kernels_compile_to_self_contained_integer_ptx()
    {
        foreach (string name in new[] { nameof(WidenKernel), nameof(NarrowKernel), nameof(StochasticKernel) })
        {
            var kernel = typeof(GpuStorageConversionTests).GetMethod(name, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
            string ptx = GpuKernels.CompileToPtx(_fixture.Context, kernel, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80);
            Assert.Contains(".entry", ptx);
            Assert.DoesNotContain(".extern", ptx);
            // Integer operations and exact conversions only: no float add/sub/mul/fma a device's float mode could change.
            Assert.DoesNotMatch(new Regex(@"(?<![\w.])(add|sub|mul|fma)(\.rn)?\.f(32|64)(?![\w])"), ptx);
        }
    }
}
