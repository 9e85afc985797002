using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary>
/// Roofline twins: the loads and stores of an optimizer step with trivial arithmetic (each written buffer gets the
/// read-only gradient added), Vector512, 4 vectors per iteration. Nothing a fused step does can move fewer bytes, so
/// their time is the bandwidth limit for that access pattern on this machine.
/// </summary>
public static unsafe class Roofline
{
    /// <summary>Reads and writes <paramref name="a"/> and <paramref name="b"/> (16 bytes per element: the traffic of AdamW with 8-bit state, to within its block scales).</summary>
    public static void ReadWrite2(float* a, float* b, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 16; i += 16)
            {
                Vector512<float> x = Vector512.Load(a + i), y = Vector512.Load(b + i);
                (x + y).Store(a + i);
                (y - x).Store(b + i);
            }
        }
        for (; i < n; i++)
        {
            float x = a[i], y = b[i];
            a[i] = x + y;
            b[i] = y - x;
        }
    }

    /// <summary>Reads <paramref name="g"/>, reads and writes <paramref name="a"/> and <paramref name="b"/> (SGD with momentum, Lion, Adagrad, RMSprop: 20 bytes per element).</summary>
    public static void ReadWrite2Read1(float* a, float* b, float* g, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 64; i += 64)
            {
                Add2(a, b, g, i);
                Add2(a, b, g, i + 16);
                Add2(a, b, g, i + 32);
                Add2(a, b, g, i + 48);
            }
            for (; i <= n - 16; i += 16)
                Add2(a, b, g, i);
        }
        for (; i < n; i++)
        {
            a[i] += g[i];
            b[i] += g[i];
        }
    }

    /// <summary>Reads <paramref name="g"/>, reads and writes <paramref name="a"/>, <paramref name="b"/> and <paramref name="c"/> (AdamW without AMSGrad: 28 bytes per element).</summary>
    public static void ReadWrite3Read1(float* a, float* b, float* c, float* g, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= n - 64; i += 64)
            {
                Add3(a, b, c, g, i);
                Add3(a, b, c, g, i + 16);
                Add3(a, b, c, g, i + 32);
                Add3(a, b, c, g, i + 48);
            }
            for (; i <= n - 16; i += 16)
                Add3(a, b, c, g, i);
        }
        for (; i < n; i++)
        {
            a[i] += g[i];
            b[i] += g[i];
            c[i] += g[i];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add2(float* a, float* b, float* g, int i)
    {
        var gv = Vector512.Load(g + i);
        Vector512.Store(Vector512.Load(a + i) + gv, a + i);
        Vector512.Store(Vector512.Load(b + i) + gv, b + i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add3(float* a, float* b, float* c, float* g, int i)
    {
        var gv = Vector512.Load(g + i);
        Vector512.Store(Vector512.Load(a + i) + gv, a + i);
        Vector512.Store(Vector512.Load(b + i) + gv, b + i);
        Vector512.Store(Vector512.Load(c + i) + gv, c + i);
    }
}
