using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace Kernels.Tests.Gpu.Harness;

/// <summary>Accelerator copies of host arrays (float[] or double[]), handed to launchers as boxed <see cref="ArrayView{T}"/>s.</summary>
public sealed class DeviceBuffers : IDisposable
{
    private readonly MemoryBuffer[] _buffers;

    public DeviceBuffers(Accelerator accelerator, Array[] arrays)
    {
        _buffers = new MemoryBuffer[arrays.Length];
        Views = new object[arrays.Length];
        for (int i = 0; i < arrays.Length; i++)
        {
            switch (arrays[i])
            {
                case float[] f:
                {
                    var buffer = accelerator.Allocate1D(f);
                    _buffers[i] = buffer;
                    Views[i] = (ArrayView<float>)buffer.View;
                    break;
                }
                case double[] d:
                {
                    var buffer = accelerator.Allocate1D(d);
                    _buffers[i] = buffer;
                    Views[i] = (ArrayView<double>)buffer.View;
                    break;
                }
                default:
                    throw new NotSupportedException(arrays[i].GetType().ToString());
            }
        }
    }

    /// <summary>The views, boxed, in buffer order.</summary>
    public object[] Views { get; }

    /// <summary>Copies every buffer back to the host.</summary>
    public Array[] Read() => _buffers.Select(b => b switch
    {
        MemoryBuffer1D<float, Stride1D.Dense> f => (Array)f.GetAsArray1D(),
        MemoryBuffer1D<double, Stride1D.Dense> d => d.GetAsArray1D(),
        _ => throw new NotSupportedException(),
    }).ToArray();

    public void Dispose()
    {
        foreach (MemoryBuffer b in _buffers)
            b.Dispose();
    }
}

/// <summary>Bitwise comparison of float/double arrays (NaN payloads and signed zeros included).</summary>
public static class Bits
{
    public static long Of(Array a, int i) => a switch
    {
        float[] f => BitConverter.SingleToInt32Bits(f[i]),
        double[] d => BitConverter.DoubleToInt64Bits(d[i]),
        _ => throw new NotSupportedException(),
    };

    public static void Equal(Array[] expected, Array[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int b = 0; b < expected.Length; b++)
        {
            Assert.Equal(expected[b].Length, actual[b].Length);
            for (int i = 0; i < expected[b].Length; i++)
            {
                if (Of(expected[b], i) != Of(actual[b], i))
                    Assert.Fail($"{what}: buffer {b}, element {i}: expected {expected[b].GetValue(i)} (0x{Of(expected[b], i):X}), got {actual[b].GetValue(i)} (0x{Of(actual[b], i):X}).");
            }
        }
    }

    public static Array[] Clone(Array[] arrays) => arrays.Select(a => (Array)a.Clone()).ToArray();
}
