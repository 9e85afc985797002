using Kernels.Generator.Helpers;
using Kernels.Generator.Lowering;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// Maps the rule's math calls to what an ILGPU kernel calls, from the one known-functions table
/// (<see cref="KnownFunctions"/>): a function with a <see cref="KnownFunction.Gpu"/> form goes to
/// <c>Kernels.Gpu.GpuMath</c>, whose methods are the .NET functions on the host (so the CPU accelerator is
/// bit-identical) and which the runtime remaps to device forms with the same semantics — ILGPU itself has no
/// mapping for <c>FusedMultiplyAdd</c> and maps <c>Max</c>/<c>Min</c> to NaN-dropping PTX instructions.
/// The rewrite goes through the one IR walker (<see cref="Ir"/>), so a call nested in any node kind — a
/// float/double conversion included — is mapped.
/// </summary>
internal static class IlgpuKnownMethods
{
    public static EquatableArray<ElementStmt> Rewrite(EquatableArray<ElementStmt> body) =>
        Ir.Rewrite(body, static e => e is CallExpr c && KnownFunctions.Of(c.Function).Gpu is { } gpu ? c with { SourceName = gpu } : e);
}
