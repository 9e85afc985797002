using System;
using Kernels.Precision;

namespace Kernels.Training;

/// <summary>
/// One 8-bit blockwise-quantized state buffer: a code per element and an absmax per block of
/// <see cref="BlockwiseQuantizer.BlockSize"/> (see <see cref="StateStorage.Blockwise8Bit"/>).
/// </summary>
internal sealed class QuantizedState
{
    public QuantizedState(int length, bool nonNegative)
    {
        Codes = GC.AllocateArray<byte>(length, pinned: true);
        AbsMax = new float[BlockwiseQuantizer.BlockCount(length)];
        NonNegative = nonNegative;
    }

    /// <summary>One code per element.</summary>
    public byte[] Codes { get; }

    /// <summary>One absmax per block.</summary>
    public float[] AbsMax { get; }

    /// <summary>Quantized with the unsigned map (else the signed one).</summary>
    public bool NonNegative { get; }

    public BlockwiseQuantizer Quantizer => NonNegative ? BlockwiseQuantizer.Unsigned : BlockwiseQuantizer.Signed;

    /// <summary>Bytes held: the codes and the block scales.</summary>
    public long Bytes => Codes.LongLength + sizeof(float) * (long)AbsMax.Length;

    /// <summary>Every element set to <paramref name="value"/> (quantized as a block of equal values).</summary>
    public void Fill(float value)
    {
        if (value == 0)
        {
            Codes.AsSpan().Fill(Quantizer.ZeroCode);
            Array.Clear(AbsMax);
            return;
        }
        Span<float> block = stackalloc float[BlockwiseQuantizer.BlockSize];
        block.Fill(value);
        for (int b = 0; b < AbsMax.Length; b++)
        {
            int start = b * BlockwiseQuantizer.BlockSize, length = Math.Min(BlockwiseQuantizer.BlockSize, Codes.Length - start);
            AbsMax[b] = Quantizer.QuantizeBlock(block[..length], Codes.AsSpan(start, length));
        }
    }

    /// <summary>The values the codes stand for.</summary>
    public float[] Dequantize()
    {
        var values = new float[Codes.Length];
        Quantizer.Dequantize(Codes, AbsMax, values);
        return values;
    }

    /// <summary>Quantized <paramref name="values"/>.</summary>
    public static QuantizedState From(ReadOnlySpan<float> values, bool nonNegative)
    {
        var state = new QuantizedState(values.Length, nonNegative);
        state.Quantizer.Quantize(values, state.Codes, state.AbsMax);
        return state;
    }

    /// <summary>A copy of given codes and scales (checked by the caller).</summary>
    public static QuantizedState From(byte[] codes, float[] absMax, bool nonNegative)
    {
        var state = new QuantizedState(codes.Length, nonNegative);
        codes.CopyTo(state.Codes, 0);
        absMax.CopyTo(state.AbsMax, 0);
        return state;
    }
}
