using System.Linq;
using Kernels.Generator.Helpers;
using Kernels.Generator.Model;

namespace Kernels.Generator.Emitters;

/// <summary>
/// Maps the rule's math calls to what an ILGPU kernel calls. <c>Sqrt</c> stays <c>MathF.Sqrt</c>/<c>Math.Sqrt</c>
/// (ILGPU maps it to the correctly rounded <c>sqrt.rn</c>); every other known function goes to
/// <c>Kernels.Gpu.GpuMath</c>, whose methods are the .NET functions on the host (so the CPU accelerator is
/// bit-identical) and which the runtime remaps to device forms with the same semantics — ILGPU itself has no
/// mapping for <c>FusedMultiplyAdd</c> and maps <c>Max</c>/<c>Min</c> to NaN-dropping PTX instructions.
/// The rewrite only touches <see cref="CallExpr.SourceName"/>, so the scalar printer writes the GPU body.
/// </summary>
internal static class IlgpuKnownMethods
{
    public const string GpuMath = "global::Kernels.Gpu.GpuMath";

    /// <summary>
    /// The method the kernel calls. <c>GpuMath</c> has the float and double overloads of each function, so C#
    /// resolves the call exactly as it resolved the rule's (mixed float/double rules included).
    /// </summary>
    public static string MethodFor(CallExpr call) => call.Function switch
    {
        Intrinsic.Sqrt => call.SourceName,
        _ => GpuMath + "." + call.Function,
    };

    public static EquatableArray<ElementStmt> Rewrite(EquatableArray<ElementStmt> body) =>
        body.Select(s => Rewrite(s)).ToEquatableArray();

    private static ElementStmt Rewrite(ElementStmt statement) => statement switch
    {
        AssignStmt a => a with { Value = Rewrite(a.Value) },
        UniformIfStmt u => u with { Then = Rewrite(u.Then), Else = Rewrite(u.Else) },
        ElementIfStmt e => e with { Condition = Rewrite(e.Condition), Then = Rewrite(e.Then), Else = Rewrite(e.Else) },
        _ => statement,
    };

    private static ElementExpr Rewrite(ElementExpr expression) => expression switch
    {
        CallExpr c => c with
        {
            SourceName = MethodFor(c),
            Arguments = c.Arguments.Select(a => Rewrite(a)).ToEquatableArray(),
        },
        UnaryExpr u => u with { Operand = Rewrite(u.Operand) },
        BinaryExpr b => b with { Left = Rewrite(b.Left), Right = Rewrite(b.Right) },
        SelectExpr s => s with { Condition = Rewrite(s.Condition), WhenTrue = Rewrite(s.WhenTrue), WhenFalse = Rewrite(s.WhenFalse) },
        UniformSelectExpr s => s with { WhenTrue = Rewrite(s.WhenTrue), WhenFalse = Rewrite(s.WhenFalse) },
        _ => expression,
    };
}
