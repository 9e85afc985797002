using System;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace Kernels.CompilerServices;

/// <summary>
/// The exception a parallel step rethrows: the one from the lowest-numbered chunk, the same the scalar rule run
/// element by element would throw first (a vector form of a throwing function, such as <c>Math.Clamp</c> with
/// <c>min &gt; max</c>, throws where its scalar form would). Rethrown as itself, not wrapped in an
/// <see cref="AggregateException"/>, so every thread count throws the same type.
/// </summary>
internal sealed class FirstFault
{
    private readonly object _gate = new();
    private int _chunk = int.MaxValue;
    private Exception? _exception;

    /// <summary>Records an exception thrown by chunk <paramref name="chunk"/>.</summary>
    public void Record(int chunk, Exception exception)
    {
        lock (_gate)
        {
            if (chunk < _chunk)
            {
                _chunk = chunk;
                _exception = exception;
            }
        }
    }

    /// <summary>Rethrows the recorded exception with its original stack trace, if any.</summary>
    public void ThrowIfAny()
    {
        Exception? exception = Volatile.Read(ref _exception);
        if (exception is not null)
            ExceptionDispatchInfo.Capture(exception).Throw();
    }
}
