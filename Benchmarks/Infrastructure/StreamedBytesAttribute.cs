using System;

namespace Kernels.Benchmarks.Infrastructure;

/// <summary>
/// How many bytes one step moves per parameter element (every fp32 buffer read counts 4, every one written counts 4
/// more), for the effective-bandwidth column. Put on a benchmark class, or on a method whose bytes differ from its
/// class's (the precision benchmark: 16-bit and 8-bit buffers).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, Inherited = false)]
public sealed class StreamedBytesAttribute : Attribute
{
    /// <summary>Declares the bytes moved per element and the buffers behind them.</summary>
    public StreamedBytesAttribute(double bytesPerElement, string pattern)
    {
        BytesPerElement = bytesPerElement;
        Pattern = pattern;
    }

    /// <summary>Bytes read plus bytes written per element per step.</summary>
    public double BytesPerElement { get; }

    /// <summary>Which buffers are read and written, e.g. "read p,g,m,v; write p,m,v".</summary>
    public string Pattern { get; }
}
