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

    public static string MethodFor(Intrinsic function, bool isDouble) => function switch
    {
        Intrinsic.Sqrt => isDouble ? "global::System.Math.Sqrt" : "global::System.MathF.Sqrt",
        _ => GpuMath + "." + function,
    };

    public static EquatableArray<ElementStmt> Rewrite(EquatableArray<ElementStmt> body, bool isDouble) =>
        body.Select(s => Rewrite(s, isDouble)).ToEquatableArray();

    private static ElementStmt Rewrite(ElementStmt statement, bool isDouble) => statement switch
    {
        AssignStmt a => a with { Value = Rewrite(a.Value, isDouble) },
        UniformIfStmt u => u with { Then = Rewrite(u.Then, isDouble), Else = Rewrite(u.Else, isDouble) },
        ElementIfStmt e => e with { Condition = Rewrite(e.Condition, isDouble), Then = Rewrite(e.Then, isDouble), Else = Rewrite(e.Else, isDouble) },
        _ => statement,
    };

    private static ElementExpr Rewrite(ElementExpr expression, bool isDouble) => expression switch
    {
        CallExpr c => c with
        {
            SourceName = MethodFor(c.Function, isDouble),
            Arguments = c.Arguments.Select(a => Rewrite(a, isDouble)).ToEquatableArray(),
        },
        UnaryExpr u => u with { Operand = Rewrite(u.Operand, isDouble) },
        BinaryExpr b => b with { Left = Rewrite(b.Left, isDouble), Right = Rewrite(b.Right, isDouble) },
        SelectExpr s => s with { Condition = Rewrite(s.Condition, isDouble), WhenTrue = Rewrite(s.WhenTrue, isDouble), WhenFalse = Rewrite(s.WhenFalse, isDouble) },
        UniformSelectExpr s => s with { WhenTrue = Rewrite(s.WhenTrue, isDouble), WhenFalse = Rewrite(s.WhenFalse, isDouble) },
        _ => expression,
    };
}
